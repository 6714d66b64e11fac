import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// End-to-end: SIGTERM stops every executable cleanly, and a combiner that leaves says so.
@Suite(.serialized) struct ShutdownTests {
    @Test func sigtermStopsEveryRoleCleanlyAndALeavingCombinerIsOfflineAtOnce() async throws {
        let net = try TestNetwork()
        defer { net.stopAll() }
        // Slow heartbeats: only the leave message can make the combiner offline quickly.
        try net.startController(heartbeat: 30)
        try await net.waitHealthy()
        try net.startCombiner("combiner-0")
        try await net.waitOnline(combiners: 1)
        try net.startClient("client-0", partition: "0/1")
        let joined = await net.waitFor(timeout: .seconds(30)) {
            (try await net.get("/api/v1/clients/client-0") as? [String: Any])?["combiner"] as? String == "combiner-0"
        }
        try #require(joined)

        for role in ["client-0", "combiner-0"] {
            let process = try #require(net.processes[role])
            net.signal(role, SIGTERM)
            let exited = await net.waitFor(timeout: .seconds(10)) { !process.isRunning }
            #expect(exited, "\(role) did not stop on SIGTERM:\n\(net.log(role))")
            #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(role) exit \(process.terminationStatus)")
        }
        // Heartbeats are 30 s apart, so only the leave message explains this.
        #expect(try await net.count("/api/v1/combiners/count?status=offline") == 1)

        let controller = try #require(net.processes["controller"])
        net.signal("controller", SIGINT)
        let exited = await net.waitFor(timeout: .seconds(10)) { !controller.isRunning }
        #expect(exited, "controller did not stop on SIGINT")
        #expect(controller.terminationStatus == 0)
    }
}
