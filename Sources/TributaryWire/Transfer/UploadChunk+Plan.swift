import TributaryModel

extension UploadChunk {
    /// This header for each chunk of `model` under `chunkSize`'s plan (index, count, offset and
    /// the update checksum combined from the chunks' filled in), with the byte range each chunk
    /// carries — what an in-process tier feeds a `JobCollector`, chunk by chunk, as the wire would.
    public func chunks(of model: Model, chunkSize: Int) -> [(UploadChunk, Range<Int>)] {
        let plan = ChunkPlan(spec: model.spec, chunkSize: chunkSize)
        let checksum = String(model.chunkChecksums(chunkSize: chunkSize).update, radix: 16)
        return plan.chunks.enumerated().map { index, range in
            var meta = self
            (meta.index, meta.chunkCount, meta.offset, meta.checksum) = (index, plan.chunks.count, range.lowerBound, checksum)
            return (meta, range)
        }
    }
}

extension Model {
    /// The bytes of `range` of the flat data, for a body that throws `WireError` (the slice's
    /// own `withUnsafeBytes` rethrows untyped).
    public func withBytes<T>(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws(WireError) -> T) throws(WireError) -> T {
        var result: Result<T, WireError>?
        data[range].withUnsafeBytes { raw in result = Result { () throws(WireError) in try body(raw) } }
        return try result!.get()
    }
}
