import TributaryModel

/// Wraps a trainer and waits `delay` before each training step: a slow device on demand,
/// for straggler and chaos testing (a round stays open long enough to kill something in it).
public struct DelayedTrainer: Trainer {
    public let inner: any Trainer
    public let delay: Duration

    public init(_ inner: any Trainer, delay: Duration) {
        self.inner = inner
        self.delay = delay
    }

    public func train(global: consuming Model, config: TrainingConfig, round: Int) async throws -> TrainingResult {
        try await Task.sleep(for: delay)
        return try await inner.train(global: consume global, config: config, round: round)
    }

    public func validate(global: Model) async throws -> ValidationResult {
        try await inner.validate(global: global)
    }
}
