/// Memory for one multi-chunk upload while its chunks arrive: allocated once at the model's
/// size, freed when the upload completes or is dropped — or handed on whole (`take()`) to
/// become an accumulator's sum or a forwarded update without a copy.
public final class StagingBuffer: @unchecked Sendable {
    private var storage: [UInt8]

    init(count: Int) {
        // Uninitialised: every byte is written by exactly one chunk before the upload completes.
        storage = [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// Where chunk bytes are written (valid until `take()`).
    var base: UnsafeMutableRawPointer? {
        storage.withUnsafeMutableBytes { $0.baseAddress }
    }

    func view(count: Int) -> UnsafeRawBufferPointer {
        storage.withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: count) }
    }

    /// Hands the bytes over; the buffer is empty afterwards (views of it are then invalid).
    public func take() -> [UInt8] {
        var out: [UInt8] = []
        swap(&out, &storage)
        return out
    }
}
