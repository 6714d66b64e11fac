/// Why a SecAgg+ call was refused: the stage it came in (`outOfOrder`), what it sent
/// (`invalid`), or the cohort (`failed`). Nothing of a refused call is kept.
public struct SecAggError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case invalid, outOfOrder, unknownParticipant, duplicate, failed
        /// The server has no room for this now; the same call may succeed later.
        case busy
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
