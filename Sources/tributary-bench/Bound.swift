import ArgumentParser
import Foundation
import TributaryWire

/// The bytes-moved lower bound of a round: the same bytes in messages of the same size, sent
/// REQ → REP over nng on loopback (tcp) with `--streams` requests in flight and a small ack
/// per message — what moving the round's tensors costs with no protocol, bookkeeping or
/// aggregation around it. Each message is built by copying from a source buffer, as a real
/// sender's chunks are.
struct Bound: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time an nng loopback transfer of --bytes in messages of --message bytes.")
    @Option(help: "Total bytes to move, e.g. 8.8e7.") var bytes: Double
    @Option(help: "Bytes per message (a round's chunk size, or the model size if smaller).") var message: Int = 8 << 20
    @Option(help: "Requests in flight at once.") var streams: Int = 2
    @Option(help: "Timed repetitions (the median is reported).") var repeats: Int = 3
    @Option(help: "Listen address.") var url: String = "tcp://127.0.0.1:0"

    func run() async throws {
        guard bytes >= 1, message >= 1, message <= 64 << 20, streams >= 1, repeats >= 1 else {
            throw ValidationError("need --bytes ≥ 1, 1 ≤ --message ≤ 64 MiB, --streams ≥ 1, --repeats ≥ 1")
        }
        let total = Int(bytes)
        var options = SocketOptions()
        options.receiveMaxSize = message + 4096
        let socket = try Socket(.reply, options: options)
        let address = try socket.listen(url)
        let server = ReplyServer(socket: socket, concurrency: streams) { _ in
            (try? Message([0, 0, 0, 0])) ?? (try! Message(capacity: 0))
        }
        let serving = Task { await server.run() }
        defer {
            socket.close()
            serving.cancel()
        }
        let client = try RequestClient(url: address, options: options)
        defer { client.close() }
        let source = Buffer(bytes: message)
        defer { withExtendedLifetime(source) {} }
        let sizes = Self.messageSizes(total: total, message: message)

        _ = try await transfer(sizes, client: client, source: source)   // warm-up: connect, fault in buffers
        var times: [Double] = []
        for _ in 0..<repeats { times.append(try await transfer(sizes, client: client, source: source)) }
        let median = times.sorted()[times.count / 2]
        print(String(format: "bound bytes %d messages %d message_bytes %d streams %d seconds %.4f gbps %.3f", total, sizes.count, message, streams,
                     median, Double(total) / median / 1e9))
    }

    static func messageSizes(total: Int, message: Int) -> [Int] {
        var sizes = Array(repeating: message, count: total / message)
        if total % message > 0 { sizes.append(total % message) }
        return sizes
    }

    /// Sends every message with `streams` in flight; returns the wall time in seconds.
    private func transfer(_ sizes: [Int], client: RequestClient, source: Buffer) async throws -> Double {
        let start = ContinuousClock.now
        let streams = streams
        let pointer = SendablePointer(base: source.base)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<streams {
                group.addTask {
                    var i = lane
                    while i < sizes.count {
                        let request = try Message(capacity: sizes[i])
                        request.body.baseAddress!.copyMemory(from: pointer.base, byteCount: sizes[i])
                        _ = try await client.request(request, timeout: .seconds(60))
                        i += streams
                    }
                }
            }
            try await group.waitForAll()
        }
        return (ContinuousClock.now - start).seconds
    }
}

private struct SendablePointer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
}
