import TributaryModel

/// The model a tier serves chunk by chunk: in memory, or spooled to a file (`SpooledModel`)
/// when nothing else in the round needs its values.
public enum ServedModel: Sendable {
    case memory(Model)
    case spooled(SpooledModel)

    public var spec: ModelSpec {
        switch self {
        case .memory(let model): model.spec
        case .spooled(let file): file.spec
        }
    }

    /// Copies the flat bytes `range` into `buffer`.
    func copy(_ range: Range<Int>, into buffer: UnsafeMutableRawBufferPointer) throws {
        switch self {
        case .memory(let model):
            model.data.withUnsafeBytes { raw in
                buffer.baseAddress!.copyMemory(from: raw.baseAddress! + range.lowerBound, byteCount: range.count)
            }
        case .spooled(let file):
            try file.read(range, into: buffer)
        }
    }
}
