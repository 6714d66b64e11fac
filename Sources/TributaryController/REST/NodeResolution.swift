import Foundation
import TributaryStore

/// The `sender` of a posted status, attribute or telemetry reading, resolved against the
/// network: a `client_id` must be a known client, a `combiner_id` a known combiner (by id
/// or name). A 400 names what did not resolve.
struct NodeResolution {
    let store: Store

    func sender(_ value: Any?, required: Bool) throws -> NodeRef {
        guard let object = value as? [String: Any] else {
            if value == nil || value is NSNull, !required { return NodeRef() }
            throw APIError.badRequest(value == nil ? "missing field 'sender'" : "field 'sender' must be an object")
        }
        if let clientId = try object.string("client_id") {
            guard let client = try store.fetch(ClientRecord.self, id: clientId) else {
                throw APIError.badRequest("field 'sender.client_id': no client \(clientId)")
            }
            return NodeRef(name: client.name, role: "client", clientId: clientId)
        }
        if let combinerId = try object.string("combiner_id") {
            guard let combiner = try store.fetch(CombinerRecord.self, id: combinerId) ?? store.fetchAll(CombinerRecord.self, where: "name", equals: combinerId).first else {
                throw APIError.badRequest("field 'sender.combiner_id': no combiner \(combinerId)")
            }
            return NodeRef(name: combiner.name, role: "combiner", combinerId: combiner.combinerId)
        }
        let node = NodeRef(name: try object.string("name"), role: try object.string("role"))
        if required, node.name == nil { throw APIError.badRequest("field 'sender' needs client_id, combiner_id or name") }
        return node
    }
}
