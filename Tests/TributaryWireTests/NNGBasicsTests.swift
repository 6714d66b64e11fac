import CNNG
import Testing
@testable import TributaryWire

@Suite("NNG basics")
struct NNGBasicsTests {
    @Test func errorCodesAndDescription() {
        #expect(NNGError.timedOut.code == 5)
        #expect(NNGError.closed.code == 7)
        #expect(NNGError.timedOut == NNGError(5))
        #expect(NNGError.timedOut.description.contains("(nng error 5)"))
        #expect(NNGError.timedOut.description.lowercased().contains("timed out"))
    }

    @Test func messageCopiesBytesAndRelinquishes() throws {
        let bytes: [UInt8] = [1, 2, 3, 4, 5]
        let message = try bytes.withUnsafeBytes { raw in try Message(bytes: raw) }
        #expect(message.count == 5)
        #expect(message.bytes == bytes)
        message.body[0] = 9
        #expect(message.bytes.first == 9)

        let pointer = try #require(message.relinquish())
        #expect(message.count == 0)
        #expect(message.body.isEmpty)
        #expect(message.relinquish() == nil)
        let adopted = Message(taking: pointer)   // frees it on deinit: no leak
        #expect(adopted.count == 5)
    }

    @Test func emptyMessage() throws {
        let message = try Message(capacity: 0)
        #expect(message.count == 0)
        #expect(message.bytes.isEmpty)
        let copied = try Message([UInt8]())
        #expect(copied.count == 0)
    }

    @Test func durationToMilliseconds() {
        #expect(nngMilliseconds(nil) == NNG_DURATION_INFINITE)
        #expect(nngMilliseconds(.zero) == 0)
        #expect(nngMilliseconds(.milliseconds(-5)) == 0)
        #expect(nngMilliseconds(.milliseconds(250)) == 250)
        #expect(nngMilliseconds(.seconds(3)) == 3000)
        #expect(nngMilliseconds(.microseconds(1)) == 1)        // rounds up, never "immediate"
        #expect(nngMilliseconds(.microseconds(1500)) == 2)
        #expect(nngMilliseconds(.seconds(Int64.max / 2)) == Int32.max)
    }

    @Test func listenReportsRealPort() throws {
        let (socket, url) = try NNGTest.replySocket()
        defer { socket.close() }
        #expect(url.hasPrefix("tcp://127.0.0.1:"))
        let port = try #require(Int(url.split(separator: ":").last ?? ""))
        #expect(port > 0)
        socket.close()
        socket.close()   // idempotent
        #expect(socket.closed)
    }

    @Test func urlPortRewriting() {
        #expect(URLPort.replacingPort(in: "tcp://127.0.0.1:0", with: 4242) == "tcp://127.0.0.1:4242")
        #expect(URLPort.replacingPort(in: "tcp://[::1]:0", with: 7) == "tcp://[::1]:7")
        #expect(URLPort.replacingPort(in: "ws://host:0/path", with: 80) == "ws://host:80/path")
        #expect(URLPort.replacingPort(in: "ipc:///tmp/x.sock", with: 1) == nil)
    }

    @Test func publishAfterCloseKeepsMessage() throws {
        let publisher = try Publisher(listen: NNGTest.loopback)
        publisher.close()
        let message = try NNGTest.message(7, size: 16)
        #expect(throws: NNGError.closed) { try publisher.publish(message) }
        #expect(message.count == 16)   // still owned, freed by its deinit (no double free)
    }
}
