import Foundation
import TributaryModel

/// Multinomial logistic regression (one dense layer + softmax), the built-in model of the demo
/// federation: small enough that a round of local training takes milliseconds, yet it really
/// learns the digits (≈ 0.95 test accuracy), so convergence of FedAvg is visible.
///
/// Parameters live in flat `[Float]`s in the same layout as the model's tensors —
/// `dense.weight` `[classCount, inputCount]` row-major and `dense.bias` `[classCount]` — so
/// converting to and from `Model` is a copy, and the inner loops run over raw buffers.
public struct SoftmaxRegression: Sendable, Equatable {
    public static let weightName = "dense.weight"
    public static let biasName = "dense.bias"

    public let inputCount: Int
    public let classCount: Int
    /// `classCount × inputCount`, row-major (row = class).
    public var weight: [Float]
    public var bias: [Float]

    /// All-zero parameters.
    public init(inputCount: Int = DigitsDataset.featureCount, classCount: Int = DigitsDataset.classCount) {
        self.inputCount = inputCount
        self.classCount = classCount
        weight = [Float](repeating: 0, count: inputCount * classCount)
        bias = [Float](repeating: 0, count: classCount)
    }

    /// The layout this model expects (weight first, then bias).
    public static func spec(inputCount: Int = DigitsDataset.featureCount,
                            classCount: Int = DigitsDataset.classCount) -> ModelSpec {
        ModelSpec(tensors: [
            TensorSpec(name: weightName, dtype: .float32, shape: [classCount, inputCount]),
            TensorSpec(name: biasName, dtype: .float32, shape: [classCount]),
        ])
    }

    /// Reads parameters from a model, rejecting any model that is not exactly this
    /// architecture (other tensors, dtypes or shapes), since silently training a model of a
    /// different shape would corrupt the federation's global model.
    public init(model: Model, inputCount: Int = DigitsDataset.featureCount,
                classCount: Int = DigitsDataset.classCount) throws(TrainerError) {
        let expected = Self.spec(inputCount: inputCount, classCount: classCount)
        guard Set(model.spec.tensors) == Set(expected.tensors), model.spec.tensors.count == expected.tensors.count else {
            let got = model.spec.tensors.map { "\($0.name) \($0.dtype.rawValue) \($0.shape)" }.joined(separator: ", ")
            throw .modelMismatch(
                "expected \(Self.weightName) float32 [\(classCount), \(inputCount)] and \(Self.biasName) float32 [\(classCount)], got [\(got)]")
        }
        self.inputCount = inputCount
        self.classCount = classCount
        do {
            weight = try model.float32s(Self.weightName)
            bias = try model.float32s(Self.biasName)
        } catch {
            throw .modelMismatch(error.description)
        }
    }

    /// Writes the parameters into `template`'s tensors (keeping its layout), or into a fresh
    /// model in the canonical layout.
    public func model(into template: Model? = nil) throws(TrainerError) -> Model {
        do {
            guard var m = template else {
                return try Model(float32: [
                    (name: Self.weightName, shape: [classCount, inputCount], values: weight),
                    (name: Self.biasName, shape: [classCount], values: bias),
                ])
            }
            try m.setFloat32s(Self.weightName, weight)
            try m.setFloat32s(Self.biasName, bias)
            return m
        } catch {
            throw .modelMismatch(error.description)
        }
    }

    /// A fresh model with weights ~ N(0, 0.01²) and zero bias, fixed by `seed` so every
    /// participant that starts a session from the same seed starts from the same model.
    public static func initialModel(seed: UInt64, inputCount: Int = DigitsDataset.featureCount,
                                    classCount: Int = DigitsDataset.classCount) -> Model {
        var r = SeededRandom(seed: seed, stream: 0x1417)
        var m = SoftmaxRegression(inputCount: inputCount, classCount: classCount)
        for i in m.weight.indices { m.weight[i] = Float(0.01 * r.normal()) }
        // The canonical layout is always valid, so this cannot fail.
        return try! m.model()
    }

    /// Whether every parameter is finite (a diverged step must not be uploaded).
    public var isFinite: Bool { weight.allSatisfy(\.isFinite) && bias.allSatisfy(\.isFinite) }

