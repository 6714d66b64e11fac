import Foundation
import TributaryModel

/// A trainer that delegates to any program, FEDn style, so users can train with PyTorch,
/// NumPy or anything else without touching Swift. The contract is files, not APIs:
///
/// - train: the global model is written to `{in}` (`.npz`, one array per tensor) and the
///   training config as JSON to `{in}-metadata` (the `TrainingConfig` keys — `local_epochs`,
///   `batch_size`, … — plus `round`). The command must write the trained model to `{out}`
///   (`.npz` with the same tensors) and a JSON object to `{out}-metadata` holding an integer
///   `num_examples` > 0; its other numeric keys become metrics.
/// - validate: the model is written to `{in}`; the command writes a JSON object with
///   `num_examples` and metrics (e.g. `accuracy`) to `{out}`.
///
/// `{in}` and `{out}` in the command line are replaced with paths in a fresh temporary
/// directory (removed afterwards). The command runs under `/bin/sh -c` in `workDirectory`.
/// Any failure — non-zero exit, timeout, missing or malformed output — throws a
/// `TrainerError` carrying the tail of stderr; a partial result is never returned.
public struct ExternalCommandTrainer: Trainer {
    public let trainCommand: String
    public let validateCommand: String?
    public let workDirectory: URL
    public let timeout: Duration

    public init(trainCommand: String, validateCommand: String?, workDirectory: URL, timeout: Duration) {
        self.trainCommand = trainCommand
        self.validateCommand = validateCommand
        self.workDirectory = workDirectory
        self.timeout = timeout
    }

    public func train(global: consuming Model, config: TrainingConfig, round: Int) async throws -> TrainingResult {
        let dir = try Self.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.npz")
        let output = dir.appendingPathComponent("out.npz")
        try Self.writeModel(global, to: input)
        try Self.writeFile(try Self.metadataJSON(config: config, round: round), to: Self.metadataURL(input))

        let outcome = try await runChecked(trainCommand, input: input, output: output)
        let model: Model
        do {
            model = try NPZ.read(from: output)
        } catch {
            throw TrainerError(.invalidOutput, "cannot read the trained model at {out}: \(error)",
                               stderrTail: outcome.stderrTail)
        }
        let fitted = try Self.conform(model, to: global.spec, stderrTail: outcome.stderrTail)
        let meta = try Self.readReport(at: Self.metadataURL(output), what: "{out}-metadata",
                                       stderrTail: outcome.stderrTail)
        return TrainingResult(model: fitted, numExamples: meta.numExamples, metrics: meta.metrics)
    }

    public func validate(global: Model) async throws -> ValidationResult {
        guard let validateCommand else {
            throw TrainerError(.noValidateCommand, "no validate command is configured for this client")
        }
        let dir = try Self.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.npz")
        let output = dir.appendingPathComponent("validation.json")
        try Self.writeModel(global, to: input)
        let outcome = try await runChecked(validateCommand, input: input, output: output)
        let report = try Self.readReport(at: output, what: "{out}", stderrTail: outcome.stderrTail)
        return ValidationResult(numExamples: report.numExamples, metrics: report.metrics)
    }

    // MARK: - Running

    /// Substitutes the paths, runs the command and turns a timeout or non-zero exit into an
    /// error that quotes the end of stderr (where scripts print their tracebacks).
    private func runChecked(_ template: String, input: URL, output: URL) async throws(TrainerError) -> ShellCommand.Outcome {
        let line = template
            .replacingOccurrences(of: "{in}", with: ShellCommand.shellQuoted(input.path))
            .replacingOccurrences(of: "{out}", with: ShellCommand.shellQuoted(output.path))
        let outcome = try await ShellCommand(command: line, workingDirectory: workDirectory, timeout: timeout).run()
        if outcome.timedOut {
            throw TrainerError(.timedOut, "`\(template)` was killed after the \(timeout) time limit",
                               stderrTail: outcome.stderrTail)
        }
        guard outcome.status.isSuccess else {
            let how: String
            switch outcome.status {
            case .exited(let code): how = "exited with status \(code)"
            default: how = "was terminated (\(outcome.status))"
            }
            throw TrainerError(.commandFailed, "`\(template)` \(how)", stderrTail: outcome.stderrTail)
        }
        return outcome
    }

    // MARK: - Files

    /// FEDn's convention for a model's side-car file: the model path plus `-metadata`.
    static func metadataURL(_ model: URL) -> URL {
        URL(fileURLWithPath: model.path + "-metadata")
    }

