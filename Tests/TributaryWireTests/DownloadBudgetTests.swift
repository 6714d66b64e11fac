import Testing
import Synchronization
@testable import TributaryWire

/// The download budget counts chunk replies until their receipt; the admission gate lets only
/// a few refused requests wait inside the server.
@Suite("Download budget and admission")
struct DownloadBudgetTests {
    @Test func oneReplyAlwaysFitsAndTheLimitHoldsTheRest() throws {
        let budget = DownloadBudget(limit: 100)
        try budget.acquire("a", bytes: 250)  // larger than the limit, but nothing else is out
        #expect(budget.outstandingBytes == 250)
        #expect(throws: WireError.self) { try budget.acquire("b", bytes: 10) }
        budget.release("a")
        try budget.acquire("b", bytes: 60)
        try budget.acquire("c", bytes: 40)
        #expect(budget.outstandingBytes == 100)
        #expect(throws: WireError.self) { try budget.acquire("d", bytes: 1) }
    }

    @Test func aRequestersNextChunkConfirmsItsLastOne() throws {
        let budget = DownloadBudget(limit: 100)
        try budget.acquire("a", bytes: 100)
        // "a" asking again means it has chunk 0: chunk 1 takes its place, never both.
        try budget.acquire("a", bytes: 100)
        #expect(budget.outstandingBytes == 100)
        budget.release("a")
        budget.release("a")  // a second receipt changes nothing
        #expect(budget.outstandingBytes == 0)
    }

    @Test func aSilentRequesterIsForgottenAfterTheExpiry() throws {
        let budget = DownloadBudget(limit: 100, expiry: .seconds(10))
        let start = ContinuousClock.now
        try budget.acquire("gone", bytes: 100, now: start)
        #expect(throws: WireError.self) { try budget.acquire("b", bytes: 50, now: start + .seconds(5)) }
        try budget.acquire("b", bytes: 50, now: start + .seconds(11))
        #expect(budget.outstandingBytes == 50)
    }

    @Test func busyGoesStraightBackBeyondTheWaiters() async throws {
        let gate = AdmissionGate(maxWaiters: 1)
        let room = Mutex(false)
        // The first refused request waits for room...
        let waiting = Task {
            try await gate.admit(patience: .seconds(5)) {
                guard room.withLock({ $0 }) else { throw WireError(.busy, "full") }
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        // ...the second finds the one waiting place taken and gets busy at once.
        let started = ContinuousClock.now
        await #expect(throws: WireError.self) {
            try await gate.admit(patience: .seconds(5)) { throw WireError(.busy, "full") }
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        room.withLock { $0 = true }
        gate.open()
        try await waiting.value
    }
}
