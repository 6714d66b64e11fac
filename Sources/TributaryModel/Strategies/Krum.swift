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
/// Not decomposable: memory O(n × model) plus the n × n distance matrix at the controller,
/// traffic n × model into it, time O(n² · P).
public enum Krum {
    /// Each update's Krum score s(i).
    public static func scores(_ updates: [Model], numMalicious f: Int) throws(StrategyError) -> [Double] {
        guard f >= 0 else { throw .invalidParameter("num_malicious_clients \(f) is negative") }
        _ = try checkUpdates(updates)
        let n = updates.count
        guard n > 1 else { return [0] }
        var d = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in (i + 1)..<n {
                d[i][j] = squaredDistance(updates[i], updates[j])
                d[j][i] = d[i][j]
            }
        }
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
        let s = try scores(updates, numMalicious: f)
        guard count >= 1, count <= updates.count else {
            throw .invalidParameter("cannot keep \(count) of \(updates.count) updates")
        }
        let order = s.indices.sorted { (s[$0], $0) < (s[$1], $1) }
        return Array(order.prefix(count))
    }

    /// Krum: the update with the lowest score, unchanged.
    public static func krum(_ updates: [Model], numMalicious f: Int) throws(StrategyError) -> Model {
        updates[try select(updates, numMalicious: f, count: 1)[0]]
    }

    /// Multi-Krum: the example-weighted FedAvg of the m lowest-score updates (m = n − f if nil).
    public static func multiKrum(_ updates: [Model], weights: [Double], numMalicious f: Int, numToKeep: Int? = nil) throws(StrategyError) -> Model {
        guard weights.count == updates.count else {
            throw .invalidParameter("\(weights.count) weights for \(updates.count) updates")
        }
        let m = numToKeep ?? (updates.count - f)
        guard m >= 1 else {
            throw .tooFewUpdates(rule: "multikrum", needed: f + 1, got: updates.count, reason: "m = n − f must be ≥ 1")
        }
        let chosen = try select(updates, numMalicious: f, count: m)
        do throws(ModelError) {
            var acc = try FedAvgAccumulator(spec: updates[0].spec)
            for i in chosen { try acc.add(updates[i], weight: weights[i]) }
            return try acc.average()
        } catch { throw .model(error) }
    }
}
