import Foundation
import Testing

/// `scripts/local-network.sh` as a user runs it: `up` prints one `name: value` line per thing to
/// connect to, FEDn's APIClient downloads every model of that network as a file `numpy.load`
/// opens (before and after a session), `down` stops every process — also for a network with no
/// clients.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct LocalNetworkTests {
    static let script = TestNetwork.repositoryRoot.appendingPathComponent("scripts/local-network.sh")

    /// Runs the script with the test build's executables (no build of its own) until its
    /// output has a line starting with `marker` (or it exits, or `timeout` passes). The script's
    /// exit cannot be waited for: the processes `up` leaves running inherit Foundation's
    /// process-monitoring descriptor, so `waitUntilExit` would wait for them too.
    func localNetwork(_ arguments: [String], in net: TestNetwork, until marker: String, timeout: Duration = .seconds(120)) async throws -> (done: Bool, output: String) {
        let output = net.directory.appendingPathComponent("local-network-\(arguments[0]).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.script.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["TRIBUTARY_BIN": TestNetwork.binDirectory.path]) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let read = { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        let done = await net.waitFor(timeout: timeout) { read().split(separator: "\n").contains { $0.hasPrefix(marker) } }
        return (done, read())
    }

    func pids(_ runDirectory: URL) -> [Int32] {
        let text = (try? String(contentsOf: runDirectory.appendingPathComponent("pids"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { $0.split(separator: " ").last.flatMap { Int32($0) } }
    }

    /// Whatever happens in a test, no process of its network outlives it.
    func stop(_ run: URL) {
        for pid in pids(run) { kill(pid, SIGKILL) }
    }

    func options(_ net: TestNetwork, run: URL, clients: Int) throws -> [String] {
        ["--run-dir", run.path, "--http-port", "\(net.httpPort)", "--port-base", "\(try Self.freePortBase())",
         "--combiners", "1", "--clients", "\(clients)"]
    }

    /// A base B for local-network.sh's nng ports (B, B+1, and B+100+2i, B+101+2i per combiner)
    /// where all of them are free now.
    static func freePortBase() throws -> Int {
        for _ in 0..<50 {
            let base = Int.random(in: 20_000...40_000)
            if [base, base + 1, base + 100, base + 101].allSatisfy(isFree) { return base }
        }
        throw POSIXError(.EADDRINUSE)
    }

    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    @Test(.enabled(if: TestNetwork.virtualenvPython("apiclient") != nil, "no .venv/apiclient with fedn==0.33.0: run scripts/setup.sh"))
    func fednAPIClientDownloadsEveryModelAsNPZ() async throws {
        let net = try TestNetwork()
        let run = net.directory.appendingPathComponent("run")
        let up = try await localNetwork(["up"] + options(net, run: run, clients: 2), in: net, until: "dashboard: ")
        defer { stop(run) }
        try #require(up.done, "up failed:\n\(up.output)")
        let lines = up.output.split(separator: "\n").map(String.init)
        let controller = try #require(lines.first { $0.hasPrefix("controller: ") }?.dropFirst("controller: ".count))
        for line in ["dashboard: \(controller)/dashboard/", "fl-framework: \(controller)/fl", "devices: \(controller)/device-api/api/v1"] {
            #expect(lines.contains(line), "no '\(line)' in:\n\(up.output)")
        }

        let check = try await net.runProgram(try #require(TestNetwork.virtualenvPython("apiclient")),
                                            [TestNetwork.repositoryRoot.appendingPathComponent("Tests/apiclient/local_network_downloads.py").path,
                                             String(controller), net.directory.path],
                                            log: "downloads", timeout: .seconds(300))
        #expect(check.finished && check.status == 0, "\(check.output)")
    }

    @Test("up --secure: mutual TLS on nng, HTTPS and tokens on the APIs; it prints admin-token and ca, with which FEDn's APIClient trains and downloads, and without which it is refused",
          .enabled(if: TestNetwork.virtualenvPython("apiclient") != nil, "no .venv/apiclient with fedn==0.33.0: run scripts/setup.sh"))
    func secureNetworkServesFEDnAPIClient() async throws {
        let net = try TestNetwork()
        let run = net.directory.appendingPathComponent("run")
        let up = try await localNetwork(["up", "--secure"] + options(net, run: run, clients: 2), in: net, until: "ca: ")
        defer { stop(run) }
        try #require(up.done, "up failed:\n\(up.output)")
        let lines = up.output.split(separator: "\n").map(String.init)
        func value(_ name: String) throws -> String { String(try #require(lines.first { $0.hasPrefix("\(name): ") }, "no \(name) line in:\n\(up.output)").dropFirst(name.count + 2)) }
        let controller = try value("controller"), token = try value("admin-token"), ca = try value("ca")
        #expect(controller == "https://127.0.0.1:\(net.httpPort)")
        #expect(FileManager.default.fileExists(atPath: ca) && !token.isEmpty)
        // Every nng hop is TLS: the combiner registered a tls+tcp:// address.
        net.caFile = ca
        net.token = token
        let combiners = (try await net.get("/api/v1/combiners/") as? [String: Any])?["result"] as? [[String: Any]] ?? []
        #expect(combiners.count == 1 && (combiners.first?["address"] as? String)?.hasPrefix("tls+tcp://") == true, "\(combiners)")
        let check = try await net.runProgram(try #require(TestNetwork.virtualenvPython("apiclient")),
                                            [TestNetwork.repositoryRoot.appendingPathComponent("Tests/apiclient/local_network_downloads.py").path,
                                             controller, net.directory.path, token, ca],
                                            log: "downloads", timeout: .seconds(300))
        #expect(check.finished && check.status == 0, "\(check.output)")
    }

    @Test func downStopsANetworkWithoutClients() async throws {
        let net = try TestNetwork()
        let run = net.directory.appendingPathComponent("run")
        let up = try await localNetwork(["up"] + options(net, run: run, clients: 0), in: net, until: "dashboard: ")
        let started = pids(run)
        defer { stop(run) }
        try #require(up.done, "up failed:\n\(up.output)")
        let down = try await localNetwork(["down", "--run-dir", run.path], in: net, until: "network in ")
        #expect(started.count == 2, "controller and one combiner: \(started)")
        #expect(down.done && down.output.contains("stopped"), "\(down.output)")
        let gone = await net.waitFor(timeout: .seconds(10)) { started.allSatisfy { kill($0, 0) != 0 } }
        #expect(gone, "processes still running after down: \(started.filter { kill($0, 0) == 0 })")
    }
}
