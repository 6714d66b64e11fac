import Foundation
import Subprocess
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a user-supplied shell command line (`/bin/sh -c`) with a hard time limit, keeping only
/// the tail of its output. Training scripts can run for a long time and print a lot; we need
/// the exit status and the last lines of stderr for the error report, never the whole log in
/// memory, and a hung script must not hang the client.
struct ShellCommand: Sendable {
    var command: String
    var workingDirectory: URL?
    var timeout: Duration
    /// Bytes kept from the end of stdout and of stderr each.
    var tailLimit: Int = 64 * 1024

    struct Outcome: Sendable {
        var status: TerminationStatus
        var timedOut: Bool
        var stdoutTail: String
        var stderrTail: String
    }

    /// Quotes `s` for `/bin/sh` unless it is made only of characters that need no quoting,
    /// so the common case (temp paths) reads naturally in logs.
    static func shellQuoted(_ s: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@%")
        if !s.isEmpty, s.allSatisfy({ safe.contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Runs the command to completion or until `timeout`. On timeout the whole process group
    /// (the shell and everything it started — it runs in its own session) gets SIGKILL, so a
    /// `python train.py` child cannot outlive the shell.
    func run() async throws(TrainerError) -> Outcome {
        let options: PlatformOptions = {
            var o = PlatformOptions()
            o.createSession = true
            // Used by swift-subprocess if our task is cancelled: TERM the group, then KILL.
            o.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(2))]
            return o
        }()
        let pid = ProcessGroupBox()
        let limit = tailLimit
        let command = command
        let workingDirectory = workingDirectory
        let timeout = timeout

        enum Event: Sendable {
            case finished(TerminationStatus, [UInt8], [UInt8])
            case timedOut
        }

        do {
            return try await withThrowingTaskGroup(of: Event.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        .path("/bin/sh"),
                        arguments: ["-c", command],
                        environment: .inherit,
                        workingDirectory: workingDirectory.map { .init($0.path) },
                        platformOptions: options,
                        input: .none,
                        output: .sequence,
                        error: .sequence
                    ) { execution in
                        pid.set(execution.processIdentifier.value)
                        async let out = Self.drainTail(execution.standardOutput, limit: limit)
                        async let err = Self.drainTail(execution.standardError, limit: limit)
                        return await (out, err)
                    }
                    let (out, err) = result.closureResult
                    return .finished(result.terminationStatus, out, err)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                }
                var timedOut = false
                while let event = try await group.next() {
                    switch event {
                    case .timedOut:
                        timedOut = true
                        if let p = pid.get() {
                            // Negative pid: the process group the shell leads (createSession).
                            _ = kill(-p, SIGKILL)
                        } else {
                            // Not spawned yet: cancellation makes swift-subprocess tear it down.
                            group.cancelAll()
                            throw TrainerError(.timedOut, "`\(command)` did not start within \(timeout)")
                        }
                    case .finished(let status, let out, let err):
                        group.cancelAll()
                        return Outcome(status: status, timedOut: timedOut,
                                       stdoutTail: Self.text(out), stderrTail: Self.text(err))
                    }
                }
                throw CancellationError()
            }
        } catch let error as TrainerError {
            throw error
        } catch is CancellationError {
            throw TrainerError(.commandFailed, "cancelled while running `\(command)`")
        } catch {
            throw TrainerError(.commandFailed, "could not run `\(command)`: \(error)")
        }
    }

    /// Reads a stream to its end, keeping only the last `limit` bytes. Read errors (the stream
    /// is cut when the process dies) just end the capture: what we have is still useful.
    static func drainTail(_ sequence: SubprocessOutputSequence, limit: Int) async -> [UInt8] {
        var tail: [UInt8] = []
        do {
            for try await buffer in sequence {
                buffer.withUnsafeBytes { tail.append(contentsOf: $0) }
                if tail.count > 2 * limit { tail.removeFirst(tail.count - limit) }
            }
        } catch {}
        if tail.count > limit { tail.removeFirst(tail.count - limit) }
        return tail
    }

    static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The spawned shell's pid, published from inside the subprocess closure to the timeout task.
private final class ProcessGroupBox: Sendable {
    private let value = Mutex<pid_t?>(nil)
    func set(_ p: pid_t) { value.withLock { $0 = p } }
    func get() -> pid_t? { value.withLock { $0 } }
}
