import Foundation

/// A small labelled image data set held as flat arrays, the shape the trainers consume
/// directly (no per-example allocations): `features` is row-major `count × featureCount`.
public struct Dataset: Sendable, Equatable {
    public var features: [Float]
    public var labels: [Int]
    public var featureCount: Int
    public var classCount: Int

    public init(features: [Float], labels: [Int], featureCount: Int, classCount: Int) {
        precondition(featureCount > 0 && features.count == labels.count * featureCount, "features do not match labels")
        self.features = features
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
    }

    public var count: Int { labels.count }

    /// The examples at `indices`, in that order. Partitions are index lists into one loaded
    /// data set, so each client materialises only its own share.
    public func subset(_ indices: [Int]) -> Dataset {
        var f: [Float] = []
        f.reserveCapacity(indices.count * featureCount)
        var l: [Int] = []
        l.reserveCapacity(indices.count)
        features.withUnsafeBufferPointer { src in
            for i in indices {
                f.append(contentsOf: src[(i * featureCount)..<((i + 1) * featureCount)])
                l.append(labels[i])
            }
        }
        return Dataset(features: f, labels: l, featureCount: featureCount, classCount: classCount)
    }
}

/// The UCI optical recognition of handwritten digits data set (8×8 images, 1,797 examples),
/// bundled with the client so a demo federation needs no download. Each CSV line holds 64
/// pixel counts 0…16 followed by the label 0…9; pixels are scaled to [0, 1] (÷16) so a fixed
/// learning rate behaves the same on every client.
public enum DigitsDataset {
    public static let featureCount = 64
    public static let classCount = 10
    static let maxPixel = 16

    /// The bundled copy of the CSV.
    public static var bundledURL: URL {
        get throws(TrainerError) {
            guard let url = Bundle.module.url(forResource: "digits", withExtension: "csv") else {
                throw .io("the bundled digits.csv resource is missing")
            }
            return url
        }
    }

    /// Loads the bundled data set, or the CSV at `url` if given.
    public static func load(from url: URL? = nil) throws(TrainerError) -> Dataset {
        let source: URL
        if let url { source = url } else { source = try bundledURL }
        let text: String
        do {
            text = try String(contentsOf: source, encoding: .utf8)
        } catch {
            throw .io("cannot read \(source.path): \(error.localizedDescription)")
        }
        return try parse(text, source: source.lastPathComponent)
    }

    /// Parses CSV text; `source` names the input in error messages. Blank lines are skipped;
    /// anything else that is not 64 integers in 0…16 plus a label in 0…9 is an error naming
    /// the (1-based) line, because silently dropping rows would skew every partition.
    public static func parse(_ text: String, source: String = "digits.csv") throws(TrainerError) -> Dataset {
        var features: [Float] = []
        var labels: [Int] = []
        features.reserveCapacity(1_800 * featureCount)
        var lineNumber = 0
        // Byte-level parsing: Character-based splitting costs ~1 s for this file even in
        // release builds, and the client loads it at every start.
        let bytes = Array(text.utf8)
        for rawLine in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            let fields = line.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            guard fields.count == featureCount + 1 else {
                throw .invalidData("\(source) line \(lineNumber): expected \(featureCount + 1) fields, found \(fields.count)")
            }
            for (column, field) in fields.enumerated() {
                guard let value = parseInt(field) else {
                    let shown = String(decoding: field.prefix(32), as: UTF8.self).trimmingCharacters(in: .whitespaces)
                    throw .invalidData("\(source) line \(lineNumber), field \(column + 1): '\(shown)' is not an integer")
                }
                if column < featureCount {
                    guard (0...maxPixel).contains(value) else {
                        throw .invalidData("\(source) line \(lineNumber), field \(column + 1): pixel \(value) is outside 0...\(maxPixel)")
                    }
                    features.append(Float(value) / Float(maxPixel))
                } else {
                    guard (0..<classCount).contains(value) else {
                        throw .invalidData("\(source) line \(lineNumber): label \(value) is outside 0...\(classCount - 1)")
                    }
                    labels.append(value)
                }
            }
        }
        guard !labels.isEmpty else { throw .invalidData("\(source) has no examples") }
        return Dataset(features: features, labels: labels, featureCount: featureCount, classCount: classCount)
    }

    /// A decimal integer with optional sign, surrounded by optional spaces or tabs.
    static func parseInt(_ field: ArraySlice<UInt8>) -> Int? {
        var f = field
        while let c = f.first, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { f.removeFirst() }
        while let c = f.last, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { f.removeLast() }
        var negative = false
        if let c = f.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
            negative = c == UInt8(ascii: "-")
            f.removeFirst()
        }
        guard !f.isEmpty, f.count <= 18 else { return nil }
        var v = 0
        for c in f {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            v = v * 10 + Int(c - UInt8(ascii: "0"))
        }
        return negative ? -v : v
    }
}
