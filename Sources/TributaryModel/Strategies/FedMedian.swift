/// FedMedian (Yin et al. 2018), as in Flower's `FedMedian` (`np.median` over clients):
/// coordinate-wise median of the n updates, unweighted (example counts are ignored):
///
///     y_j = median(x_{1,j}, …, x_{n,j})
///           = x_(⌈n/2⌉),j                          n odd
///           = (x_(n/2),j + x_(n/2+1),j) / 2        n even      (x_(k) = k-th smallest)
///
/// Not decomposable: the controller needs all n updates at once, so combiners forward every
/// accepted update; traffic n × model into the controller and memory O(n × model) there
/// (plus n × largest-tensor Doubles of scratch). Time O(P · n log n) for P parameters.
public enum FedMedian {
    public static func aggregate(_ updates: [Model]) throws(StrategyError) -> Model {
        let spec = try checkUpdates(updates)
        return try coordinatewise(updates, spec) { column in
            column.sort()
            let n = column.count
            return n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2
        }
    }
}
