import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// The one REST call a client makes: `POST /api/v1/clients/add`, which says which combiner
/// to dial. Needs no ingress port on the client. Over HTTPS it trusts the system's roots, or
/// only the network's CA when one is configured (a private PKI from `tributary pki`).
struct ControllerAPI: Sendable {
    struct Assignment: Decodable, Sendable {
        var combiner: String
        var combinerAddress: String
        var combinerPublishAddress: String
        /// This client's peer token for its combiner, when the network requires peer tokens.
        var peerToken: String?
        enum CodingKeys: String, CodingKey {
            case combiner, combinerAddress = "combiner_address", combinerPublishAddress = "combiner_publish_address", peerToken = "peer_token"
        }
    }

    struct APIFailure: Error, CustomStringConvertible {
        let status: Int
        let message: String
        var description: String { "controller answered \(status): \(message)" }
    }

    let baseURL: URL
    /// Bearer token (role client or admin) when the controller requires one.
    var token: String? = nil
    /// PEM of the CA that signed the controller's HTTPS certificate (nil: the system's roots).
    var caPEM: String? = nil

    func addClient(id: String, name: String, preferredCombiner: String?) async throws -> Assignment {
        var request = HTTPClientRequest(url: baseURL.appendingPathComponent("api/v1/clients/add").absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        var body: [String: String] = ["client_id": id, "name": name, "package": "local"]
        if let preferredCombiner { body["combiner_preferred"] = preferredCombiner }
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await TrustedHTTPClient.client(trusting: caPEM).execute(request, timeout: .seconds(15))
        let data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        let status = Int(response.status.code)
        guard status == 200 else {
            let message = (try? JSONDecoder().decode([String: String].self, from: data))?["message"] ?? String(decoding: data.prefix(200), as: UTF8.self)
            throw APIFailure(status: status, message: message)
        }
        return try JSONDecoder().decode(Assignment.self, from: data)
    }
}
