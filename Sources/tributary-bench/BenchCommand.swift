import ArgumentParser

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary-bench",
        abstract: "Micro-benchmarks: the aggregation kernel against memory bandwidth, and the nng loopback bound of a round's bytes.",
        discussion: "Build with -c release; numbers from a debug build mean nothing. scripts/bench.sh runs both.",
        subcommands: [Kernels.self, Bound.self])
}

/// Median and best of a list of per-pass rates.
struct Rate {
    let median: Double
    let best: Double

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        best = sorted.last ?? 0
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
