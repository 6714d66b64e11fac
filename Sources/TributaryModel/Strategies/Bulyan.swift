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
/// Not decomposable: memory O(n × model) plus an n × n distance matrix per Krum pass at the
/// controller, traffic n × model into it, time O(θ · n² · P).
public enum Bulyan {
    /// Indices of the θ updates chosen by repeated Krum, in selection order.
    public static func select(_ updates: [Model], numMalicious f: Int) throws(StrategyError) -> [Int] {
        guard f >= 0 else { throw .invalidParameter("num_malicious_clients \(f) is negative") }
        let n = updates.count
        guard n >= 4 * f + 3 else {
            throw .tooFewUpdates(rule: "bulyan", needed: 4 * f + 3, got: n, reason: "n ≥ 4f + 3 with f = \(f)")
        }
        _ = try checkUpdates(updates)
        var remaining = Array(updates.indices)
        var chosen: [Int] = []
        for _ in 0..<(n - 2 * f) {
            let pick = try Krum.select(remaining.map { updates[$0] }, numMalicious: f, count: 1)[0]
            chosen.append(remaining.remove(at: pick))
        }
        return chosen
    }

    public static func aggregate(_ updates: [Model], numMalicious f: Int) throws(StrategyError) -> Model {
        let chosen = try select(updates, numMalicious: f)
        let selected = chosen.map { updates[$0] }
        let beta = chosen.count - 2 * f
        return try coordinatewise(selected, selected[0].spec) { column in
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
