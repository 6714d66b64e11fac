/// A participant as its neighbours see it: its id, its x-coordinate in Shamir (its 1-based place
/// in the ring) and its two public keys (raw X25519, base64 on the wire).
public struct SecAggNeighbour: Codable, Sendable, Equatable {
    public var id: String
    public var index: Int
    public var maskingKey: String
    public var sharingKey: String

    enum CodingKeys: String, CodingKey {
        case id, index, maskingKey = "masking_key", sharingKey = "sharing_key"
    }

    public init(id: String, index: Int, maskingKey: String, sharingKey: String) {
        self.id = id
        self.index = index
        self.maskingKey = maskingKey
        self.sharingKey = sharingKey
    }
}

/// The SecAgg+ neighbour graph (Bell et al. 2020, as Flower builds it): participants sorted by
/// id form a ring, 1-based; each one's neighbourhood is itself and the ⌊s/2⌋ participants on
/// each side, or everyone when the ring has at most s members. Pairwise masks and secret shares
/// exist only within a neighbourhood.
public struct Neighbourhood: Sendable {
    public let ring: [String]
    public let size: Int

    public init(participants: some Collection<String>, numShares: Int) {
        ring = participants.sorted()
        size = min(numShares, ring.count)
    }

    /// The 1-based ring place of `id`.
    public func index(of id: String) -> Int? { ring.firstIndex(of: id).map { $0 + 1 } }

    /// The ids in `id`'s neighbourhood (itself included), in ring order from it.
    public func neighbours(of id: String) -> [String] {
        guard let position = ring.firstIndex(of: id) else { return [] }
        if size >= ring.count { return ring }
        let half = size / 2
        return (-half...half).map { ring[(position + $0 + ring.count) % ring.count] }
    }
}
