import Testing
@testable import TributaryWire

@Suite("NNG request/reply", .timeLimit(.minutes(3)))
struct NNGRequestReplyTests {
    @Test func roundTripOneMiB() async throws {
        let (socket, url) = try NNGTest.replySocket()
        // Zero-copy echo with every byte inverted, so the reply is provably server-made.
        let server = ReplyServer(socket: socket, concurrency: 1) { request in
            for i in request.body.indices { request.body[i] = ~request.body[i] }
            return request
        }
        let serving = Task { await server.run() }
        defer { socket.close() }

        let client = try RequestClient(url: url)
        defer { client.close() }
        let size = 1 << 20
        let request = try Message(capacity: size)
        for i in 0..<size { request.body[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }

        let reply = try await client.request(request, timeout: .seconds(10))
        #expect(request.count == 0)   // relinquished to nng by the successful send
        #expect(reply.count == size)
        let body = reply.body
        var mismatches = 0
        for i in 0..<size where body[i] != ~UInt8(truncatingIfNeeded: i &* 31 &+ 7) { mismatches += 1 }
        #expect(mismatches == 0)

        socket.close()
        await serving.value
    }

    @Test func manyConcurrentRequestsThroughOneClient() async throws {
        let (socket, url) = try NNGTest.replySocket()
        let gauge = Gauge()
        let server = ReplyServer(socket: socket, concurrency: 4) { request in
            gauge.enter()
            defer { gauge.leave() }
            try? await Task.sleep(for: .milliseconds(20))
            let value = NNGTest.value(of: request)
            request.body.storeBytes(of: (value &* 2 &+ 1).littleEndian, as: UInt32.self)
            return request
        }
        let serving = Task { await server.run() }

        let client = try RequestClient(url: url)
        let count: UInt32 = 64
        let replies = try await withThrowingTaskGroup(of: (UInt32, UInt32).self) { group in
            for i in 0..<count {
                group.addTask {
                    // Generous: under the full suite, CPU-bound tests can hold both cooperative
                    // threads (2 cores) while the handlers wait their turn; nng's timer still runs.
                    let reply = try await client.request(NNGTest.message(i, size: 64), timeout: .seconds(90))
                    return (i, NNGTest.value(of: reply))
                }
            }
            var all: [UInt32: UInt32] = [:]
            for try await (i, value) in group { all[i] = value }
            return all
        }
        #expect(replies.count == Int(count))
        for i in 0..<count { #expect(replies[i] == i * 2 + 1) }
        #expect(gauge.total == Int(count))
        #expect(gauge.maximum <= 4)   // never more than `concurrency` handlers at once
        #expect(gauge.maximum >= 2)   // and requests really were served concurrently

        client.close()
        socket.close()
        await serving.value
    }

    @Test func requestTimesOutWhenNoServerListens() async throws {
        let client = try RequestClient(url: NNGTest.unusedURL())
        defer { client.close() }
        let request = try NNGTest.message(1, size: 32)
        await #expect(throws: NNGError.timedOut) {
            _ = try await client.request(request, timeout: .milliseconds(300))
        }
        #expect(request.count == 32)   // the failed send left ownership with the caller
    }

    @Test func oversizedRequestNeverReachesHandler() async throws {
        let limit = 64 * 1024
        let (socket, url) = try NNGTest.replySocket(SocketOptions(receiveMaxSize: limit))
        let gauge = Gauge()
        let largest = Gauge()   // `total` counts handler calls that saw an oversized body
        let server = ReplyServer(socket: socket, concurrency: 2) { request in
            gauge.enter()
            defer { gauge.leave() }
            if request.count > limit { largest.enter() }
            return request
        }
        let serving = Task { await server.run() }

        let client = try RequestClient(url: url)
        let big = try Message(capacity: 2 * limit)
        big.body.initializeMemory(as: UInt8.self, repeating: 0xAB)
        await #expect(throws: (any Error).self) {
            _ = try await client.request(big, timeout: .seconds(1))
        }
        #expect(largest.total == 0)

        // The server survives: a small request after the client reconnects is answered.
        var answered = false
        for _ in 0..<20 where !answered {
            do {
                let reply = try await client.request(NNGTest.message(42), timeout: .seconds(1))
                answered = NNGTest.value(of: reply) == 42
            } catch {
                continue
            }
        }
        #expect(answered)
        #expect(largest.total == 0)

        client.close()
        socket.close()
        await serving.value
    }

    @Test func closingSocketEndsReplyServer() async throws {
        let (socket, _) = try NNGTest.replySocket()
        let server = ReplyServer(socket: socket, concurrency: 4) { $0 }
        let serving = Task { await server.run() }
        try await Task.sleep(for: .milliseconds(50))
        socket.close()
        await serving.value   // returns instead of hanging
    }

    @Test func cancellingTaskEndsReplyServer() async throws {
        let (socket, _) = try NNGTest.replySocket()
        defer { socket.close() }
        let server = ReplyServer(socket: socket, concurrency: 3) { $0 }
        let serving = Task { await server.run() }
        try await Task.sleep(for: .milliseconds(50))
        serving.cancel()
        await serving.value
        #expect(!socket.closed)
    }

    @Test func requestAfterCloseFailsWithClosed() async throws {
        let client = try RequestClient(url: NNGTest.unusedURL())
        client.close()
        await #expect(throws: NNGError.closed) {
            _ = try await client.request(NNGTest.message(1), timeout: .seconds(1))
        }
    }
}
