import AsyncHTTPClient
import Foundation
import NIOCore
import TributaryClient
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Starts the real executables (controller, combiners, clients) as separate processes on
/// free loopback ports, talks to the controller's REST API, and kills everything at the end.
final class TestNetwork: @unchecked Sendable {
    let directory: URL
    let httpPort: Int
    var controllerReply: String
    var controllerPublish: String
    /// The nng transport of every address: `tcp`, or `tls+tcp` (then pass the TLS options per process).
    var nngScheme = "tcp" {
        didSet {
            controllerReply = controllerReply.replacingOccurrences(of: "\(oldValue)://", with: "\(nngScheme)://")
            controllerPublish = controllerPublish.replacingOccurrences(of: "\(oldValue)://", with: "\(nngScheme)://")
        }
    }
    var controllerURL: URL { URL(string: "\(caFile == nil ? "http" : "https")://127.0.0.1:\(httpPort)")! }
    /// The CA of a controller serving HTTPS: REST calls here trust only it, and every process
    /// started here gets it as `$TRIBUTARY_CA`.
    var caFile: String?
    private(set) var processes: [String: Process] = [:]
    /// The REST bearer token of a controller with `--jwt-secret`: sent by `request`, and given to
    /// every process started here as `$TRIBUTARY_TOKEN`.
    var token: String?

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        httpPort = try Self.freePort()
        controllerReply = "tcp://127.0.0.1:\(try Self.freePort())"
        controllerPublish = "tcp://127.0.0.1:\(try Self.freePort())"
    }

    deinit { stopAll() }

    /// Directory holding the built executables (the test bundle's own build directory).
    static let binDirectory: URL = {
        let fromBundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: fromBundle.appendingPathComponent("tributary-controller").path) { return fromBundle }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug")
    }()

    @discardableResult
    func start(_ role: String, executable: String, arguments: [String]) throws -> Process {
        try startProgram(role, Self.binDirectory.appendingPathComponent(executable), arguments)
    }

    /// Starts any program in the background as `role`, logging to `role`.log; stopped by `stopAll`.
    @discardableResult
    func startProgram(_ role: String, _ executable: URL, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        let log = directory.appendingPathComponent("\(role).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[role] = process
        return process
    }

    func startController(heartbeat: Double = 0.5, extra: [String] = []) throws {
        try start("controller", executable: "tributary-controller", arguments: [
            "--data-dir", directory.appendingPathComponent("data").path, "--http-port", "\(httpPort)",
            "--listen", controllerReply, "--publish", controllerPublish, "--heartbeat", "\(heartbeat)",
        ] + extra)
    }

    func startCombiner(_ name: String, extra: [String] = []) throws {
        try start(name, executable: "tributary-combiner", arguments: [
            "--name", name, "--controller", controllerReply,
            // Port 0: the combiner binds a free port itself and registers the bound address, so
            // suites running in parallel cannot race for a port picked here.
            "--listen", "\(nngScheme)://127.0.0.1:0", "--publish", "\(nngScheme)://127.0.0.1:0",
        ] + extra)
    }

    func startClient(_ id: String, partition: String, extra: [String] = []) throws {
        try start(id, executable: "tributary-client", arguments: [
            "--controller", controllerURL.absoluteString, "--client-id", id, "--partition", partition,
        ] + extra)
    }

    /// Runs a short-lived executable to completion and returns its exit status.
    func runToEnd(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = Self.binDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs a short-lived executable to completion, expecting it to succeed, and returns what it
    /// printed (trimmed).
    func output(_ executable: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let process = Process()
        process.executableURL = Self.binDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)", sourceLocation: sourceLocation)
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func signal(_ role: String, _ signal: Int32) {
        if let pid = processes[role]?.processIdentifier { kill(pid, signal) }
    }

    func stopAll() {
        for process in processes.values where process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        processes = [:]
    }

    /// The tail of a process's log, for failure messages.
    func log(_ role: String) -> String {
        let text = (try? String(contentsOf: directory.appendingPathComponent("\(role).log"), encoding: .utf8)) ?? ""
        return String(text.suffix(3000))
    }

    /// This process's environment with the network's token and CA.
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        if let token { environment["TRIBUTARY_TOKEN"] = token }
        if let caFile { environment["TRIBUTARY_CA"] = caFile }
        return environment
    }

    // MARK: REST

    func request(_ method: String, _ path: String, json: Any? = nil, headers: [String: String] = [:]) async throws -> (status: Int, body: Any?) {
        var all = headers
        if json != nil { all["Content-Type"] = "application/json" }
        return try await requestRaw(method, path, body: try json.map { try JSONSerialization.data(withJSONObject: $0) }, headers: all)
    }

    /// A request with a raw body (multipart, octet-stream); the reply's JSON when it is JSON.
    func requestRaw(_ method: String, _ path: String, body: Data?, headers: [String: String] = [:]) async throws -> (status: Int, body: Any?) {
        var request = HTTPClientRequest(url: URL(string: path, relativeTo: controllerURL)!.absoluteString)
        request.method = .init(rawValue: method)
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        if let token, headers["Authorization"] == nil { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (k, v) in headers { request.headers.replaceOrAdd(name: k, value: v) }
        let ca = try caFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let response = try await TrustedHTTPClient.client(trusting: ca).execute(request, timeout: .seconds(10))
        let data = Data(try await response.body.collect(upTo: 256 << 20).readableBytesView)
        return (Int(response.status.code), try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> Any? {
        try await request("GET", path, headers: headers).body
    }

    /// Polls until `condition` holds or `timeout` passes; returns whether it held.
    func waitFor(timeout: Duration, _ condition: () async throws -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    func count(_ path: String) async throws -> Int {
        try await get(path) as? Int ?? -1
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
