"""Recomputes Tributary sessions with the peers' own strategy code and compares every stored
model: Flower 1.42's `flwr.serverapp.strategy` classes (run with the flwr virtualenv) or FEDn
0.33's fedopt aggregator (`fedn.network.combiner.aggregators.fedopt`, with the fedn one).

    python peer_oracle.py MANIFEST.json [MANIFEST.json ...]

A manifest (written by PeerOracleTests.swift) names the strategy and its kwargs for the peer,
the seed model, and per round the model Tributary stored and the client updates it received
(as the clients' trainer saved them). The peer starts from the seed and carries its own state
from round to round, as it would in its own server. Prints one line per round; exits 1 on a
mismatch.
"""
import json
import os
import sys

import numpy as np

# float32 models: Tributary folds and steps in float64 and rounds once, Flower computes in
# float32 throughout, FEDn's fedopt in float64. Allowed: 8 float32 ulps of the value, counting
# values below 1 as 1 (an optimizer step's rounding is relative to its terms, ~0.1, not to a
# coordinate that happens to be near 0). Seen: ≤ 3 ulps.
ULPS = 8


def close(ours, theirs):
    theirs = np.asarray(theirs, dtype=np.float64)
    allowed = ULPS * np.spacing(np.maximum(np.abs(theirs), 1.0).astype(np.float32)).astype(np.float64)
    return bool(np.all(np.abs(ours.astype(np.float64) - theirs) <= allowed))


def load(path):
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def flower_rounds(manifest, seed, rounds):
    from flwr.app import Array, ArrayRecord, Message, MetricRecord, RecordDict
    from flwr.serverapp import strategy as flwr_strategy
    from flwr.supercore.task_identity import TaskIdentity

    TaskIdentity.run_id, TaskIdentity.task_id, TaskIdentity.node_id = 1, 1, 0  # as a ServerApp runtime sets them
    strategy = getattr(flwr_strategy, manifest["peer_class"])(**manifest.get("peer_kwargs", {}))
    current = seed
    for number, (updates, weights) in enumerate(rounds, start=1):
        # What `configure_train` records for the round (FedOpt family: dict; FedAvgM: ArrayRecord).
        if hasattr(strategy, "current_arrays"):
            if manifest["peer_class"] == "FedAvgM":
                if strategy.current_arrays is None:
                    strategy.current_arrays = ArrayRecord({k: Array(v.copy()) for k, v in current.items()})
            else:
                strategy.current_arrays = {k: v.copy() for k, v in current.items()}
        replies = [
            Message(content=RecordDict({"arrays": ArrayRecord({k: Array(v.copy()) for k, v in u.items()}),
                                        "metrics": MetricRecord({"num-examples": n})}),
                    dst_node_id=i + 1, message_type="train")
            for i, (u, n) in enumerate(zip(updates, weights))
        ]
        arrays, _ = strategy.aggregate_train(number, replies)
        current = {k: arrays[k].numpy() for k in current}
        yield current


def fedn_rounds(manifest, seed, rounds):
    from fedn.network.combiner.aggregators.fedopt import Aggregator
    from fedn.utils.helpers.plugins.numpyhelper import Helper

    helper, aggregator = Helper(), Aggregator(None)
    parameters = {**{"serveropt": "adam", "learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99, "tau": 1e-4}, **manifest.get("peer_kwargs", {})}
    keys = list(seed)
    old = [seed[k] for k in keys]
    for updates, weights in rounds:
        # FEDn's combine_models loop: the example-weighted incremental mean of (update − old).
        pseudo_gradient, total = None, 0
        for u, n in zip(updates, weights):
            total += n
            step = helper.subtract([u[k] for k in keys], old)
            pseudo_gradient = step if pseudo_gradient is None else helper.increment_average(pseudo_gradient, step, n, total)
        old = aggregator._apply_server_optimizer(helper, pseudo_gradient, old, parameters)
        yield dict(zip(keys, old))


def check(manifest_path):
    manifest = json.load(open(manifest_path))
    base = os.path.dirname(manifest_path)
    seed = load(os.path.join(base, manifest["seed"]))
    rounds, stored = [], []
    for r in manifest["rounds"]:
        updates = [load(os.path.join(base, u["path"])) for u in r["updates"]]
        rounds.append((updates, [u["num_examples"] for u in r["updates"]]))
        stored.append(load(os.path.join(base, r["model"])))
    peer = flower_rounds if manifest["peer"] == "flower" else fedn_rounds
    ok = True
    for number, (theirs, ours) in enumerate(zip(peer(manifest, seed, rounds), stored), start=1):
        worst = max(float(np.max(np.abs(ours[k].astype(np.float64) - np.asarray(theirs[k], dtype=np.float64)))) for k in ours)
        same = all(close(ours[k], theirs[k]) for k in ours)
        moved = max(float(np.max(np.abs(ours[k].astype(np.float64) - seed[k]))) for k in ours)
        print(f"{manifest['label']}: round {number}: max |tributary - {manifest['peer']}| = {worst:.3g} (model moved {moved:.3g} from the seed) {'ok' if same else 'MISMATCH'}")
        ok &= same
    return ok


if __name__ == "__main__":
    results = [check(path) for path in sys.argv[1:]]
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
    sys.exit(0 if all(results) else 1)
