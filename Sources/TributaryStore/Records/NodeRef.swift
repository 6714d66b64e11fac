import Foundation

/// Who sent or received something (FEDn's `NodeDTO`). Records store it flat —
/// `sender_name`, `sender_role`, `sender_client_id`, `sender_combiner_id` — so SQLite can
/// filter on it; the REST facade nests those columns back into `"sender": {...}`.
public struct NodeRef: Codable, Sendable, Equatable {
    public var name: String?
    public var role: String?
    public var clientId: String?
    public var combinerId: String?

    public init(name: String? = nil, role: String? = nil, clientId: String? = nil, combinerId: String? = nil) {
        self.name = name
        self.role = role
        self.clientId = clientId
        self.combinerId = combinerId
    }

    public static func client(_ id: String, name: String? = nil) -> NodeRef { NodeRef(name: name ?? id, role: "client", clientId: id) }
    public static func combiner(_ name: String) -> NodeRef { NodeRef(name: name, role: "combiner", combinerId: name) }
    public static let controller = NodeRef(name: "controller", role: "controller")

    enum CodingKeys: String, CodingKey { case name, role, clientId = "client_id", combinerId = "combiner_id" }

    /// The flat columns of a node stored under `prefix` (`sender` or `receiver`).
    public static func columns(_ prefix: String) -> [String] {
        ["\(prefix)_name", "\(prefix)_role", "\(prefix)_client_id", "\(prefix)_combiner_id"]
    }
}

/// A record that stores its sender flat (`sender_name`, `sender_role`, …).
public protocol SenderColumns {
    var senderName: String? { get set }
    var senderRole: String? { get set }
    var senderClientId: String? { get set }
    var senderCombinerId: String? { get set }
}

/// A record that stores its receiver flat (`receiver_name`, …).
public protocol ReceiverColumns {
    var receiverName: String? { get set }
    var receiverRole: String? { get set }
    var receiverClientId: String? { get set }
    var receiverCombinerId: String? { get set }
}

extension SenderColumns {
    public var sender: NodeRef {
        get { NodeRef(name: senderName, role: senderRole, clientId: senderClientId, combinerId: senderCombinerId) }
        set { (senderName, senderRole, senderClientId, senderCombinerId) = (newValue.name, newValue.role, newValue.clientId, newValue.combinerId) }
    }
}

extension ReceiverColumns {
    public var receiver: NodeRef {
        get { NodeRef(name: receiverName, role: receiverRole, clientId: receiverClientId, combinerId: receiverCombinerId) }
        set { (receiverName, receiverRole, receiverClientId, receiverCombinerId) = (newValue.name, newValue.role, newValue.clientId, newValue.combinerId) }
    }
}

/// JSON text for a column (sorted keys, so equal values store equal text).
public func jsonText<T: Encodable>(_ value: T?) -> String? {
    guard let value else { return nil }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
}
