import Foundation
import Testing
import TributaryModel
@testable import TributaryClient

@Suite struct ExternalCommandTrainerTests {
    static let global = try! Model(float32: [
        (name: "dense.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
        (name: "dense.bias", shape: [2], values: [-0.5, 0.25]),
    ])

    /// A fresh working directory for one test.
    static func workDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-ext-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func trainer(_ train: String, validate: String? = nil, in dir: URL, timeout: Duration = .seconds(60)) -> ExternalCommandTrainer {
        ExternalCommandTrainer(trainCommand: train, validateCommand: validate, workDirectory: dir, timeout: timeout)
    }

    static func expectError(_ kind: TrainerError.Kind, containing text: String? = nil,
                            _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected a \(kind) error")
        } catch let e as TrainerError {
            #expect(e.kind == kind, "\(e)")
            if let text { #expect(e.description.contains(text), "\(e)") }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// Whether numpy can be imported; without it (and outside CI) the numpy test is skipped.
    static func hasNumpy() async -> Bool {
        let r = try? await ShellCommand(command: "python3 -c 'import numpy'", workingDirectory: nil, timeout: .seconds(60)).run()
        return r?.status.isSuccess == true
    }

    @Test func pythonScriptAddsOne() async throws {
        guard await Self.hasNumpy() else {
            if ProcessInfo.processInfo.environment["CI"] == nil { return }
            Issue.record("numpy is required in CI")
            return
        }
        let dir = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = """
            import json, sys
            import numpy as np
            src, dst = sys.argv[1], sys.argv[2]
            with open(src + "-metadata") as f:
                meta = json.load(f)
            assert meta["local_epochs"] == 3 and meta["batch_size"] == 8 and meta["round"] == 2, meta
            data = np.load(src)
            np.savez(dst, **{k: (data[k] + 1.0).astype(data[k].dtype) for k in data.files})
            with open(dst + "-metadata", "w") as f:
                json.dump({"num_examples": 7, "train_loss": 0.25, "note": "text", "flag": True}, f)
            """
        try script.write(to: dir.appendingPathComponent("train.py"), atomically: true, encoding: .utf8)
        let t = Self.trainer("python3 train.py {in} {out}", in: dir)
        let result = try await t.train(global: Self.global, config: TrainingConfig(localEpochs: 3, batchSize: 8), round: 2)
        #expect(result.numExamples == 7)
        #expect(result.metrics == ["train_loss": 0.25])
        #expect(result.model.spec == Self.global.spec)
        #expect(try result.model.float32s("dense.weight") == [2, 3, 4, 5, 6, 7])
        #expect(try result.model.float32s("dense.bias") == [0.5, 1.25])
    }

    @Test func copyingTrainerReturnsTheModelAndMetrics() async throws {
        let dir = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = Self.trainer(#"cp {in} {out} && echo '{"num_examples": 5, "acc": 0.5, "flag": true, "nested": {"x": 1}}' > {out}-metadata"#, in: dir)
        let result = try await t.train(global: Self.global, config: TrainingConfig(), round: 0)
        #expect(result.model == Self.global)
        #expect(result.numExamples == 5)
        #expect(result.metrics == ["acc": 0.5])
    }

    @Test func failingCommandIsAnErrorWithStderr() async throws {
        let dir = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Also records {in} so we can check the temporary directory is removed afterwards.
        let t = Self.trainer("echo {in} > inpath.txt; echo 'Traceback: boom' >&2; exit 3", in: dir)
        await Self.expectError(.commandFailed, containing: "exited with status 3") {
            _ = try await t.train(global: Self.global, config: TrainingConfig(), round: 0)
        }
        await Self.expectError(.commandFailed, containing: "Traceback: boom") {
            _ = try await t.train(global: Self.global, config: TrainingConfig(), round: 0)
        }
        let inPath = try String(contentsOf: dir.appendingPathComponent("inpath.txt"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(inPath.hasSuffix("in.npz"))
        #expect(!FileManager.default.fileExists(atPath: URL(fileURLWithPath: inPath).deletingLastPathComponent().path))
    }

    @Test func missingNumExamplesIsAnError() async throws {
        let dir = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = Self.trainer(#"cp {in} {out} && echo '{"loss": 1.0}' > {out}-metadata"#, in: dir)
        await Self.expectError(.invalidOutput, containing: "num_examples") {
            _ = try await t.train(global: Self.global, config: TrainingConfig(), round: 0)
        }
    }

    @Test func badOutputsAreErrors() async throws {
        let dir = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let commands = [
            "true",  // writes nothing
            #"echo '{"num_examples": 2}' > {out}-metadata"#,  // no model
            #"echo garbage > {out}; echo '{"num_examples": 2}' > {out}-metadata"#,  // not an npz
            "cp {in} {out}",  // no metadata
            "cp {in} {out}; echo 'not json' > {out}-metadata",
            #"cp {in} {out}; echo '{"num_examples": 0}' > {out}-metadata"#,
            #"cp {in} {out}; echo '{"num_examples": 2.5}' > {out}-metadata"#,
            #"cp {in} {out}; echo '{"num_examples": true}' > {out}-metadata"#,
            #"cp {in} {out}; echo '[1, 2]' > {out}-metadata"#,
        ]
        for c in commands {
            await Self.expectError(.invalidOutput) {
                _ = try await Self.trainer(c, in: dir).train(global: Self.global, config: TrainingConfig(), round: 0)
            }
        }
    }

    @Test func outputOfAnotherShapeIsRejected() async throws {
        let dir = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let other = try Model(float32: [(name: "dense.weight", shape: [6], values: [1, 2, 3, 4, 5, 6])])
        try NPZ.write(other, to: dir.appendingPathComponent("other.npz"))
        let t = Self.trainer(#"cp other.npz {out}; echo '{"num_examples": 2}' > {out}-metadata"#, in: dir)
        await Self.expectError(.invalidOutput, containing: "does not match") {
            _ = try await t.train(global: Self.global, config: TrainingConfig(), round: 0)
        }
    }

    @Test func timeoutKillsTheCommand() async throws {
        let dir = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = Self.trainer("echo started >&2; sleep 30", in: dir, timeout: .seconds(1))
        await Self.expectError(.timedOut, containing: "started") {
            _ = try await t.train(global: Self.global, config: TrainingConfig(), round: 0)
        }
    }

    @Test func validateReadsTheReport() async throws {
        let dir = try Self.workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = Self.trainer("false", validate: #"test -s {in} && echo '{"num_examples": 3, "accuracy": 0.75, "loss": 1}' > {out}"#, in: dir)
        let v = try await t.validate(global: Self.global)
        #expect(v == ValidationResult(numExamples: 3, metrics: ["accuracy": 0.75, "loss": 1]))

        let failing = Self.trainer("false", validate: "exit 4", in: dir)
        await Self.expectError(.commandFailed, containing: "status 4") { _ = try await failing.validate(global: Self.global) }
        let silent = Self.trainer("false", validate: "true", in: dir)
        await Self.expectError(.invalidOutput) { _ = try await silent.validate(global: Self.global) }
    }

    @Test func validateWithoutACommandIsAClearError() async throws {
        let t = Self.trainer("true", validate: nil, in: FileManager.default.temporaryDirectory)
        await Self.expectError(.noValidateCommand, containing: "no validate command") {
            _ = try await t.validate(global: Self.global)
        }
    }

    @Test func shellQuoting() {
        #expect(ShellCommand.shellQuoted("/tmp/a/in.npz") == "/tmp/a/in.npz")
        #expect(ShellCommand.shellQuoted("/tmp/a b/it's") == #"'/tmp/a b/it'\''s'"#)
    }
}
