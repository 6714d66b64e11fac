import Foundation
import Hummingbird
import TributaryWire
import TributaryStore

/// Client writes and views beyond the shared read routes: `POST /add` (where a client
/// learns which combiner to dial), `DELETE /{id}`, `GET /config`, `GET /{id}/attributes`.
struct ClientRoutes {
    let store: Store
    let registry: NetworkRegistry
    let configuration: ControllerConfiguration
    /// With peer authentication on, each assignment carries the client's peer token.
    let peerIssuer: PeerTokenIssuer?
    /// Deleting a client revokes its peer tokens (combiners learn it from their next heartbeat reply).
    let peerGate: PeerGate
    /// Checks that a bound client token names the client it enrols.
    let authentication: APIAuthentication?

    struct AddRequest: Decodable {
        var clientId: String
        var name: String?
        var combinerPreferred: String?
        var package: String?

        enum CodingKeys: String, CodingKey {
            case clientId = "client_id", name, combinerPreferred = "combiner_preferred", preferredCombiner = "preferred_combiner", package
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            clientId = try c.decode(String.self, forKey: .clientId)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            // FEDn's Python client sends `preferred_combiner`; its server reads `combiner_preferred`. Accept both.
            combinerPreferred = try c.decodeIfPresent(String.self, forKey: .combinerPreferred)
                ?? c.decodeIfPresent(String.self, forKey: .preferredCombiner)
            package = try c.decodeIfPresent(String.self, forKey: .package)
        }
    }

    struct AddResponse: Encodable {
        let status = "assigned"
        let clientId: String
        let combiner: String
        /// nng addresses of the assigned combiner: requests and notices.
        let combinerAddress: String
        let combinerPublishAddress: String
        let host: String
        let port: Int?
        let package: String
        let helperType = "numpyhelper"
        /// The token the client presents to its combiner (nil without peer authentication).
        var peerToken: String? = nil

        enum CodingKeys: String, CodingKey {
            case status, clientId = "client_id", combiner, combinerAddress = "combiner_address"
            case combinerPublishAddress = "combiner_publish_address", host, fqdn, port, package, helperType = "helper_type", peerToken = "peer_token"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(status, forKey: .status)
            try c.encode(clientId, forKey: .clientId)
            try c.encode(combiner, forKey: .combiner)
            try c.encode(combinerAddress, forKey: .combinerAddress)
            try c.encode(combinerPublishAddress, forKey: .combinerPublishAddress)
            try c.encode(host, forKey: .host)
            try c.encode(host, forKey: .fqdn)
            try c.encode(port, forKey: .port)
            try c.encode(package, forKey: .package)
            try c.encode(helperType, forKey: .helperType)
            try c.encodeIfPresent(peerToken, forKey: .peerToken)
        }
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.delete("/api/v1/clients/:id") { _, context in
            let id = try context.parameters.require("id")
            guard try store.delete(ClientRecord.self, id: id) else { throw APIError.unknownId(id) }
            try await PeerRevocation.revoke(id, role: .client, store: store, gate: peerGate)
            return APIResponse.message("Client deleted")
        }
        router.get("/api/v1/clients/config") { request, _ in
            var body: [String: Any] = [
                "network_id": configuration.networkId,
                "discover_host": configuration.advertiseHost ?? configuration.httpHost,
                "discover_port": configuration.httpPort,
            ]
            if try request.flag("checksum", default: true) {
                let active = try store.activePackage()
                body["checksum"] = active?.checksum ?? NSNull()
            }
            return try APIResponse.object(body)
        }
        router.get("/api/v1/clients/:id/attributes") { _, context in
            let id = try context.parameters.require("id")
            guard try store.fetch(ClientRecord.self, id: id) != nil else { throw APIError.unknownId(id) }
            return try APIResponse.object(try store.currentAttributes(clientId: id))
        }
        router.post("/api/v1/clients/add") { request, _ in
            let body = try await request.decodeJSON(AddRequest.self)
            guard !body.clientId.isEmpty, body.clientId.utf8.count <= 256 else {
                throw APIError.badRequest("field 'client_id' must be a non-empty string of at most 256 bytes")
            }
            if let authentication, let bound = try await authentication.verify(header: request.header("Authorization")).clientId, bound != body.clientId {
                throw APIError(status: .forbidden, message: "this token is bound to client '\(bound)'; it cannot add client '\(body.clientId)'")
            }
            guard let combiner = try await registry.assign(
                clientId: body.clientId, name: body.name ?? body.clientId, preferred: body.combinerPreferred, ip: nil, package: body.package)
            else {
                throw APIError(status: .serviceUnavailable, message: "No combiner is available; retry later")
            }
            let endpoint = NNGAddress(combiner.address)
            return try APIResponse.json(AddResponse(
                clientId: body.clientId, combiner: combiner.name, combinerAddress: combiner.address,
                combinerPublishAddress: combiner.publishAddress, host: endpoint.host, port: endpoint.port, package: body.package ?? "local",
                peerToken: try await peerIssuer?.issue(role: .client, name: body.clientId)))
        }
    }
}

/// Host and port of an nng URL such as `tcp://10.0.0.5:7200`, for the FEDn-style fields.
struct NNGAddress {
    let host: String
    let port: Int?

    init(_ url: String) {
        let rest = url.split(separator: "://", maxSplits: 1).last.map(String.init) ?? url
        if let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) {
            host = String(rest[..<colon])
            self.port = port
        } else {
            host = rest
            port = nil
        }
    }
}
