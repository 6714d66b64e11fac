"""External trainer for the peer-oracle test: adds a seeded, per-coordinate perturbation
(different for each client and round; client 'scale' sets its size, so one client can be an
outlier) and keeps a copy of what it sent, so the peers' code can be run on exactly the
updates Tributary aggregated.

    python3 oracle_train.py IN OUT CLIENT_INDEX SCALE NUM_EXAMPLES UPDATES_DIR
"""
import json
import os
import sys

import numpy as np

src, dst, index, scale, examples, keep = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
round_number = int(json.load(open(src + "-metadata")).get("round", 1))
rng = np.random.default_rng([index, round_number])
arrays = dict(np.load(src))
out = {k: (v + scale * rng.standard_normal(v.shape)).astype(v.dtype) for k, v in arrays.items()}
np.savez(dst, **out)
json.dump({"num_examples": examples, "train_loss": scale}, open(dst + "-metadata", "w"))

folder = os.path.join(keep, "current", f"r{round_number}")
os.makedirs(folder, exist_ok=True)
np.savez(os.path.join(folder, f"client-{index}.npz"), **out)
json.dump({"num_examples": examples}, open(os.path.join(folder, f"client-{index}.json"), "w"))
