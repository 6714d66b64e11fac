import Foundation
import TributaryModel
import TributaryStore
import TributaryWire

/// The controller's part of a session's aggregation strategy (`aggregator`,
/// `aggregator_kwargs`): what a training order asks of the combiners, and how the round's
/// outcome becomes the next global model.
///
/// * Decomposable (fedavg, fedprox, fedadam, fedyogi, fedadagrad, fedavgm): combiners fold
///   weighted sums, the controller reduces the partials (`JobBoard`) into x̄ — exactly the
///   flat FedAvg. With central DP, Gaussian noise σ = z·C/m goes onto x̄ here (the combiners
///   clipped each client delta to C and weighted every update 1, so x̄ is the unweighted mean
///   over m clients that σ assumes). A server optimizer then steps once from the global x
///   towards x̄ (noise first: the step is post-processing of a DP release).
/// * Robust (fedmedian, fedtrimmedavg, krum, multikrum, bulyan): combiners forward every
///   accepted update and the rule runs here over all n of them (memory O(n × model)).
struct ServerAggregation: Sendable {
    let settings: AggregatorSettings
    /// `session_config.unweighted`: every client update weighs 1.
    var unweighted = false

    struct Output: Sendable {
        var model: Model
        /// The optimizer's state after this round's step (nil: no server optimizer).
        var optimizerState: Data?
        /// Which rule ran where, for `round_data.aggregation`.
        var description: String
        var dp: DPNoiseRecord?
        /// Client updates behind the model.
        var clients: Int
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Fills in what the combiners need: forward or sum, DP clipping, the norm bound, FedProx's μ.
    func configure(_ order: inout JobOrder) {
        order.aggregation = settings.kind.isDecomposable ? .sum : .forward
        order.clipNorm = settings.clipNorm
        order.maxUpdateNorm = settings.maxUpdateNorm
        if unweighted { order.unweighted = true }
        // Any strategy may pass μ (fedprox requires it); a kwarg wins over `training.proximal_mu`.
        if settings.proximalMu > 0 { order.config.proximalMu = settings.proximalMu }
    }

    /// The next global model from the current one (`global`) and the training job's outcome.
    /// `previousState` is the optimizer state of the session's last finished round.
    func aggregate(global: Model, outcome: JobBoard.Outcome, round: Int, previousState: Data?) throws -> Output {
        let kind = settings.kind
        guard kind.isDecomposable else { return try robust(outcome.updates, spill: outcome.spill) }
        guard var model = outcome.result.model else { throw Failure(description: "no combiner delivered a partial aggregate before the timeout") }
        let m = outcome.result.contributors.count
        var output = Output(model: model, description: "\(kind.rawValue): combiners sum, the controller reduces over \(m) client updates", clients: m)
        if let c = settings.clipNorm, let z = settings.noiseMultiplier {
            let sigma = DifferentialPrivacy.noiseStddev(noiseMultiplier: z, clipNorm: c, updateCount: m)
            // A given dp_seed is offset by the round, so rounds do not share one noise draw.
            let seed = settings.dpSeed.map { ($0 &+ UInt64(round)) & ((1 << 53) - 1) } ?? DifferentialPrivacy.drawSeed()
            model = try DifferentialPrivacy.addNoise(to: model, stddev: sigma, seed: seed)
            output.dp = DPNoiseRecord(seed: seed, sigma: sigma, updates: m, clipNorm: c, noiseMultiplier: z)
            output.description += "; DP noise σ = z·C/m at the controller"
        }
        if var optimizer = AnyServerOptimizer(settings: settings) {
            if let previousState { try optimizer.restoreState(from: previousState) }
            model = try optimizer.step(current: global, average: model)
            output.optimizerState = try optimizer.encodedState()
            output.description += "; \(kind.rawValue) server step at the controller"
        }
        output.model = model
        return output
    }

    /// A robust rule over every forwarded update, in client order (deterministic), read from
    /// the spill files a block of coordinates at a time.
    private func robust(_ forwarded: [ForwardedUpdates.Entry], spill: SpilledUpdates?) throws -> Output {
        guard !forwarded.isEmpty, let spill else { throw Failure(description: "no client update was forwarded before the timeout") }
        let entries = forwarded.sorted { $0.client < $1.client }
        let updates = UpdateSubset(spill, indices: entries.map(\.index))
        let f = settings.numMaliciousClients
        let model: Model
        switch settings.kind {
        case .fedmedian: model = try FedMedian.aggregate(updates)
        case .fedtrimmedavg: model = try FedTrimmedAvg.aggregate(updates, beta: settings.trimBeta)
        case .krum: model = try Krum.krum(updates, numMalicious: f)
        case .multikrum:
            let keep = min(settings.numClientsToKeep, updates.count)
            model = try Krum.multiKrum(updates, weights: entries.map(\.weight), numMalicious: f, numToKeep: keep)
        case .bulyan: model = try Bulyan.aggregate(updates, numMalicious: f)
        default: throw Failure(description: "\(settings.kind.rawValue) is not a robust rule")
        }
        return Output(model: model, description: "\(settings.kind.rawValue) at the controller, over \(updates.count) client updates", clients: updates.count)
    }
}
