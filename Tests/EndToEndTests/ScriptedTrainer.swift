import Foundation
import Testing

/// An external-command trainer for end-to-end tests: adds a fixed `delta` to every value and
/// reports `examples`; sleeps `sleepSeconds` first in the listed rounds (to keep a round open
/// while the test kills something). Needs python3 with numpy.
enum ScriptedTrainer {
    static func install(in directory: URL) throws -> URL {
        let script = directory.appendingPathComponent("scripted_train.py")
        try """
        import json, sys, time
        import numpy as np
        src, dst, delta, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
        slow_rounds = {int(r) for r in sys.argv[5].split(",") if r} if len(sys.argv) > 5 else set()
        sleep_s = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
        meta = json.load(open(src + "-metadata"))
        if int(meta.get("round", 0)) in slow_rounds:
            time.sleep(sleep_s)
        arrays = dict(np.load(src))
        np.savez(dst, **{k: v + np.asarray(delta, dtype=v.dtype) for k, v in arrays.items()})
        json.dump({"num_examples": n, "train_loss": delta}, open(dst + "-metadata", "w"))
        """.write(to: script, atomically: true, encoding: .utf8)
        return script
    }

    /// The `--train-command` for a client.
    static func command(_ script: URL, delta: Double, examples: Int, slowRounds: [Int] = [], sleepSeconds: Double = 0) -> [String] {
        let rounds = slowRounds.map(String.init).joined(separator: ",")
        return ["--train-command", "python3 \(script.path) {in} {out} \(delta) \(examples) '\(rounds)' \(sleepSeconds)"]
    }

    /// Whether the scripted trainers can run. Without numpy a test returns early, except in CI,
    /// where numpy is installed by scripts/setup.sh and its absence is a failure.
    static func ready() -> Bool {
        if numpyAvailable { return true }
        if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("numpy is required in CI") }
        return false
    }

    static var numpyAvailable: Bool {
        guard let process = try? Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-c", "import numpy"]) else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
