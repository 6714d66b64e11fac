import Foundation
import Hummingbird

extension Request {
    /// An integer query parameter, or nil when absent; a 400 naming it when not an integer.
    func intQuery(_ name: String, min: Int = 0) throws -> Int? {
        guard let text = query(name) else { return nil }
        guard let value = Int(text), value >= min else { throw FLError.invalid("query parameter '\(name)' must be an integer of at least \(min), got '\(text)'") }
        return value
    }
}
