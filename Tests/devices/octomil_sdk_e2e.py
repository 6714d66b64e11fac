"""Octomil's Python SDK, unmodified from PyPI, against a Tributary controller's device API:
`FederatedClient(api_base=…)` with one org key registers, uploads weights with `train(…,
data=<callable returning .npz bytes, n, metrics>)` (stored for its model version, then —
once a round awaits the device — folded into that round), reads its round assignment and
the round's status, pulls the model, and gets and uploads its personalized model.

    python octomil_sdk_e2e.py CONTROLLER_URL
"""
import io
import sys
import time

import numpy as np
import requests
from octomil import FederatedClient

CONTROLLER = sys.argv[1]
API = CONTROLLER + "/device-api/api/v1"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAILED:", message, flush=True)


def npz(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


key = requests.post(API + "/api-keys", json={"org_id": "sdk-org", "name": "sdk"}, timeout=30).json()["api_key"]
operator = {"Authorization": f"Bearer {key}"}
client = FederatedClient(auth_token_provider=lambda: key, org_id="sdk-org", api_base=API, device_identifier="sdk-phone-1")
device_id = client.register()
check(isinstance(device_id, str) and len(device_id) == 36, f"register returned {device_id!r}")
check(client.register() == device_id, "a second register() is the same device")

# The registry as the SDK sees it: the seed model by name, its latest version, a download.
seed = np.load(io.BytesIO(client.pull_model("seed", format="npz")))
arrays = {k: seed[k] for k in seed.files}
model_id = client._resolve_model_id("seed")
check(model_id != "seed", f"the model name 'seed' resolves to an id, got {model_id!r}")

# train() with no round open: the update is stored for the model version.
local = {k: (v + 0.25).astype(v.dtype) for k, v in arrays.items()}
results = client.train("seed", data=lambda: (npz(local), 40, {"loss": 0.3}))
check(len(results) == 1 and results[0].get("status") == "stored" and results[0].get("sample_count") == 40, f"train() stored: {results}")
summary = requests.get(API + "/training/updates/summary", params={"model_id": model_id}, headers=operator, timeout=30).json()
check(summary["total_updates"] == 1 and summary["total_samples"] == 40, f"per-version counts: {summary}")

# A round for this device: the assignment, the round status, then train() goes into the round.
round_id = requests.post(API + "/training/rounds/start", json={"target_devices": 1, "min_devices": 1, "timeout_seconds": 60},
                         headers=operator, timeout=30).json()["id"]
assignment = None
for _ in range(100):
    assignment = client.get_round_assignment()
    if assignment:
        break
    time.sleep(0.1)
check(assignment is not None and assignment.get("round_id") == round_id, f"get_round_assignment(): {assignment}")
check((assignment or {}).get("config", {}).get("model_id") == summary["version"], f"assignment config: {assignment}")
status = client.get_round_status(round_id)
check(status["status"] == "active" and status["target_devices"] == 1, f"get_round_status(): {status}")
trained = {k: (v * 0.5 + 1.0).astype(v.dtype) for k, v in arrays.items()}
results = client.train("seed", data=lambda: (npz(trained), 25, {"loss": 0.2, "accuracy": 0.8}))
check(results[0].get("status") == "aggregated_in_round" and results[0].get("round_id") == round_id, f"train() in a round: {results}")
for _ in range(100):
    status = client.get_round_status(round_id)
    if status["status"] in ("completed", "failed"):
        break
    time.sleep(0.1)
check(status["status"] == "completed", f"round ended {status['status']}: {status.get('error')}")
latest = requests.get(API + f"/models/{model_id}/versions/latest", headers=operator, timeout=30).json()
new = np.load(io.BytesIO(client.pull_model("seed", version=latest["version"], format="npz")))
for k in new.files:
    check(np.allclose(new[k], trained[k], rtol=1e-6, atol=1e-6), f"round model tensor {k} != the device's update")
check(latest["version_number"] == 2, f"the round's model is the lineage's version 2: {latest}")

# Personalization: nothing yet, then an upload, then the state with weights.
empty = client.get_personalized_model()
check(empty.get("state") is None and empty.get("has_weights") is False, f"get_personalized_model() before: {empty}")
uploaded = client.upload_personalized_update(npz(local), metrics={"accuracy": 0.91})
check(uploaded.get("has_weights") is True and uploaded.get("metrics", {}).get("accuracy") == 0.91, f"upload_personalized_update(): {uploaded}")
state = client.get_personalized_model()
check(state.get("has_weights") is True and state["state"]["metrics"]["accuracy"] == 0.91, f"get_personalized_model() after: {state}")

# A bad key is refused the SDK's way (OctomilClientError with the server's message).
try:
    FederatedClient(auth_token_provider=lambda: "trb_org_wrong", org_id="sdk-org", api_base=API).register()
    check(False, "a wrong key registered")
except Exception as error:
    check("Invalid or revoked API key" in str(error), f"wrong key: {error}")

print(f"{0 if failures else 1} passed, {len(failures)} failed", flush=True)
sys.exit(1 if failures else 0)
