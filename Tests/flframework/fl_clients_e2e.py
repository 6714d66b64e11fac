"""Three FL-framework clients doing what the seed's Python client (`FLClient`, seed 003) does,
against a running Tributary network: register, start training, poll the status, download the
global model, train locally with NumPy (softmax regression on the bundled digits), upload the
update with metrics — for every round of a 3-round experiment, beside the network's nng
clients. Then reads metrics and scores back and checks them against what the clients did.

    python fl_clients_e2e.py SERVER_URL DIGITS_CSV NNG_CLIENTS
"""
import io
import json
import sys
import threading
import time

import numpy as np
import requests

SERVER_URL, DIGITS, NNG_CLIENTS = sys.argv[1], sys.argv[2], int(sys.argv[3])
ROUNDS, IDS = 3, ["fl-a", "fl-b", "fl-c"]
failures, lock = [], threading.Lock()


def fail(message):
    with lock:
        failures.append(message)
    print("FAILED:", message, flush=True)


class FLClient:
    """The seed's Python client, plus the model download it describes."""

    def __init__(self, server_url, api_key=None):
        self.base_url = f"{server_url}/api/v1"
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}" if api_key else None}
        self.headers = {k: v for k, v in self.headers.items() if v}

    def register_client(self, client_id, config):
        return requests.post(f"{self.base_url}/clients/register", headers=self.headers, json={"client_id": client_id, "client_config": config}, timeout=30)

    def get_training_status(self):
        return requests.get(f"{self.base_url}/training/status", headers=self.headers, timeout=30).json()

    def start_training(self, config):
        return requests.post(f"{self.base_url}/training/start", headers=self.headers, json=config, timeout=30)

    def global_model(self):
        meta = requests.get(f"{self.base_url}/model/global", headers=self.headers, timeout=30).json()
        blob = requests.get(self.base_url + meta["download_url"], headers=self.headers, timeout=60)
        blob.raise_for_status()
        with np.load(io.BytesIO(blob.content)) as npz:
            return meta, {k: npz[k] for k in npz.files}

    def upload_model_update(self, client_id, model_file, metrics):
        files = {"model_file": model_file}
        data = {"metrics": json.dumps(metrics)}
        headers = {"Authorization": self.headers["Authorization"]} if "Authorization" in self.headers else {}
        return requests.post(f"{self.base_url}/model/update/{client_id}", headers=headers, files=files, data=data, timeout=60)


data = np.loadtxt(DIGITS, delimiter=",")
features, labels = data[:, :64] / 16.0, data[:, 64].astype(int)


def train(weights, index, epochs=2, lr=0.1):
    """Softmax regression, full-batch gradient steps on this client's share of the digits."""
    x, y = features[index::5], labels[index::5]
    w, b = weights["dense.weight"].astype(np.float64), weights["dense.bias"].astype(np.float64)
    start = time.time()
    for _ in range(epochs * 10):
        logits = x @ w.T + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        onehot = np.eye(10)[y]
        w -= lr * (p - onehot).T @ x / len(x)
        b -= lr * (p - onehot).mean(axis=0)
    logits = x @ w.T + b
    loss = float(-np.mean(np.log(np.exp(logits - logits.max(1, keepdims=True))[np.arange(len(y)), y] / np.exp(logits - logits.max(1, keepdims=True)).sum(1))))
    accuracy = float(np.mean(logits.argmax(axis=1) == y))
    out = {"dense.weight": w.astype(np.float32), "dense.bias": b.astype(np.float32)}
    return out, {"local_accuracy": accuracy, "local_loss": loss, "training_time": time.time() - start,
                 "data_samples": int(len(x)), "epochs_completed": epochs}


sent = {cid: {} for cid in IDS}  # client → round → data_samples


def participate(index, cid):
    client = FLClient(SERVER_URL, api_key=f"key-{cid}")
    done_rounds, deadline = set(), time.time() + 240
    while time.time() < deadline:
        status = client.get_training_status()
        if status.get("status") in ("completed", "failed", "stopped"):
            break
        round_number = status.get("current_round")
        if status.get("accepting_updates") and round_number not in done_rounds:
            meta, weights = client.global_model()
            update, metrics = train(weights, index)
            buffer = io.BytesIO()
            np.savez(buffer, **update)
            buffer.seek(0)
            answer = client.upload_model_update(cid, ("update.npz", buffer, "application/octet-stream"), metrics)
            body = answer.json()
            if answer.status_code == 201 and body.get("round") == round_number:
                done_rounds.add(round_number)
                sent[cid][round_number] = metrics["data_samples"]
                print(f"{cid}: round {round_number}: update received ({metrics['data_samples']} samples, local accuracy {metrics['local_accuracy']:.3f})", flush=True)
            elif body.get("error", {}).get("code") != "ROUND_NOT_ACTIVE":
                fail(f"{cid}: round {round_number}: upload answered {answer.status_code} {body}")
        time.sleep(0.5)
    if len(done_rounds) != ROUNDS:
        fail(f"{cid}: took part in rounds {sorted(done_rounds)}, expected {ROUNDS}")


