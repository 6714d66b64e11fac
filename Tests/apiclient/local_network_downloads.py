"""FEDn's APIClient (fedn==0.33.0, unmodified) against a network that scripts/local-network.sh
brought up: every model it downloads, before and after a session, must open with numpy.load.

    python local_network_downloads.py CONTROLLER_URL WORK_DIR [ADMIN_TOKEN CA_PEM]

With a token and CA (a network brought up with --secure), the client speaks HTTPS trusting only
that CA and sends the token, and a request without the token must be refused with 401.
"""
import os
import sys
import time
from urllib.parse import urlparse

import numpy as np
import requests
from fedn import APIClient

url, work = urlparse(sys.argv[1]), sys.argv[2]
token, ca = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, False)
api = APIClient(host=url.hostname, port=url.port, secure=url.scheme == "https", verify=ca, token=token)
failures = []
if token:
    anonymous = requests.get(f"{sys.argv[1]}/api/v1/combiners/", verify=ca, timeout=10)
    print(f"without a token: {anonymous.status_code}")
    if anonymous.status_code != 401:
        failures.append(f"a request without a token got {anonymous.status_code}, not 401")


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
