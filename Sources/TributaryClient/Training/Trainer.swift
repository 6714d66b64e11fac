import TributaryModel

// `TrainingConfig` (what the server asks of a training step, snake_case JSON) lives in
// TributaryModel because the controller, the combiners and the clients all carry it.

extension TrainingConfig {
    /// Checks the values a trainer relies on, so a bad server config fails with a clear
    /// message instead of silently training nothing or dividing by zero.
    func check() throws(TrainerError) {
        if let bad = invalidField() { throw .invalidConfig("\(bad.field) \(bad.reason)") }
    }
}

/// The outcome of a local training step: the updated model, the number of examples it was
/// trained on (the weight in FedAvg) and free-form metrics such as `train_loss`.
public struct TrainingResult: Sendable {
    public var model: Model
    public var numExamples: Int
    public var metrics: [String: Double]

    public init(model: Model, numExamples: Int, metrics: [String: Double] = [:]) {
        self.model = model
        self.numExamples = numExamples
        self.metrics = metrics
    }
}

/// The outcome of validating a model on a client's held-out data. `numExamples` lets the
/// server form an example-weighted average of the clients' metrics (e.g. `accuracy`, `loss`).
public struct ValidationResult: Sendable, Equatable {
    public var numExamples: Int
    public var metrics: [String: Double]

    public init(numExamples: Int, metrics: [String: Double] = [:]) {
        self.numExamples = numExamples
        self.metrics = metrics
    }
}

/// Anything that can run one client's part of a round: the built-in softmax trainer, or an
/// external command (FEDn style). The client loop only sees this protocol.
public protocol Trainer: Sendable {
    /// Trains starting from `global` and returns the local model; never returns a partial
    /// result on failure — it throws instead, so nothing half-trained is ever uploaded.
    /// `global` is handed over (`consuming`): a trainer may change it in place and return it,
    /// so a client holds one copy of a large model, not two.
    func train(global: consuming Model, config: TrainingConfig, round: Int) async throws -> TrainingResult
    /// Evaluates `global` on this client's test data.
    func validate(global: Model) async throws -> ValidationResult
    /// Runs inference with `global` on this client's local data and summarises the output
    /// (a prediction session); the summary, not the raw predictions, leaves the site.
    func predict(global: Model) async throws -> ValidationResult
}

extension Trainer {
    /// Trainers without their own inference summary report their evaluation of the model.
    public func predict(global: Model) async throws -> ValidationResult {
        try await validate(global: global)
    }
}

/// Why a training or validation step failed. Messages are complete sentences that can go
/// straight into a status report to the server and a log line.
public struct TrainerError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case invalidConfig
        case invalidData
        case modelMismatch
        case commandFailed
        case timedOut
        case invalidOutput
        case noValidateCommand
        case diverged
        case io
    }

    public var kind: Kind
    public var message: String
    /// The tail of the command's standard error (external trainers only), for diagnosis.
    public var stderrTail: String?

    public init(_ kind: Kind, _ message: String, stderrTail: String? = nil) {
        self.kind = kind
        self.message = message
        self.stderrTail = stderrTail
    }

    public static func invalidConfig(_ m: String) -> Self { .init(.invalidConfig, m) }
    public static func invalidData(_ m: String) -> Self { .init(.invalidData, m) }
    public static func modelMismatch(_ m: String) -> Self { .init(.modelMismatch, m) }
    public static func io(_ m: String) -> Self { .init(.io, m) }

    public var description: String {
        let head: String
        switch kind {
        case .invalidConfig: head = "invalid training config"
        case .invalidData: head = "invalid data"
        case .modelMismatch: head = "model does not fit this trainer"
        case .commandFailed: head = "trainer command failed"
        case .timedOut: head = "trainer command timed out"
        case .invalidOutput: head = "trainer command produced invalid output"
        case .noValidateCommand: head = "cannot validate"
        case .diverged: head = "training diverged"
        case .io: head = "i/o error"
        }
        var s = "\(head): \(message)"
        if let tail = stderrTail, !tail.isEmpty {
            s += "\n--- stderr (tail) ---\n\(tail)"
        }
        return s
    }
}
