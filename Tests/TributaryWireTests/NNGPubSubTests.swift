import Synchronization
import Testing
@testable import TributaryWire

@Suite("NNG publish/subscribe", .timeLimit(.minutes(1)))
struct NNGPubSubTests {
    @Test func deliversOnceSubscriberIsConnected() async throws {
        let publisher = try Publisher(listen: NNGTest.loopback)
        defer { publisher.close() }
        #expect(!publisher.url.hasSuffix(":0"))
        let subscriber = try Subscriber(dial: publisher.url)

        let received = Mutex(false)
        let receiving = Task { () -> UInt32? in
            for await message in subscriber.messages {
                received.withLock { $0 = true }
                return NNGTest.value(of: message)
            }
            return nil
        }
        // Slow joiner: publishes before the pipe is up are lost, so repeat until one arrives.
        for _ in 0..<200 {
            if received.withLock({ $0 }) { break }
            try publisher.publish(NNGTest.message(77, size: 16))
            try await Task.sleep(for: .milliseconds(25))
        }
        subscriber.close()   // ends the stream even if nothing arrived, so the task finishes
        let value = await receiving.value
        #expect(value == 77)
    }

    @Test func closeEndsMessageStream() async throws {
        let subscriber = try Subscriber(dial: NNGTest.unusedURL())
        let draining = Task { () -> Int in
            var count = 0
            for await _ in subscriber.messages { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(20))
        subscriber.close()
        subscriber.close()   // idempotent
        #expect(await draining.value == 0)
        #expect(subscriber.socket.closed)
    }
}
