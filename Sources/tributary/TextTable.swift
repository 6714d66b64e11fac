import Foundation

/// Human output: aligned columns, or JSON for scripts (`--json`).
enum Output {
    static func table(_ headers: [String], _ rows: [[String]]) -> String {
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { column < $0.count ? $0[column] : "" }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }

    static func json(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject(value) || value is String || value is NSNumber,
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
        else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A cell from a JSON value: strings as they are, numbers compactly, missing as "-".
    static func cell(_ value: Any?) -> String {
        switch value {
        case let s as String: s
        case let d as Double where d != d.rounded(): String(format: "%.4f", d)
        case let n as NSNumber: n.stringValue
        case let a as [Any]: "\(a.count)"
        default: "-"
        }
    }
}
