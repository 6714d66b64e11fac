import Foundation
import Testing

/// The dashboard in a real browser: Tests/dashboard/run.sh brings up a local network with
/// scripts/local-network.sh, and Tests/dashboard/test_dashboard.py drives headless Chromium
/// (Debian's chromium + chromium-driver, Selenium from PyPI) through it — starts a session from
/// the UI, compares rounds and final accuracy with the REST API, checks the topology, kills a
/// client and watches it turn stale/offline, at desktop and phone width. Screenshots land in
/// run/dashboard/. scripts/setup.sh installs Chromium when it can; where it cannot, this test
/// is skipped with that reason.
@Suite(.serialized, .timeLimit(.minutes(8)))
struct DashboardBrowserTests {
    static let browserReady = FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
        && TestNetwork.virtualenvPython("dashboard") != nil

    @Test(.enabled(if: browserReady, "Chromium, chromedriver or .venv/dashboard (Selenium) missing: scripts/dashboard-setup.sh could not install them here"))
    func dashboardShowsTheNetworkAndDrivesASession() async throws {
        let net = try TestNetwork()
        let script = TestNetwork.repositoryRoot.appendingPathComponent("Tests/dashboard/run.sh")
        let run = try await net.runProgram(URL(fileURLWithPath: "/bin/bash"), [script.path], log: "dashboard", timeout: .seconds(420),
                                           environment: ["TRIBUTARY_BIN": TestNetwork.binDirectory.path])
        #expect(run.finished && run.status == 0, "Tests/dashboard/run.sh (exit \(run.status)):\n\(run.output)")
    }
}
