/// Krum and Multi-Krum (Blanchard et al. 2017), as Flower 1.42's `select_multikrum`
/// (`flwr/serverapp/strategy/multikrum.py`) selects.
///
/// With n updates, f assumed Byzantine and d_ij = ‖x_i − x_j‖² (over all float coordinates;
/// the same for models or for deltas from the global model):
///
///     c       = max(1, n − f − 2)                       (Flower's clamp; at most n − 1)
///     s(i)    = Σ_{j ∈ N_c(i)} d_ij                     N_c(i) = the c nearest others of i
///     Krum    = x_{argmin_i s(i)}
///     MultiKrum(m) = Σ_{i∈S} w_i·x_i / Σ_{i∈S} w_i     S = the m lowest-score updates
///
/// Multi-Krum weights the selected updates by example count, as Flower does (it passes them
/// to its weighted `aggregate_arrayrecords`); with all weights equal it is the paper's plain
/// mean. m defaults to 1 as Flower's `num_nodes_to_select` does (so Multi-Krum with no kwargs
/// is Krum); the paper's choice is m = n − f. Ties in score go to the lower index. Like
/// Flower, no n ≥ 2f + 3 check.
///
/// Not decomposable: traffic n × model into the controller, time O(n² · P). The distances are
/// summed a block of coordinates at a time (`UpdateSet`), so with spilled updates the memory is
/// O(model + n × block) plus the n × n distance matrix.
public enum Krum {
    /// Each update's Krum score s(i).
    public static func scores(_ updates: [Model], numMalicious f: Int) throws(StrategyError) -> [Double] {
        try scores(ModelList(updates), numMalicious: f)
    }

    public static func scores(_ updates: some UpdateSet, numMalicious f: Int) throws(StrategyError) -> [Double] {
        guard f >= 0 else { throw .invalidParameter("num_malicious_clients \(f) is negative") }
        return scores(distances: try pairwiseSquaredDistances(updates), numMalicious: f)
    }

    /// Scores from the matrix of squared distances d (of the updates being scored).
    static func scores(distances d: [[Double]], numMalicious f: Int) -> [Double] {
        let n = d.count
        guard n > 1 else { return [0] }
        let c = min(n - 1, max(1, n - f - 2))
        return (0..<n).map { i in
            var others = d[i]
            others.remove(at: i)
            others.sort()
            return others.prefix(c).reduce(0, +)
        }
    }

    /// Indices of the `count` lowest-score updates, best first.
    public static func select(_ updates: [Model], numMalicious f: Int, count: Int) throws(StrategyError) -> [Int] {
        try select(ModelList(updates), numMalicious: f, count: count)
    }

    public static func select(_ updates: some UpdateSet, numMalicious f: Int, count: Int) throws(StrategyError) -> [Int] {
        guard f >= 0 else { throw .invalidParameter("num_malicious_clients \(f) is negative") }
        return try select(distances: pairwiseSquaredDistances(updates), numMalicious: f, count: count)
    }

    static func select(distances d: [[Double]], numMalicious f: Int, count: Int) throws(StrategyError) -> [Int] {
        let s = scores(distances: d, numMalicious: f)
        guard count >= 1, count <= d.count else {
            throw .invalidParameter("cannot keep \(count) of \(d.count) updates")
        }
        let order = s.indices.sorted { (s[$0], $0) < (s[$1], $1) }
        return Array(order.prefix(count))
    }

    /// Krum: the update with the lowest score, unchanged.
    public static func krum(_ updates: [Model], numMalicious f: Int) throws(StrategyError) -> Model {
        try krum(ModelList(updates), numMalicious: f)
    }

    public static func krum(_ updates: some UpdateSet, numMalicious f: Int) throws(StrategyError) -> Model {
        try updates.update(select(updates, numMalicious: f, count: 1)[0])
    }

    /// Multi-Krum: the example-weighted FedAvg of the m lowest-score updates (m = n − f if nil).
    public static func multiKrum(_ updates: [Model], weights: [Double], numMalicious f: Int, numToKeep: Int? = nil) throws(StrategyError) -> Model {
        try multiKrum(ModelList(updates), weights: weights, numMalicious: f, numToKeep: numToKeep)
    }

    /// Folds the chosen updates one at a time, so only one of them is in memory beside the sum.
    public static func multiKrum(_ updates: some UpdateSet, weights: [Double], numMalicious f: Int, numToKeep: Int? = nil) throws(StrategyError) -> Model {
        guard weights.count == updates.count else {
            throw .invalidParameter("\(weights.count) weights for \(updates.count) updates")
        }
        let m = numToKeep ?? (updates.count - f)
        guard m >= 1 else {
            throw .tooFewUpdates(rule: "multikrum", needed: f + 1, got: updates.count, reason: "m = n − f must be ≥ 1")
        }
        let chosen = try select(updates, numMalicious: f, count: m)
        var acc: FedAvgAccumulator
        do throws(ModelError) { acc = try FedAvgAccumulator(spec: updates.spec) } catch { throw .model(error) }
        for i in chosen {
            let update = try updates.update(i)
            do throws(ModelError) { try acc.add(update, weight: weights[i]) } catch { throw .model(error) }
        }
        do throws(ModelError) { return try acc.takeAverage() } catch { throw .model(error) }
    }
}
