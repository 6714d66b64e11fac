/// Memory for one multi-chunk upload while its chunks arrive: allocated once at the model's
/// size, 64-byte aligned, freed when the upload completes or is dropped.
public final class StagingBuffer: @unchecked Sendable {
    public let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: max(count, 1), alignment: 64)
    }

    deinit { bytes.deallocate() }

    func store(_ chunk: UnsafeRawBufferPointer, at offset: Int) {
        guard !chunk.isEmpty else { return }
        bytes.baseAddress!.advanced(by: offset).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count)
    }

    func view(count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes.baseAddress, count: count)
    }
}
