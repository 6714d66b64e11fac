import ArgumentParser
import Foundation
import TributaryModel

/// GB/s of input read by the FedAvg fold, next to memcpy and a read-only sum over the same
/// buffers in the same run (notes/nng.md §5.5). Buffers are pre-faulted; update inputs sit at a
/// 4-byte offset from a page boundary, as the payload of an nng message body does.
struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Aggregation kernel GB/s next to memcpy and a read-only sum.")
    @Option(help: "float32 values per array (1e7 = 40 MB, beyond this machine's L3).") var floats: Double = 1e7
    @Option(help: "Timed passes per kernel (median and best are reported).") var passes: Int = 15

    func run() throws {
        let n = Int(floats)
        guard n >= 64, passes >= 1 else { throw ValidationError("--floats must be ≥ 64 and --passes ≥ 1") }
        let bytes = n * 4
        let buffers = (0..<7).map { _ in Buffer(bytes: bytes + 64) }
        defer { withExtendedLifetime(buffers) {} }   // the kernels only see raw pointers into them
        let acc = buffers[0].base, dst = buffers[1].base
        let xs = buffers[2..<6].map { UnsafeRawPointer($0.base + 4) }   // 4-byte aligned, like an nng body
        let plain = UnsafeRawPointer(buffers[6].base)

        func time(_ inputBytes: Int, _ body: () -> Void) -> Rate {
            body()   // warm-up
            return Rate((0..<passes).map { _ in
                let start = ContinuousClock.now
                body()
                return Double(inputBytes) / (ContinuousClock.now - start).seconds / 1e9
            })
        }

        var sink: Float = 0
        let memcpyRate = time(bytes) { memcpy(dst, plain, bytes) }
        let readRate = time(bytes) { sink += readOnlySum(plain, count: n) }
        let fold1 = time(bytes) { accumulateScaled(acc, xs[0], count: n, weight: 0.25, as: Float.self) }
        let fold4 = time(4 * bytes) {
            accumulateScaled4(acc, xs[0], xs[1], xs[2], xs[3], count: n, weights: (0.25, 0.25, 0.25, 0.25), as: Float.self)
        }
        let spec = ModelSpec(tensors: [TensorSpec(name: "weights", dtype: .float32, shape: [n])])
        var accumulator = try FedAvgAccumulator(spec: spec)
        let update = UnsafeRawBufferPointer(start: xs[0], count: bytes)
        let fullAdd = time(bytes) { try? accumulator.add(update, weight: 1) }

        print(String(format: "kernels: %d float32 per array (%.0f MB), %d passes; GB/s of input read, median (best)", n, Double(bytes) / 1e6, passes))
        let rows: [(String, Rate)] = [
            ("memcpy", memcpyRate), ("read_only_sum", readRate), ("fold_1", fold1), ("fold_4_fused", fold4), ("fedavg_add", fullAdd),
        ]
        for (name, rate) in rows {
            print(String(format: "kernel %-14@ %7.2f GB/s (best %.2f)  %5.1f%% of read-only sum", name as NSString, rate.median, rate.best,
                         100 * rate.median / readRate.median))
        }
        print(String(format: "ratio fold_4_fused/read_only_sum %.2f  fold_1/read_only_sum %.2f  fedavg_add/read_only_sum %.2f  (target >= 0.60)",
                     fold4.median / readRate.median, fold1.median / readRate.median, fullAdd.median / readRate.median))
        if sink == .infinity { print("") }   // keeps the read-only sum from being optimised away
    }
}

/// A page-aligned, pre-faulted buffer filled with small finite values.
final class Buffer {
    let base: UnsafeMutableRawPointer
    init(bytes: Int) {
        base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        let floats = base.bindMemory(to: Float.self, capacity: bytes / 4)
        for i in 0..<bytes / 4 { floats[i] = Float(i % 1024) * 1e-3 }
    }
    deinit { base.deallocate() }
}

/// Σ x with four SIMD16 accumulators and unaligned loads: the read-bandwidth reference.
func readOnlySum(_ x: UnsafeRawPointer, count: Int) -> Float {
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    var i = 0
    while i + 64 <= count {
        s0 += x.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        s1 += x.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
        s2 += x.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self)
        s3 += x.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self)
        i += 64
    }
    var t = (s0 + s1 + s2 + s3).sum()
    while i < count {
        t += x.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        i += 1
    }
    return t
}
