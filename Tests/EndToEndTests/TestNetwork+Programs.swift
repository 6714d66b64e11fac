import Foundation

/// Programs the end-to-end tests run beside the network (Python peers, test scripts): peers' clients and oracles,
/// each from its own git-ignored virtualenv under `.venv/` (made by scripts/setup.sh).
extension TestNetwork {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `.venv/NAME/bin/python`, or nil when that virtualenv was not made.
    static func virtualenvPython(_ name: String) -> URL? {
        let python = repositoryRoot.appendingPathComponent(".venv/\(name)/bin/python")
        return FileManager.default.isExecutableFile(atPath: python.path) ? python : nil
    }

    /// Runs a program (a Python peer, a test script) to its end (or `timeout`, a guard against a hung peer, not a
    /// timing check), its output to a log file in the run directory so a chatty run cannot
    /// block on a full pipe. Returns whether it finished, its exit status and its output.
    func runProgram(_ executable: URL, _ arguments: [String], log name: String, timeout: Duration,
                    environment extra: [String: String] = [:]) async throws -> (finished: Bool, status: Int32, output: String) {
        let output = directory.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        if !extra.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 } }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let finished = await waitFor(timeout: timeout) { !process.isRunning }
        if !finished { process.terminate() }
        process.waitUntilExit()
        try handle.close()
        return (finished, process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }
}