admin = FLClient(SERVER_URL, api_key="key-operator")
for cid in IDS:
    r = admin.register_client(cid, {"batch_size": 32, "local_epochs": 2, "learning_rate": 0.1})
    if r.status_code != 201 or r.json().get("status") != "registered":
        fail(f"register {cid}: {r.status_code} {r.text}")
    if "X-RateLimit-Remaining" not in r.headers:
        fail("no X-RateLimit-Remaining header")
again = admin.register_client(IDS[0], {})
if again.status_code != 409 or again.json()["error"]["code"] != "CONFLICT":
    fail(f"a second registration of {IDS[0]} answered {again.status_code} {again.text}")

start = admin.start_training({
    "experiment_config": {"experiment_id": "exp_e2e", "rounds": ROUNDS, "min_clients": len(IDS) + NNG_CLIENTS, "round_timeout": 90},
    "training_config": {"local_epochs": 1, "batch_size": 32, "learning_rate": 0.1, "optimizer": "SGD"},
    "aggregation_config": {"strategy": "FedAvg", "weighted": True, "min_updates": len(IDS) + NNG_CLIENTS},
})
if start.status_code != 201 or start.json().get("status") != "started":
    fail(f"start training: {start.status_code} {start.text}")
busy = admin.start_training({"experiment_config": {"rounds": 1}})
if busy.status_code != 409 or busy.json()["error"]["code"] != "TRAINING_ALREADY_RUNNING":
    fail(f"a second start answered {busy.status_code} {busy.text}")

threads = [threading.Thread(target=participate, args=(i, cid)) for i, cid in enumerate(IDS)]
for t in threads:
    t.start()
for t in threads:
    t.join()

status = admin.get_training_status()
if status.get("status") != "completed" or status.get("progress") != 1.0:
    fail(f"final status {status}")

# --- What the API reports, against what the clients did ------------------------------------
metrics = requests.get(f"{SERVER_URL}/api/v1/metrics/training", params={"experiment_id": "exp_e2e"}, timeout=30).json()
rounds = metrics.get("rounds", [])
if [r["round"] for r in rounds] != list(range(1, ROUNDS + 1)):
    fail(f"metrics/training rounds {[r.get('round') for r in rounds]}")
edge = requests.get(f"{SERVER_URL.rsplit('/fl', 1)[0]}/api/v1/rounds/", params={"session_id": "exp_e2e"}, timeout=30).json()["result"]
by_number = {r["round_number"]: r for r in edge}
for r in rounds:
    n = r["round"]
    if r["participating_clients"] != len(IDS) + NNG_CLIENTS:
        fail(f"round {n}: {r['participating_clients']} participants, expected {len(IDS) + NNG_CLIENTS}")
    for cid in IDS:
        got = r["client_metrics"].get(cid, {}).get("data_samples")
        if got != sent[cid].get(n):
            fail(f"round {n}: client_metrics[{cid}].data_samples = {got}, the client sent {sent[cid].get(n)}")
    # The round's weight is every contributor's example count: HTTP and nng together.
    folded = by_number[n]["round_data"]["num_examples"]
    http = sum(sent[cid][n] for cid in IDS)
    nng = sum(v["data_samples"] for k, v in r["client_metrics"].items() if k not in IDS)
    if abs(folded - (http + nng)) > 1e-6:
        fail(f"round {n}: round_data.num_examples {folded} != HTTP {http} + nng {nng}")
    if r["global_accuracy"] is None or not 0 <= r["global_accuracy"] <= 1:
        fail(f"round {n}: global_accuracy {r['global_accuracy']}")
summary = metrics.get("summary", {})
accuracies = [r["global_accuracy"] for r in rounds]
if summary.get("total_rounds") != ROUNDS or abs(summary.get("best_accuracy", -1) - max(accuracies)) > 1e-12:
    fail(f"summary {summary} vs accuracies {accuracies}")
if abs(summary["convergence_rate"] - (accuracies[-1] - accuracies[0]) / (ROUNDS - 1)) > 1e-12:
    fail(f"convergence_rate {summary['convergence_rate']}")

total_examples = sum(sum(v["data_samples"] for v in r["client_metrics"].values()) for r in rounds)
for cid in IDS:
    stats = requests.get(f"{SERVER_URL}/api/v1/metrics/clients/{cid}", timeout=30).json()["statistics"]
    mine = sum(sent[cid].values())
    if stats["total_rounds_participated"] != ROUNDS or stats["reliability_score"] != 1.0 or stats["trust_score"] != 1.0:
        fail(f"{cid} statistics {stats}")
    if abs(stats["contribution_score"] - mine / total_examples) > 1e-9:
        fail(f"{cid}: contribution_score {stats['contribution_score']} != {mine}/{total_examples}")
    entry = requests.get(f"{SERVER_URL}/api/v1/clients/{cid}", timeout=30).json()
    if entry.get("current_round") != ROUNDS or abs(entry["contribution_score"] - mine / total_examples) > 1e-9:
        fail(f"clients/{cid}: {entry}")
final = requests.get(f"{SERVER_URL}/api/v1/model/global", timeout=30).json()
if final.get("round") != ROUNDS or final.get("accuracy") != accuracies[-1]:
    fail(f"model/global {final}")
print(f"accuracy by round: {accuracies}")
print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
sys.exit(1 if failures else 0)
