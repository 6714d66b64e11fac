/// Memory-bound kernels for aggregation and validation, over raw pointers into flat model bytes.
///
/// Measured facts that shape them (notes/nng.md §5.5):
/// * `acc[i] += w · x[i]` is bound by memory bandwidth, not compute. Plain `SIMD16<Float>` code
///   written as `a + w * x` runs at ~16 GB/s of `x` on one core.
/// * `SIMD16.addingProduct` (FMA) is ~10× *slower* on the default x86-64 target (no FMA unit is
///   assumed, so it is emulated lane by lane). Never use it here.
/// * Update bytes often come straight from a network message body, which is only 4-byte
///   aligned, and a float64 tensor after an odd-length float32 tensor is not 8-byte aligned in
///   the flat layout. So every load and store is unaligned (`loadUnaligned` / `storeBytes`),
///   which costs nothing measurable on x86-64.
///
/// All functions take element counts, not byte counts, and name the element type with `as:`
/// (so a literal weight cannot silently select the wrong overload and overrun the buffer).

/// `acc[i] += w · x[i]` for `count` float32 elements.
@inlinable
public func accumulateScaled(_ acc: UnsafeMutableRawPointer, _ x: UnsafeRawPointer, count: Int, weight w: Float, as: Float.Type) {
    let wv = SIMD16<Float>(repeating: w)
    var i = 0
    while i + 16 <= count {
        let a = acc.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        let v = x.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        acc.storeBytes(of: a + wv * v, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        let a = acc.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        acc.storeBytes(of: a + w * x.loadUnaligned(fromByteOffset: i * 4, as: Float.self), toByteOffset: i * 4, as: Float.self)
        i += 1
    }
}

/// `acc[i] += w₀·x₀[i] + w₁·x₁[i] + w₂·x₂[i] + w₃·x₃[i]` for `count` float32 elements: four
/// updates folded in one pass, so `acc` is read and written once per four inputs. The fold is
/// bound by memory traffic; with one input per pass a third of it is `x`, with four two
/// thirds (notes/nng.md §5.5: ~1.5× the single-input rate).
@inlinable
public func accumulateScaled4(
    _ acc: UnsafeMutableRawPointer, _ x0: UnsafeRawPointer, _ x1: UnsafeRawPointer, _ x2: UnsafeRawPointer, _ x3: UnsafeRawPointer,
    count: Int, weights w: (Float, Float, Float, Float), as: Float.Type
) {
    let w0 = SIMD16<Float>(repeating: w.0), w1 = SIMD16<Float>(repeating: w.1)
    let w2 = SIMD16<Float>(repeating: w.2), w3 = SIMD16<Float>(repeating: w.3)
    var i = 0
    while i + 16 <= count {
        let o = i * 4
        let a = acc.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        let s01 = w0 * x0.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self) + w1 * x1.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        let s23 = w2 * x2.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self) + w3 * x3.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        acc.storeBytes(of: a + (s01 + s23), toByteOffset: o, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        let o = i * 4
        let s01 = w.0 * x0.loadUnaligned(fromByteOffset: o, as: Float.self) + w.1 * x1.loadUnaligned(fromByteOffset: o, as: Float.self)
        let s23 = w.2 * x2.loadUnaligned(fromByteOffset: o, as: Float.self) + w.3 * x3.loadUnaligned(fromByteOffset: o, as: Float.self)
        acc.storeBytes(of: acc.loadUnaligned(fromByteOffset: o, as: Float.self) + (s01 + s23), toByteOffset: o, as: Float.self)
        i += 1
    }
}

/// `acc[i] += w · x[i]` for `count` float64 elements.
@inlinable
public func accumulateScaled(_ acc: UnsafeMutableRawPointer, _ x: UnsafeRawPointer, count: Int, weight w: Double, as: Double.Type) {
    let wv = SIMD8<Double>(repeating: w)
    var i = 0
    while i + 8 <= count {
        let a = acc.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self)
        let v = x.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self)
        acc.storeBytes(of: a + wv * v, toByteOffset: i * 8, as: SIMD8<Double>.self)
        i += 8
    }
    while i < count {
        let a = acc.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
        acc.storeBytes(of: a + w * x.loadUnaligned(fromByteOffset: i * 8, as: Double.self), toByteOffset: i * 8, as: Double.self)
        i += 1
    }
}

