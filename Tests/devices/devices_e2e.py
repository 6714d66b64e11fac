"""HTTP devices in a real network, with nothing but `requests` and NumPy — what a device
implementer writes from the README: an org key, six devices that register and heartbeat,
a round beside the network's nng clients, each device training on the global model and
uploading multipart .npz with its sample count. Then the checks a user cares about:

- the stored model equals the flat weighted FedAvg over every participant (the nng clients'
  updates are read from what their external trainer kept, UPDATES_DIR/current/r1);
- a NaN update is refused (400), recorded as a status and left out; a second update is a 409;
- a round that misses min_devices fails at its timeout; cancel works.

    python devices_e2e.py CONTROLLER_URL UPDATES_DIR NNG_CLIENTS
"""
import io
import sys
import time

import numpy as np
import requests

CONTROLLER, UPDATES, NNG = sys.argv[1], sys.argv[2], int(sys.argv[3])
API = CONTROLLER + "/device-api/api/v1"
DEVICES = [f"d{i}" for i in range(6)]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAILED:", message, flush=True)


def call(method, path, key, expect, **kwargs):
    r = requests.request(method, API + path, headers={"Authorization": f"Bearer {key}"}, timeout=60, **kwargs)
    check(r.status_code == expect, f"{method} {path}: {r.status_code} {r.text[:300]} (expected {expect})")
    return r


