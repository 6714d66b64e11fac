import Foundation

/// How a stored record looks in a REST body: every column present (null when unset, as
/// FEDn's DTOs), flat `sender_*` / `receiver_*` columns nested into `sender` / `receiver`
/// objects, and `timestamp` for events that have a sender.
enum Presentation {
    static func object<R: Encodable>(_ record: R, columns: [String]) throws -> [String: Any] {
        let data = try APIResponse.encoder.encode(record)
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        for column in columns where object[column] == nil { object[column] = NSNull() }
        for prefix in ["sender", "receiver"] where columns.contains("\(prefix)_name") {
            var node: [String: Any] = [:]
            for field in ["name", "role", "client_id", "combiner_id"] {
                node[field] = object.removeValue(forKey: "\(prefix)_\(field)") ?? NSNull()
            }
            object[prefix] = node
        }
        if columns.contains("sender_name"), object["timestamp"] == nil { object["timestamp"] = object["committed_at"] }
        return object
    }
}
