/// FedMedian (Yin et al. 2018), as in Flower's `FedMedian` (`np.median` over clients):
/// coordinate-wise median of the n updates, unweighted (example counts are ignored):
///
///     y_j = median(x_{1,j}, …, x_{n,j})
///           = x_(⌈n/2⌉),j                          n odd
///           = (x_(n/2),j + x_(n/2+1),j) / 2        n even      (x_(k) = k-th smallest)
///
/// Not decomposable: the controller needs all n updates at once, so combiners forward every
/// accepted update; traffic n × model into the controller. The rule sweeps the model a block
/// of coordinates at a time (`UpdateSet`), so with the updates spilled to disk its memory is
/// O(model + n × block). Time O(P · n log n) for P parameters.
public enum FedMedian {
    public static func aggregate(_ updates: [Model]) throws(StrategyError) -> Model {
        try aggregate(ModelList(updates))
    }

    public static func aggregate(_ updates: some UpdateSet) throws(StrategyError) -> Model {
        try coordinatewise(updates) { column in
            column.sort()
            let n = column.count
            return n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2
        }
    }
}
