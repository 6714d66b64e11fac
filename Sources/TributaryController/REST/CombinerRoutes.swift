import Foundation
import GRDB
import Hummingbird
import TributaryWire
import TributaryStore

/// Combiner writes beyond the shared read routes: `PATCH` and `DELETE /{id}`, and
/// `POST /clients/count` (online clients per combiner).
struct CombinerRoutes {
    let store: Store
    let registry: NetworkRegistry
    let resource: Resource<CombinerRecord>
    /// Deleting a combiner revokes its peer tokens.
    let peerGate: PeerGate

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("/api/v1/combiners/clients/count") { request, _ in
            let body = try await request.bodyObject()
            guard let list = try body.string("combiners", required: true) else { throw APIError.badRequest("missing field 'combiners'") }
            let keys = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let result = try keys.map { key -> [String: Any] in
                // By id or by name: FEDn's clients record the combiner's name.
                let combiner = try store.fetch(CombinerRecord.self, id: key) ?? store.fetchAll(CombinerRecord.self, where: "name", equals: key).first
                let name = combiner?.name ?? key
                let count = try store.database.read { db in
                    try ClientRecord.filter(Column("combiner") == name && Column("status") == PeerStatus.online.rawValue).fetchCount(db)
                }
                return ["combiner": name, "combiner_id": combiner?.combinerId ?? key, "count": count, "client_count": count]
            }
            return try APIResponse.object(["result": result])
        }
        router.patch("/api/v1/combiners/:id") { request, context in
            let record = try resource.fetch(try context.parameters.require("id"), in: store)
            let body = try await request.bodyObject()
            try body.onlyKeys(["internal_hostname", "public_hostname"])
            guard !body.isEmpty else { throw APIError.badRequest("body must set internal_hostname or public_hostname") }
            let internalName: String?? = body["internal_hostname"] == nil ? .none : .some(try body.string("internal_hostname"))
            let publicName: String?? = body["public_hostname"] == nil ? .none : .some(try body.string("public_hostname"))
            let updated = try await registry.setHostnames(of: record, internal: internalName, public: publicName)
            return try APIResponse.object(resource.present(updated))
        }
        router.delete("/api/v1/combiners/:id") { _, context in
            let record = try resource.fetch(try context.parameters.require("id"), in: store)
            try await registry.forget(record)
            try await PeerRevocation.revoke(record.name, role: .combiner, store: store, gate: peerGate)
            return APIResponse.message("Combiner deleted")
        }
    }

    /// FEDn's derived combiner fields: `ip`, `fqdn`, `port` from its nng address.
    static let extend: @Sendable (CombinerRecord, inout [String: Any]) -> Void = { record, object in
        let endpoint = NNGAddress(record.address)
        object["ip"] = endpoint.host
        object["fqdn"] = record.publicHostname ?? endpoint.host
        object["port"] = endpoint.port ?? NSNull()
        object["parent"] = "controller"
    }
}