    static func makeTempDirectory() throws(TrainerError) -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("tributary-trainer-\(UUID().uuidString)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create a temporary directory: \(error.localizedDescription)")
        }
        return dir
    }

    static func writeModel(_ model: Model, to url: URL) throws(TrainerError) {
        do { try NPZ.write(model, to: url) } catch { throw .io("cannot write the model to \(url.path): \(error)") }
    }

    static func writeFile(_ data: Data, to url: URL) throws(TrainerError) {
        do { try data.write(to: url) } catch { throw .io("cannot write \(url.path): \(error.localizedDescription)") }
    }

    /// The config as a JSON object plus `round`, for scripts that seed or schedule by round.
    static func metadataJSON(config: TrainingConfig, round: Int) throws(TrainerError) -> Data {
        do {
            let encoded = try JSONEncoder().encode(config)
            guard var object = try JSONSerialization.jsonObject(with: encoded) as? [String: Any] else {
                throw TrainerError.io("the training config did not encode as a JSON object")
            }
            object["round"] = round
            return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        } catch let e as TrainerError {
            throw e
        } catch {
            throw .io("cannot encode the training config: \(error)")
        }
    }

    /// Makes the command's model line up with the global model: same tensor names, dtypes and
    /// shapes (in any order — numpy dicts may reorder), re-laid out in the global order so it
    /// aggregates byte-for-byte, with no NaN or infinity in floating-point tensors.
    static func conform(_ model: Model, to spec: ModelSpec, stderrTail: String) throws(TrainerError) -> Model {
        func fail(_ reason: String) -> TrainerError {
            TrainerError(.invalidOutput, "the trained model does not match the global model: \(reason)", stderrTail: stderrTail)
        }
        guard model.spec.tensors.count == spec.tensors.count else {
            throw fail("expected \(spec.tensors.count) tensors, got \(model.spec.tensors.count)")
        }
        let offsets = model.spec.offsets
        var data: [UInt8] = []
        data.reserveCapacity(spec.totalBytes)
        for t in spec.tensors {
            guard let i = model.index(of: t.name) else { throw fail("tensor '\(t.name)' is missing") }
            let got = model.spec.tensors[i]
            guard got.dtype == t.dtype, got.shape == t.shape else {
                throw fail("tensor '\(t.name)' is \(got.dtype.rawValue) \(got.shape), expected \(t.dtype.rawValue) \(t.shape)")
            }
            let bytes = model.data[offsets[i]..<(offsets[i] + got.byteCount)]
            if t.dtype == .float32 || t.dtype == .float64 {
                let finite = bytes.withUnsafeBytes { raw -> Bool in
                    if t.dtype == .float32 {
                        return (0..<t.count).allSatisfy { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self).isFinite }
                    }
                    return (0..<t.count).allSatisfy { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self).isFinite }
                }
                guard finite else { throw fail("tensor '\(t.name)' has a NaN or infinite value") }
            }
            data.append(contentsOf: bytes)
        }
        do { return try Model(spec: spec, data: data) } catch { throw fail(error.description) }
    }

    /// Reads a JSON report (`{out}-metadata` of training, or the validation output): an object
    /// with an integer `num_examples` > 0; every other number (not boolean) is a metric.
    static func readReport(at url: URL, what: String, stderrTail: String) throws(TrainerError)
        -> (numExamples: Int, metrics: [String: Double])
    {
        func fail(_ reason: String) -> TrainerError {
            TrainerError(.invalidOutput, "\(what) (\(url.lastPathComponent)): \(reason)", stderrTail: stderrTail)
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw fail("the command did not write it") }
        let object: [String: ReportValue]
        do {
            object = try JSONDecoder().decode([String: ReportValue].self, from: data)
        } catch {
            throw fail("not a JSON object")
        }
        guard let n = object["num_examples"] else { throw fail("missing integer \"num_examples\"") }
        let count: Int
        switch n {
        case .int(let i): count = i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: count = Int(d)
        default: throw fail("\"num_examples\" must be an integer")
        }
        guard count > 0 else { throw fail("\"num_examples\" must be positive, got \(count)") }
        var metrics: [String: Double] = [:]
        for (key, value) in object where key != "num_examples" {
            switch value {
            case .int(let i): metrics[key] = Double(i)
            case .double(let d) where d.isFinite: metrics[key] = d
            default: continue
            }
        }
        return (count, metrics)
    }
}

/// One value of a JSON report, distinguishing integers, other numbers and everything else
/// (booleans must not count as numbers, which `JSONSerialization` cannot tell on Linux).
enum ReportValue: Decodable {
    case int(Int)
    case double(Double)
    case other

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if (try? c.decode(Bool.self)) != nil {
            self = .other
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else {
            self = .other
        }
    }
}
