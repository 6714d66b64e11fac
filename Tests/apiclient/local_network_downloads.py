"""FEDn's APIClient (fedn==0.33.0, unmodified) against a network that scripts/local-network.sh
brought up: every model it downloads, before and after a session, must open with numpy.load.

    python local_network_downloads.py CONTROLLER_URL WORK_DIR
"""
import os
import sys
import time
from urllib.parse import urlparse

import numpy as np
from fedn import APIClient

url, work = urlparse(sys.argv[1]), sys.argv[2]
api = APIClient(host=url.hostname, port=url.port, secure=False)
failures = []


def downloads_open_with_numpy(label):
    models = api.get_models(n_max=100)["result"]
    for model in models:
        path = os.path.join(work, f"{label}-{model['model_id']}.npz")
        got = api.download_model(model["model_id"], path)
        try:
            with np.load(path) as npz:
                shapes = {name: npz[name].shape for name in npz.files}
            print(f"{label}: {model['model_id']} ({model.get('name')}): numpy.load ok {shapes}")
        except Exception as error:  # noqa: BLE001 - report every failing model, not just the first
            failures.append(f"{label}: {model['model_id']}: {got}: {error}")
    return len(models)


seeds = downloads_open_with_numpy("before")
started = api.start_session(name="downloads", rounds=1, round_timeout=120, min_clients=1)
session_id = started.get("session_id")
deadline = time.time() + 180
while time.time() < deadline and api.get_session(session_id).get("status") not in ("Finished", "Failed", "Terminated"):
    time.sleep(1)
status = api.get_session(session_id).get("status")
if status != "Finished":
    failures.append(f"session {session_id} ended {status}")
after = downloads_open_with_numpy("after")
if after <= seeds:
    failures.append(f"the session stored no model ({seeds} before, {after} after)")
for failure in failures:
    print("FAILED:", failure)
print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
sys.exit(1 if failures else 0)
