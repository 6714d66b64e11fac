import TributaryModel
/// Which share of the data a client holds: `index` of `count` clients, as given on the
/// command line by `--partition i/n` (0-based `i`).
public struct PartitionSpec: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws(TrainerError) {
        guard count >= 1 else { throw .invalidConfig("partition count must be at least 1, got \(count)") }
        guard index >= 0, index < count else {
            throw .invalidConfig("partition index must be in 0..<\(count), got \(index)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `"i/n"`, e.g. `"2/4"` (surrounding spaces allowed, nothing else).
    public static func parse(_ text: String) throws(TrainerError) -> PartitionSpec {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let i = Int(parts[0].trimmingSpaces), let n = Int(parts[1].trimmingSpaces)
        else {
            throw .invalidConfig("partition must look like 'i/n' (e.g. '0/4'), got '\(text)'")
        }
        return try PartitionSpec(index: i, count: n)
    }

    public init?(_ description: String) {
        guard let p = try? Self.parse(description) else { return nil }
        self = p
    }

    public var description: String { "\(index)/\(count)" }
}

private extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// How examples are spread over clients.
public enum PartitionScheme: Sendable, Hashable, CustomStringConvertible {
    /// Every client sees the same label distribution (shuffle, then near-equal slices).
    case iid
    /// Label skew: per class, client shares ~ Dirichlet(α). Small α (0.1) gives each client a
    /// few dominant classes; large α (100) approaches IID.
    case dirichlet(alpha: Double)

    /// Parses `iid` or `dirichlet:<alpha>` (also `dirichlet=<alpha>`).
    public static func parse(_ text: String) throws(TrainerError) -> PartitionScheme {
        let lower = text.lowercased()
        if lower == "iid" { return .iid }
        for prefix in ["dirichlet:", "dirichlet="] where lower.hasPrefix(prefix) {
            guard let a = Double(lower.dropFirst(prefix.count)), a > 0, a.isFinite else {
                throw .invalidConfig("dirichlet alpha must be a positive number, got '\(text)'")
            }
            return .dirichlet(alpha: a)
        }
        throw .invalidConfig("partition scheme must be 'iid' or 'dirichlet:<alpha>', got '\(text)'")
    }

    public var description: String {
        switch self {
        case .iid: "iid"
        case .dirichlet(let a): "dirichlet:\(a)"
        }
    }
}

/// Seeded, deterministic splitting of one data set into a held-out test split and per-client
/// shares, so that every client computes its own share from `--partition i/n` alone and the
/// shares of all clients are disjoint and cover the data.
///
/// Both the train and the test split are partitioned across the clients. Clients' test
/// shares are disjoint and together cover the test split, so the example-weighted average of
/// the clients' accuracies equals the accuracy on the whole test split. Under Dirichlet, one
/// proportion matrix (class × client) is drawn and used for both splits, so a client's test
/// share has the same label skew as its training share (it measures the client's own task).
public enum DataPartition {
    /// The seed used when none is given, so independently started clients agree.
    public static let defaultSeed: UInt64 = 42
    public static let defaultTestFraction = 0.2

    // Distinct streams so no two steps share random numbers.
    static let testSplitStream: UInt64 = 1
    static let trainShuffleStream: UInt64 = 2
    static let testShuffleStream: UInt64 = 3
    static let dirichletStream: UInt64 = 4

    /// Splits `0..<count` into train and test indices by a seeded shuffle; the test split has
    /// `round(count × testFraction)` examples. Both lists are returned sorted.
    public static func trainTestSplit(
        count: Int, testFraction: Double = defaultTestFraction, seed: UInt64 = defaultSeed
    ) throws(TrainerError) -> (train: [Int], test: [Int]) {
        guard testFraction >= 0, testFraction < 1 else {
            throw .invalidConfig("test fraction must be in [0, 1), got \(testFraction)")
        }
        var rng = SeededRandom(seed: seed, stream: testSplitStream)
        var all = Array(0..<count)
        rng.shuffle(&all)
        let testCount = Int((Double(count) * testFraction).rounded())
        return (train: all[testCount...].sorted(), test: all[..<testCount].sorted())
    }

    /// Partitions `indices` (into a data set with `labels`) across `clients` clients and
    /// returns one index list per client; together they are a permutation of `indices`.
    ///
    /// Every client gets at least one example when `indices.count >= clients`: with small α a
    /// Dirichlet draw can leave a client empty, and then one example is moved to it from the
    /// client holding the most (repeated until none is empty). This keeps every client able to
    /// train (FedAvg weight > 0) at the cost of a slightly less extreme skew.
    public static func partition(
        indices: [Int], labels: [Int], classCount: Int, clients: Int,
        scheme: PartitionScheme, seed: UInt64 = defaultSeed
    ) throws(TrainerError) -> [[Int]] {
        guard clients >= 1 else { throw .invalidConfig("client count must be at least 1, got \(clients)") }
        let proportions = try classProportions(scheme: scheme, classCount: classCount, clients: clients, seed: seed)
        return try partition(indices: indices, labels: labels, proportions: proportions,
                             clients: clients, scheme: scheme, seed: seed, stream: trainShuffleStream)
    }

    /// The class × client proportion matrix for Dirichlet (nil for IID).
    static func classProportions(
        scheme: PartitionScheme, classCount: Int, clients: Int, seed: UInt64
    ) throws(TrainerError) -> [[Double]]? {
        guard case .dirichlet(let alpha) = scheme else { return nil }
        guard alpha > 0, alpha.isFinite else { throw .invalidConfig("dirichlet alpha must be positive, got \(alpha)") }
        var rng = SeededRandom(seed: seed, stream: dirichletStream)
        return (0..<classCount).map { _ in rng.dirichlet(alpha: alpha, count: clients) }
    }

    static func partition(
        indices: [Int], labels: [Int], proportions: [[Double]]?, clients: Int,
        scheme: PartitionScheme, seed: UInt64, stream: UInt64
    ) throws(TrainerError) -> [[Int]] {
        var rng = SeededRandom(seed: seed, stream: stream)
        var shares = [[Int]](repeating: [], count: clients)
        if let proportions {
            // Group by class (ascending), shuffle within the class, cut at the cumulative shares.
            var byClass = [[Int]](repeating: [], count: proportions.count)
            for i in indices {
                let y = labels[i]
                guard y >= 0, y < byClass.count else {
                    throw .invalidData("label \(y) of example \(i) is outside 0..<\(byClass.count)")
                }
                byClass[y].append(i)
            }
            for (c, var members) in byClass.enumerated() where !members.isEmpty {
                rng.shuffle(&members)
                var start = 0
                var cumulative = 0.0
                for k in 0..<clients {
                    cumulative += proportions[c][k]
                    let end = k == clients - 1 ? members.count : min(members.count, Int(cumulative * Double(members.count)))
                    if end > start { shares[k].append(contentsOf: members[start..<end]) }
                    start = max(start, end)
                }
            }
            fillEmpty(&shares)
        } else {
            var shuffled = indices
            rng.shuffle(&shuffled)
            for k in 0..<clients {
                let lo = k * shuffled.count / clients
                let hi = (k + 1) * shuffled.count / clients
                shares[k] = Array(shuffled[lo..<hi])
            }
        }
        return shares.map { $0.sorted() }
    }

    /// Moves single examples from the largest share into empty shares (deterministic: the
    /// largest share is the first with the maximum count, and it gives up its last element).
    static func fillEmpty(_ shares: inout [[Int]]) {
        while let empty = shares.firstIndex(where: { $0.isEmpty }) {
            guard let donor = shares.indices.max(by: { shares[$0].count < shares[$1].count }),
                  shares[donor].count > 1 else { return }
            shares[empty].append(shares[donor].removeLast())
        }
    }

    /// One client's train and test data from a full data set: the seeded test split, then
    /// that client's share of each split under `scheme`.
    public static func clientData(
        _ dataset: Dataset, partition spec: PartitionSpec, scheme: PartitionScheme,
        testFraction: Double = defaultTestFraction, seed: UInt64 = defaultSeed
    ) throws(TrainerError) -> (train: Dataset, test: Dataset) {
        let all = try clientIndices(labels: dataset.labels, classCount: dataset.classCount, clients: spec.count,
                                    scheme: scheme, testFraction: testFraction, seed: seed)
        let train = all.train[spec.index]
        guard !train.isEmpty else {
            throw .invalidData("client \(spec) has no training examples (\(dataset.count) examples for \(spec.count) clients)")
        }
        return (train: dataset.subset(train), test: dataset.subset(all.test[spec.index]))
    }

    /// Every client's train and test indices (what `clientData` picks from); useful to check
    /// coverage and for simulations that host all clients in one process.
    public static func clientIndices(
        labels: [Int], classCount: Int, clients: Int, scheme: PartitionScheme,
        testFraction: Double = defaultTestFraction, seed: UInt64 = defaultSeed
    ) throws(TrainerError) -> (train: [[Int]], test: [[Int]]) {
        guard clients >= 1 else { throw .invalidConfig("client count must be at least 1, got \(clients)") }
        let split = try trainTestSplit(count: labels.count, testFraction: testFraction, seed: seed)
        let proportions = try classProportions(scheme: scheme, classCount: classCount, clients: clients, seed: seed)
        let train = try partition(indices: split.train, labels: labels, proportions: proportions, clients: clients,
                                  scheme: scheme, seed: seed, stream: trainShuffleStream)
        let test = try partition(indices: split.test, labels: labels, proportions: proportions, clients: clients,
                                 scheme: scheme, seed: seed, stream: testShuffleStream)
        return (train, test)
    }
}
