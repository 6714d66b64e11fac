import TributaryModel

/// Which transfers ask for room first (upload slots, the download budget) and which just go.
///
/// Room is asked for so that memory does not grow with the number of clients: without it, N
/// clients downloading or uploading a model of several MB at once put N copies in nng's
/// buffers. For models of a few tens of KB the arithmetic turns over: nng's own per-connection
/// buffers already cost more than one message per client, and asking costs more than the
/// bytes — measured with 10,000 clients of a 40 KB model on two combiners: rounds finished in
/// 8.2 s without asking; with slots and a download budget of 4 MiB (about 100 in flight) the
/// other 4,900 clients per combiner, polling for room, kept both cores busy refusing them and
/// rounds ended with a third to two thirds of the updates. So transfers below `smallBytes`
/// are neither reserved nor counted.
public enum FlowControl {
    /// Messages at least this large ask for room.
    public static let smallBytes = 64 << 10

    /// Whether an update of `totalBytes` asks for an upload slot before its chunks.
    public static func reservesUploadSlot(totalBytes: Int) -> Bool {
        totalBytes >= smallBytes
    }

    /// The bytes one chunk reply of this download counts against the server's download
    /// budget — the chunk size cut to the model (a chunk is at most either) — or nil when
    /// replies this small are not counted (and the download needs no `modelReceived`).
    public static func countedChunkBytes(chunkSize: Int, totalBytes: Int) -> Int? {
        let bytes = min(max(chunkSize, ChunkPlan.smallestAllowedChunkSize), totalBytes)
        return bytes >= smallBytes ? bytes : nil
    }
}
