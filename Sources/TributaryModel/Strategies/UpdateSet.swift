/// The n client updates a robust rule runs over, read a block of coordinates at a time, so
/// the rule's working memory for its inputs is O(n × block), not O(n × model): the updates
/// can stay on disk (`SpilledUpdates`) while the rule sweeps the model block by block.
///
/// Every implementation holds updates of one float-only spec (checked when built).
public protocol UpdateSet {
    var spec: ModelSpec { get }
    var count: Int { get }
    /// Elements `range` of tensor `tensor` of every update, widened to Double:
    /// `result[k][i]` is element `range.lowerBound + i` of update k.
    func columns(tensor: Int, range: Range<Int>) throws(StrategyError) -> [[Double]]
    /// Update k whole (Krum's choice, the updates Multi-Krum averages).
    func update(_ k: Int) throws(StrategyError) -> Model
    /// Elements of one tensor read per block when sweeping.
    var blockElements: Int { get }
}

extension UpdateSet {
    /// About 32 MiB of Doubles over all n updates, at least 1,024 elements (each block is read
    /// once, so reads stay large even for many updates).
    public var blockElements: Int { max(1_024, (32 << 20) / (8 * max(count, 1))) }
}

/// Updates held in memory (tests, small rounds).
public struct ModelList: UpdateSet {
    public let models: [Model]
    public let spec: ModelSpec

    /// Throws unless there is at least one update, all float-only with one spec.
    public init(_ models: [Model]) throws(StrategyError) {
        spec = try checkUpdates(models)
        self.models = models
    }

    public var count: Int { models.count }

    public func columns(tensor: Int, range: Range<Int>) throws(StrategyError) -> [[Double]] {
        let t = spec.tensors[tensor], offset = spec.offsets[tensor]
        return models.map { m in m.data.withUnsafeBytes { widen($0, from: offset + range.lowerBound * t.dtype.size, count: range.count, t.dtype) } }
    }

    public func update(_ k: Int) throws(StrategyError) -> Model { models[k] }
}

/// Some updates of another set, in a given order (Bulyan's selection; client order).
public struct UpdateSubset<Base: UpdateSet>: UpdateSet {
    public let base: Base
    public let indices: [Int]

    public init(_ base: Base, indices: [Int]) {
        self.base = base
        self.indices = indices
    }

    public var spec: ModelSpec { base.spec }
    public var count: Int { indices.count }
    public var blockElements: Int { base.blockElements }

    public func columns(tensor: Int, range: Range<Int>) throws(StrategyError) -> [[Double]] {
        let all = try base.columns(tensor: tensor, range: range)
        return indices.map { all[$0] }
    }

    public func update(_ k: Int) throws(StrategyError) -> Model { try base.update(indices[k]) }
}

/// `count` elements of `dtype` at byte `offset` of `bytes`, widened to Double (float32 exactly).
func widen(_ bytes: UnsafeRawBufferPointer, from offset: Int, count: Int, _ dtype: DType) -> [Double] {
    dtype == .float32
        ? (0..<count).map { Double(bytes.loadUnaligned(fromByteOffset: offset + $0 * 4, as: Float.self)) }
        : (0..<count).map { bytes.loadUnaligned(fromByteOffset: offset + $0 * 8, as: Double.self) }
}

/// Builds one model from a per-coordinate rule over the n updates' values, block by block:
/// `rule` gets the n values of one coordinate (in set order) and returns the result.
/// Scratch memory: n × block Doubles.
func coordinatewise(_ updates: some UpdateSet, _ rule: (inout [Double]) -> Double) throws(StrategyError) -> Model {
    let spec = updates.spec, offsets = spec.offsets, n = updates.count, block = updates.blockElements
    var out = [UInt8](repeating: 0, count: spec.totalBytes)
    var column = [Double](repeating: 0, count: n)
    for (ti, t) in spec.tensors.enumerated() where t.count > 0 {
        for start in stride(from: 0, to: t.count, by: block) {
            let range = start..<min(start + block, t.count)
            let values = try updates.columns(tensor: ti, range: range)
            out.withUnsafeMutableBytes { raw in
                for i in 0..<range.count {
                    for k in 0..<n { column[k] = values[k][i] }
                    let v = rule(&column)
                    let at = offsets[ti] + (start + i) * t.dtype.size
                    if t.dtype == .float32 { raw.storeBytes(of: Float(v), toByteOffset: at, as: Float.self) } else { raw.storeBytes(of: v, toByteOffset: at, as: Double.self) }
                }
            }
        }
    }
    do throws(ModelError) { return try Model(spec: spec, data: out) } catch { throw .model(error) }
}

/// d[i][j] = ‖x_i − x_j‖² over all float coordinates, accumulated in Double in coordinate
/// order (the same sums, bit for bit, as one pass over whole models), a block at a time.
func pairwiseSquaredDistances(_ updates: some UpdateSet) throws(StrategyError) -> [[Double]] {
    let n = updates.count, block = updates.blockElements
    var d = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for (ti, t) in updates.spec.tensors.enumerated() where t.count > 0 {
        for start in stride(from: 0, to: t.count, by: block) {
            let values = try updates.columns(tensor: ti, range: start..<min(start + block, t.count))
            for i in 0..<n {
                for j in (i + 1)..<n {
                    var sum = d[i][j]
                    for (x, y) in zip(values[i], values[j]) { sum += (x - y) * (x - y) }
                    d[i][j] = sum
                }
            }
        }
    }
    for i in 0..<n { for j in 0..<i { d[i][j] = d[j][i] } }
    return d
}