/// `x[i] = 0 + s · x[i]` for `count` float32 elements: what `accumulateScaled` gives when folding
/// `x` into zeros, bit for bit (the `0 +` turns a −0 product into +0, as the fold does), done in
/// place so a first update can become the sum without a second buffer.
@inlinable
public func scaleFromZero(_ x: UnsafeMutableRawPointer, count: Int, by s: Float, as: Float.Type) {
    let sv = SIMD16<Float>(repeating: s), zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= count {
        let v = x.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        x.storeBytes(of: zero + sv * v, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        x.storeBytes(of: 0 + s * x.loadUnaligned(fromByteOffset: i * 4, as: Float.self), toByteOffset: i * 4, as: Float.self)
        i += 1
    }
}

/// `x[i] = 0 + s · x[i]` for `count` float64 elements (see the float32 version).
@inlinable
public func scaleFromZero(_ x: UnsafeMutableRawPointer, count: Int, by s: Double, as: Double.Type) {
    let sv = SIMD8<Double>(repeating: s), zero = SIMD8<Double>(repeating: 0)
    var i = 0
    while i + 8 <= count {
        let v = x.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self)
        x.storeBytes(of: zero + sv * v, toByteOffset: i * 8, as: SIMD8<Double>.self)
        i += 8
    }
    while i < count {
        x.storeBytes(of: 0 + s * x.loadUnaligned(fromByteOffset: i * 8, as: Double.self), toByteOffset: i * 8, as: Double.self)
        i += 1
    }
}

/// `acc[i] *= s` for `count` float32 elements.
@inlinable
public func scale(_ acc: UnsafeMutableRawPointer, count: Int, by s: Float, as: Float.Type) {
    let sv = SIMD16<Float>(repeating: s)
    var i = 0
    while i + 16 <= count {
        let a = acc.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        acc.storeBytes(of: a * sv, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        acc.storeBytes(of: acc.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * s, toByteOffset: i * 4, as: Float.self)
        i += 1
    }
}

/// `acc[i] *= s` for `count` float64 elements.
@inlinable
public func scale(_ acc: UnsafeMutableRawPointer, count: Int, by s: Double, as: Double.Type) {
    let sv = SIMD8<Double>(repeating: s)
    var i = 0
    while i + 8 <= count {
        let a = acc.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self)
        acc.storeBytes(of: a * sv, toByteOffset: i * 8, as: SIMD8<Double>.self)
        i += 8
    }
    while i < count {
        acc.storeBytes(of: acc.loadUnaligned(fromByteOffset: i * 8, as: Double.self) * s, toByteOffset: i * 8, as: Double.self)
        i += 1
    }
}

/// Whether all `count` float32 values are finite.
///
/// Branch-free test: `x · 0` is `±0` for finite `x` and NaN for ±∞ or NaN, and NaN survives
/// addition, so `Σ xᵢ·0 == 0` iff every `xᵢ` is finite. This is two vector ops per 16 values
/// on any x86-64 (no SSE4.1 compare-and-reduce needed).
@inlinable
public func allFinite(_ x: UnsafeRawPointer, count: Int, as: Float.Type) -> Bool {
    var s = SIMD16<Float>()
    var i = 0
    while i + 16 <= count {
        s = s + x.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * 0
        i += 16
    }
    var t: Float = s.sum()
    while i < count {
        t += x.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * 0
        i += 1
    }
    return t == 0
}

/// Whether all `count` float64 values are finite (same trick as the float32 form).
@inlinable
public func allFinite(_ x: UnsafeRawPointer, count: Int, as: Double.Type) -> Bool {
    var s = SIMD8<Double>()
    var i = 0
    while i + 8 <= count {
        s = s + x.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self) * 0
        i += 8
    }
    var t: Double = s.sum()
    while i < count {
        t += x.loadUnaligned(fromByteOffset: i * 8, as: Double.self) * 0
        i += 1
    }
    return t == 0
}

/// `Σ xᵢ²` of `count` float32 values, accumulated in Double (no overflow or cancellation worries
/// for any realistic update).
@inlinable
public func sumOfSquares(_ x: UnsafeRawPointer, count: Int, as: Float.Type) -> Double {
    var s = SIMD8<Double>()
    var i = 0
    while i + 8 <= count {
        let v = x.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let d = SIMD8<Double>(v)
        s = s + d * d
        i += 8
    }
    var t = s.sum()
    while i < count {
        let d = Double(x.loadUnaligned(fromByteOffset: i * 4, as: Float.self))
        t += d * d
        i += 1
    }
    return t
}

/// `Σ xᵢ²` of `count` float64 values.
@inlinable
public func sumOfSquares(_ x: UnsafeRawPointer, count: Int, as: Double.Type) -> Double {
    var s = SIMD8<Double>()
    var i = 0
    while i + 8 <= count {
        let v = x.loadUnaligned(fromByteOffset: i * 8, as: SIMD8<Double>.self)
        s = s + v * v
        i += 8
    }
    var t = s.sum()
    while i < count {
        let d = x.loadUnaligned(fromByteOffset: i * 8, as: Double.self)
        t += d * d
        i += 1
    }
    return t
}
