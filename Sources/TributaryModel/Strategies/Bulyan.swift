/// Bulyan (El Mhamdi et al. 2018), as in Flower's `Bulyan` with Krum as the selection rule.
/// With n updates and f assumed Byzantine, n ≥ 4f + 3:
///
///     θ = n − 2f,  β = θ − 2f
///     1. Selection: repeat θ times — run Krum (f, see `Krum`) on the updates not yet chosen,
///        move its choice into S.
///     2. Per coordinate j: μ_j = median of {x_j : x ∈ S}; y_j = mean of the β values of S
///        closest to μ_j (|x_j − μ_j| smallest; ties go to the earlier-selected update).
///
/// Unweighted (example counts are ignored, as in Flower). With f = 0 it is the plain mean.
///
/// Not decomposable: traffic n × model into the controller, time O(n² · P) for the distances
/// (computed once; each Krum pass scores a sub-matrix of them) plus O(θ · P · θ log θ). With
/// spilled updates the memory is O(model + n × block) plus the n × n distance matrix.
public enum Bulyan {
    /// Indices of the θ updates chosen by repeated Krum, in selection order.
    public static func select(_ updates: [Model], numMalicious f: Int) throws(StrategyError) -> [Int] {
        try select(ModelList(updates), numMalicious: f)
    }

    public static func select(_ updates: some UpdateSet, numMalicious f: Int) throws(StrategyError) -> [Int] {
        guard f >= 0 else { throw .invalidParameter("num_malicious_clients \(f) is negative") }
        let n = updates.count
        guard n >= 4 * f + 3 else {
            throw .tooFewUpdates(rule: "bulyan", needed: 4 * f + 3, got: n, reason: "n ≥ 4f + 3 with f = \(f)")
        }
        let d = try pairwiseSquaredDistances(updates)
        var remaining = Array(0..<n)
        var chosen: [Int] = []
        for _ in 0..<(n - 2 * f) {
            // Krum over the updates not chosen yet: their rows and columns of d.
            let sub = remaining.map { i in remaining.map { d[i][$0] } }
            let pick = try Krum.select(distances: sub, numMalicious: f, count: 1)[0]
            chosen.append(remaining.remove(at: pick))
        }
        return chosen
    }

    public static func aggregate(_ updates: [Model], numMalicious f: Int) throws(StrategyError) -> Model {
        guard f >= 0 else { throw .invalidParameter("num_malicious_clients \(f) is negative") }
        guard updates.count >= 4 * f + 3 else {
            throw .tooFewUpdates(rule: "bulyan", needed: 4 * f + 3, got: updates.count, reason: "n ≥ 4f + 3 with f = \(f)")
        }
        return try aggregate(ModelList(updates), numMalicious: f)
    }

    public static func aggregate(_ updates: some UpdateSet, numMalicious f: Int) throws(StrategyError) -> Model {
        let chosen = try select(updates, numMalicious: f)
        let beta = chosen.count - 2 * f
        return try coordinatewise(UpdateSubset(updates, indices: chosen)) { column in
            var sorted = column
            sorted.sort()
            let t = sorted.count
            let median = t % 2 == 1 ? sorted[t / 2] : (sorted[t / 2 - 1] + sorted[t / 2]) / 2
            let order = column.indices.sorted { (abs(column[$0] - median), $0) < (abs(column[$1] - median), $1) }
            var sum = 0.0
            for k in order.prefix(beta) { sum += column[k] }
            return sum / Double(beta)
        }
    }
}
