/// FedTrimmedAvg (Yin et al. 2018), as in Flower's `FedTrimmedAvg` (SciPy's `trim_mean`):
/// per coordinate, sort the n values, drop the k = ⌊β·n⌋ lowest and the k highest, and
/// average the n − 2k left, unweighted (example counts are ignored):
///
///     y_j = (1 / (n − 2k)) · Σ_{i = k+1}^{n−k} x_(i),j        x_(i) = i-th smallest
///
/// Ties need no rule: equal values are interchangeable, so which copy is dropped does not
/// change the mean. Default β = 0.2 (Flower 1.42 `FedTrimmedAvg`); β must be in [0, 0.5) and leave at
/// least one value (n − 2k ≥ 1).
///
/// Not decomposable: traffic n × model at the controller, memory O(model + n × block) and time
/// O(P · n log n) — as for `FedMedian`.
public enum FedTrimmedAvg {
    public static func aggregate(_ updates: [Model], beta: Double = 0.2) throws(StrategyError) -> Model {
        guard beta.isFinite, beta >= 0, beta < 0.5 else { throw .invalidParameter("trimmed-mean beta \(beta) is not in [0, 0.5)") }
        return try aggregate(ModelList(updates), beta: beta)
    }

    public static func aggregate(_ updates: some UpdateSet, beta: Double = 0.2) throws(StrategyError) -> Model {
        guard beta.isFinite, beta >= 0, beta < 0.5 else { throw .invalidParameter("trimmed-mean beta \(beta) is not in [0, 0.5)") }
        let n = updates.count
        let k = Int((beta * Double(n)).rounded(.towardZero))
        guard n - 2 * k >= 1 else {
            throw .tooFewUpdates(rule: "fedtrimmedavg", needed: 2 * k + 1, got: n, reason: "β = \(beta) trims \(k) from each side")
        }
        return try coordinatewise(updates) { column in
            column.sort()
            var sum = 0.0
            for i in k..<(n - k) { sum += column[i] }
            return sum / Double(n - 2 * k)
        }
    }
}
