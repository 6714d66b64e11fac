import Foundation
import TributaryStore
import TributaryWire

/// Removing a peer from the network revokes its peer tokens at once: recorded in the store
/// (so it survives a restart) and in the controller's gate; combiners get client revocations
/// in their heartbeat replies. A token issued later (a re-added client) is valid again.
enum PeerRevocation {
    static func revoke(_ name: String, role: PeerRole, store: Store, gate: PeerGate) async throws {
        guard await gate.isOn else { return }
        let now = Date()
        try store.revokePeer(role: role.rawValue, name: name, at: now)
        await gate.revoke(name, role: role, at: now)
    }
}
