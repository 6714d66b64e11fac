/// Every message kind of wire protocol v1. Requests and their replies are paired; notices go
/// over PUB/SUB and only say "something is waiting" — the receiver pulls the truth over REQ/REP.
public enum MessageKind: UInt16, Sendable, CaseIterable {
    // Generic replies.
    case error = 1
    case ack = 2

    // Combiner → controller.
    case combinerRegister = 10
    case combinerRegistered = 11
    case combinerHeartbeat = 12
    case combinerHeartbeatReply = 13
    case submitPartial = 14          // chunked partial aggregate (payload), reply: uploadReceipt
    case submitJobReport = 15        // validation metrics or a failure, reply: ack
    case combinerLeave = 16          // a combiner shutting down, reply: ack
    case forwardUpdate = 17          // chunked client update forwarded for a robust rule (payload), reply: uploadReceipt

    // Client → combiner.
    case clientRegister = 20
    case clientRegistered = 21
    case clientHeartbeat = 22
    case clientHeartbeatReply = 23
    case submitUpdate = 24           // chunked client update (payload), reply: uploadReceipt
    case submitValidation = 25       // validation metrics, reply: ack
    case taskFailed = 26             // the client could not do its task, reply: ack
    case requestUploadSlot = 27      // room for one update before its chunks are sent, reply: ack (or busy)

    // Model download, served by the controller (to combiners) and by combiners (to clients).
    case getModelInfo = 30
    case modelInfo = 31
    case getModelChunk = 32
    case modelChunk = 33             // payload
    case modelReceived = 34          // the requester has every chunk (frees its download budget), reply: ack

    case uploadReceipt = 40

    // Secure aggregation (SecAgg+), client → combiner; every reply is a secaggState.
    case secaggKeys = 60             // stage 0: public keys
    case secaggBundles = 61          // stage 1: encrypted share bundles, one per neighbour
    case secaggMasked = 62           // stage 2: the masked vector (payload, u32 little-endian)
    case secaggUnmask = 63           // stage 3: seed shares of survivors, key shares of the dropped
    case secaggPoll = 64             // what the current stage holds for this client
    case secaggState = 65

    // PUB notices.
    case roundNotice = 50            // controller → combiners
    case taskNotice = 51             // combiner → clients
}

extension MessageKind {
    /// Upload chunks: `Frame.decode` leaves their payload checksum to the receiver's
    /// `UploadAssembler`, which checks it while validating and staging the bytes in one pass
    /// (every other kind's payload is checked at decode).
    public var checksInIngest: Bool {
        self == .submitUpdate || self == .submitPartial || self == .forwardUpdate
    }
}