    /// Loss and accuracy of the current parameters on a whole data set (no gradient).
    public func evaluate(_ data: Dataset) -> (loss: Double, accuracy: Double) {
        guard data.count > 0 else { return (0, 0) }
        var scratch = [Float](repeating: 0, count: classCount)
        let (loss, correct) = weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                data.features.withUnsafeBufferPointer { x in
                    data.labels.withUnsafeBufferPointer { y in
                        scratch.withUnsafeMutableBufferPointer { z in
                            Self.accumulate(w: w, b: b, x: x, y: y, rows: 0..<data.count,
                                            inputCount: inputCount, classCount: classCount,
                                            scratch: z, gradW: nil, gradB: nil)
                        }
                    }
                }
            }
        }
        return (loss / Double(data.count), Double(correct) / Double(data.count))
    }

    /// The objective of one minibatch and its gradient:
    /// mean cross-entropy over `rows` plus, when `anchor` is given, (μ/2)‖θ − θ_anchor‖²
    /// (FedProx, over weight and bias). Exposed for gradient checks; training uses the same
    /// kernel through `SoftmaxTrainer`.
    public func lossAndGradient(_ data: Dataset, rows: [Int], anchor: SoftmaxRegression? = nil, mu: Double = 0)
        -> (loss: Double, gradWeight: [Float], gradBias: [Float])
    {
        var gW = [Float](repeating: 0, count: weight.count)
        var gB = [Float](repeating: 0, count: bias.count)
        var scratch = [Float](repeating: 0, count: classCount)
        let (sum, _) = weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                data.features.withUnsafeBufferPointer { x in
                    data.labels.withUnsafeBufferPointer { y in
                        scratch.withUnsafeMutableBufferPointer { z in
                            gW.withUnsafeMutableBufferPointer { gw in
                                gB.withUnsafeMutableBufferPointer { gb in
                                    Self.accumulate(w: w, b: b, x: x, y: y, rows: rows,
                                                    inputCount: inputCount, classCount: classCount,
                                                    scratch: z, gradW: gw, gradB: gb)
                                }
                            }
                        }
                    }
                }
            }
        }
        let n = Float(max(rows.count, 1))
        var loss = sum / Double(max(rows.count, 1))
        for i in gW.indices { gW[i] /= n }
        for i in gB.indices { gB[i] /= n }
        if let anchor, mu != 0 {
            let m = Float(mu)
            var sq = 0.0
            for i in weight.indices {
                let d = weight[i] - anchor.weight[i]
                sq += Double(d * d)
                gW[i] += m * d
            }
            for i in bias.indices {
                let d = bias[i] - anchor.bias[i]
                sq += Double(d * d)
                gB[i] += m * d
            }
            loss += mu / 2 * sq
        }
        return (loss, gW, gB)
    }

    /// The kernel: for each row, logits = W·x + b, a numerically stable log-softmax, summed
    /// cross-entropy, and (if gradient buffers are given) adds (softmax − onehot) ⊗ x to
    /// `gradW` and (softmax − onehot) to `gradB`. Returns the summed loss and the number of
    /// rows whose arg-max logit equals the label.
    @inline(__always)
    static func accumulate<Rows: Sequence<Int>>(
        w: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>,
        x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Int>, rows: Rows,
        inputCount d: Int, classCount k: Int, scratch z: UnsafeMutableBufferPointer<Float>,
        gradW: UnsafeMutableBufferPointer<Float>?, gradB: UnsafeMutableBufferPointer<Float>?
    ) -> (loss: Double, correct: Int) {
        var loss = 0.0
        var correct = 0
        for r in rows {
            let xr = r * d
            var best = 0
            var maxLogit = -Float.infinity
            for c in 0..<k {
                var s = b[c]
                let wr = c * d
                for j in 0..<d { s += w[wr + j] * x[xr + j] }
                z[c] = s
                if s > maxLogit { maxLogit = s; best = c }
            }
            let label = y[r]
            // −log p_y = log Σ exp(z − max) − (z_y − max): shifting by the max keeps exp from
            // overflowing, and using the logit (not log of its exp) keeps it from underflowing.
            let shiftedLabelLogit = z[label] - maxLogit
            var sumExp: Float = 0
            for c in 0..<k {
                let e = Foundation.exp(z[c] - maxLogit)
                z[c] = e
                sumExp += e
            }
            loss += Foundation.log(Double(sumExp)) - Double(shiftedLabelLogit)
            if best == label { correct += 1 }
            guard let gradW, let gradB else { continue }
            let inv = 1 / sumExp
            for c in 0..<k {
                var g = z[c] * inv
                if c == label { g -= 1 }
                gradB[c] += g
                if g == 0 { continue }
                let wr = c * d
                for j in 0..<d { gradW[wr + j] += g * x[xr + j] }
            }
        }
        return (loss, correct)
    }
}