def npz(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def wait_round(key, round_id, statuses, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = call("GET", f"/training/rounds/{round_id}/status", key, 200).json()
        if body["status"] in statuses:
            return body
        time.sleep(0.2)
    check(False, f"round {round_id} never reached {statuses}")
    return body


org = requests.post(API + "/api-keys", json={"org_id": "e2e", "name": "devices"}, timeout=30).json()["api_key"]
keys = {}
for i, name in enumerate(DEVICES):
    body = call("POST", "/devices/register", org, 201, json={"device_identifier": name, "platform": "edge", "capabilities": {"cores": 2}}).json()
    keys[name] = body["api_key"]
    call("PUT", f"/devices/{body['id']}/heartbeat", keys[name], 200, json={"status": "active", "metrics": {"battery": 90}})

# --- A round of 6 devices beside the nng clients: exact flat weighted FedAvg ---------------
start = call("POST", "/training/rounds/start", org, 201, json={"target_devices": 6, "min_devices": 6, "timeout_seconds": 60}).json()
round_id = start["id"]
call("POST", "/training/rounds/start", org, 409, json={"target_devices": 1, "min_devices": 1})
wait_round(org, round_id, {"active"})
sent = {}
for i, name in enumerate(DEVICES):
    beat = call("PUT", f"/devices/{name}/heartbeat", keys[name], 200, json={}).json()
    check(beat["pending_round_id"] == round_id, f"{name}: heartbeat names round {beat.get('pending_round_id')}")
    status = call("GET", f"/training/rounds/{round_id}/status", keys[name], 200).json()
    global_model = np.load(io.BytesIO(call("GET", status["global_model_path"].replace("/device-api/api/v1", ""), keys[name], 200).content))
    rng = np.random.default_rng(1000 + i)
    update = {k: (global_model[k] + 0.1 * (i + 1) * rng.standard_normal(global_model[k].shape)).astype(global_model[k].dtype) for k in global_model.files}
    samples = 10 * (i + 1)
    if name == "d5":
        # A refused update is the device's answer for the round, as for an nng client: it is
        # left out (and recorded), and a retry is a 409.
        poisoned = {k: v.copy() for k, v in update.items()}
        first = next(iter(poisoned))
        poisoned[first].flat[0] = np.nan
        call("POST", f"/training/rounds/{round_id}/updates", keys[name], 400, files={"file": ("w.npz", npz(poisoned))}, data={"num_samples": str(samples)})
        call("POST", f"/training/rounds/{round_id}/updates", keys[name], 409, files={"file": ("w.npz", npz(update))}, data={"num_samples": str(samples)})
        continue
    call("POST", f"/training/rounds/{round_id}/updates", keys[name], 201, files={"file": ("w.npz", npz(update))},
         data={"num_samples": str(samples), "local_loss": "0.3", "local_accuracy": "0.9", "training_time_seconds": "1.5"})
    sent[name] = (update, samples)
call("POST", f"/training/rounds/{round_id}/updates", keys["d0"], 409, files={"file": ("w.npz", npz(sent["d0"][0]))}, data={"num_samples": "10"})

done = wait_round(org, round_id, {"completed", "failed"})
check(done["status"] == "completed", f"round ended {done['status']}: {done.get('error')}")
# The round's counts cover every participant of the round, devices and nng clients alike.
check(done["completed_devices"] == 5 + NNG and done["failed_devices"] == 1, f"completed/failed {done['completed_devices']}/{done['failed_devices']}")
aggregated = np.load(io.BytesIO(call("GET", done["aggregated_model_path"].replace("/device-api/api/v1", ""), org, 200).content))

updates = list(sent.values())
import json, os
folder = os.path.join(UPDATES, "current", "r1")
for c in range(NNG):
    with np.load(os.path.join(folder, f"client-{c}.npz")) as f:
        arrays = {k: f[k] for k in f.files}
    updates.append((arrays, json.load(open(os.path.join(folder, f"client-{c}.json")))["num_examples"]))
check(len(updates) == 5 + NNG, f"{len(updates)} updates")
total = sum(w for _, w in updates)
for k in aggregated.files:
    expected = sum(u[k].astype(np.float64) * w for u, w in updates) / total
    error = float(np.max(np.abs(aggregated[k] - expected)))
    check(error <= 1e-5 * max(1.0, float(np.max(np.abs(expected)))), f"tensor {k}: max |stored - flat FedAvg| = {error}")
print(f"round {round_id}: {len(updates)} updates ({NNG} nng, 5 HTTP; d5's NaN refused), stored model checked against the flat weighted FedAvg", flush=True)

statuses = requests.get(CONTROLLER + "/api/v1/statuses/?sender_name=d5", timeout=30).json()["result"]
check(any(s["type"] == "MODEL_UPDATE_REJECTED" for s in statuses), f"no MODEL_UPDATE_REJECTED status for d5: {statuses}")

# --- min_devices missed: only d0 is selected, and nobody sends; it fails at its timeout ------
pending = call("POST", "/training/rounds", org, 201, json={"target_devices": 6, "min_devices": 6, "timeout_seconds": 5}).json()["id"]
call("POST", f"/training/rounds/{pending}/select", org, 200, json={"device_ids": ["d0"]})
call("POST", f"/training/rounds/{pending}/start", org, 200, json={})
t0 = time.time()
failed = wait_round(org, pending, {"completed", "failed"}, timeout=60)
check(failed["status"] == "failed" and "fewer than" in (failed.get("error") or ""), f"min_devices round: {failed['status']} {failed.get('error')}")
check(time.time() - t0 >= 4, f"failed after {time.time() - t0:.1f}s, before its 5 s timeout")

# --- cancel: a running round's updates are discarded; devices learn it on their heartbeat ----
running = call("POST", "/training/rounds/start", org, 201, json={"target_devices": 6, "min_devices": 6, "timeout_seconds": 60}).json()["id"]
wait_round(org, running, {"active"})
call("POST", f"/training/rounds/{running}/updates", keys["d1"], 201, files={"file": ("w.npz", npz(sent["d1"][0]))}, data={"num_samples": "20"})
cancelled = call("POST", f"/training/rounds/{running}/cancel", org, 200, json={}).json()
check(cancelled["status"] == "cancelled" and cancelled["aggregated_model_path"] is None, f"cancel: {cancelled}")
beat = call("PUT", "/devices/d2/heartbeat", keys["d2"], 200, json={}).json()
check(beat.get("cancelled_round_id") == running and beat["pending_round_id"] is None, f"heartbeat after cancel: {beat}")
call("POST", f"/training/rounds/{running}/updates", keys["d2"], 409, files={"file": ("w.npz", npz(sent["d2"][0]))}, data={"num_samples": "30"})

print(f"{0 if failures else 1} passed, {len(failures)} failed", flush=True)
sys.exit(1 if failures else 0)
