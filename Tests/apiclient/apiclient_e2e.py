"""FEDn's Python APIClient (fedn==0.33.0, unmodified) driving a running Tributary network.

    apiclient_e2e.py --host 127.0.0.1 --port 8092 [--clients 4] [--combiners 2]

Expects a fresh network: a controller, COMBINERS combiners and CLIENTS online clients running
the built-in digits trainer, no models and no sessions yet. Everything goes through
`fedn.APIClient`: it uploads a seed model, trains a 2-round session, continues it by 1 round,
reads everything back, sets client attributes and runs a prediction. Prints one line per
check: PASS, FAIL with the reason and the HTTP exchanges that check made, or SKIP when a check
it depends on failed; exits 1 unless every check passed. (The exchanges are recorded by
wrapping requests.Session.send; the APIClient itself is untouched.)
"""
import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
import zipfile

import numpy as np
import requests
from fedn import APIClient

# --- HTTP exchanges, for the failure reasons ----------------------------------------------

EXCHANGES = []
_send = requests.Session.send


def _recording_send(self, request, **kwargs):
    response = _send(self, request, **kwargs)
    try:
        body = response.content.decode("utf-8")[:240].replace("\n", " ")
    except UnicodeDecodeError:
        body = f"<{len(response.content)} bytes, binary, starting {response.content[:8]!r}>"
    EXCHANGES.append(f"{request.method} {request.path_url} -> {response.status_code} {body}")
    return response


requests.Session.send = _recording_send

# --- Checks -------------------------------------------------------------------------------


class Failed(Exception):
    pass


class Skipped(Exception):
    pass


def expect(condition, reason):
    if not condition:
        raise Failed(reason)


def need(*values):
    """Skips the check when an earlier one could not produce what it needs."""
    if any(v is None for v in values):
        raise Skipped("an earlier check it depends on failed")


def count_of(value):
    """A `/count` answer must be a bare JSON integer."""
    expect(type(value) is int, f"expected a bare integer, got {value!r}")
    return value


def envelope(value, what):
    """A list answer must be {"count": total, "result": [...]}."""
    expect(isinstance(value, dict) and isinstance(value.get("result"), list) and type(value.get("count")) is int,
           f"{what}: expected {{count, result}}, got {str(value)[:300]}")
    return value["result"]


class Report:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, fn):
        """Runs one check; returns its value, or None when it failed or was skipped."""
        first = len(EXCHANGES)
        try:
            value = fn()
        except Skipped as e:
            self.skipped += 1
            print(f"SKIP  {name}: {e}", flush=True)
            return None
        except Exception as e:  # Failed, or whatever the APIClient raised (JSON errors, HTTPError)
            self.failed += 1
            reason = str(e) if isinstance(e, Failed) else f"{type(e).__name__}: {e}"
            print(f"FAIL  {name}: {reason}", flush=True)
            for line in EXCHANGES[first:][-6:]:
                print(f"        {line}", flush=True)
            return None
        self.passed += 1
        print(f"PASS  {name}", flush=True)
        return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=4, help="online clients the network has")
    parser.add_argument("--combiners", type=int, default=2, help="combiners the network has")
    args = parser.parse_args()
    api = APIClient(args.host, args.port)
    r = Report()
    work = tempfile.mkdtemp(prefix="apiclient-e2e-")
    atexit.register(shutil.rmtree, work, True)
    n_clients, n_combiners = args.clients, args.combiners
    session_name = f"apiclient-e2e-{uuid.uuid4().hex[:8]}"
    ROUND_TIMEOUT = 60

    # --- Network: combiners and clients ---------------------------------------------------

    def combiners():
        result = envelope(api.get_combiners(), "get_combiners")
        expect(len(result) == n_combiners, f"{len(result)} combiners listed, expected {n_combiners}")
        expect(api.get_combiners()["count"] == n_combiners, "count differs from the list")
        names = {c.get("name") for c in result}
        expect(len(names) == n_combiners and None not in names, f"combiner names {names}")
        return result

    combiner_list = r.check("get_combiners lists every combiner", combiners)
    combiner_names = {c["name"] for c in combiner_list} if combiner_list else None

    def combiner_each():
        need(combiner_list)
        for c in combiner_list:
            got = api.get_combiner(c["combiner_id"])
            expect(isinstance(got, dict) and got.get("combiner_id") == c["combiner_id"] and got.get("name") == c["name"],
                   f"get_combiner({c['combiner_id']!r}) returned {str(got)[:300]}")

    r.check("get_combiner(id) returns that combiner", combiner_each)
    r.check("get_combiners_count", lambda: expect(count_of(api.get_combiners_count()) == n_combiners,
                                                  f"expected {n_combiners}"))

    def clients():
        result = envelope(api.get_clients(), "get_clients")
        expect(len(result) == n_clients, f"{len(result)} clients listed, expected {n_clients}")
        for c in result:
            expect(isinstance(c.get("client_id"), str) and isinstance(c.get("name"), str), f"client without id/name: {c}")
            expect(c.get("status") == "online", f"client {c.get('client_id')} has status {c.get('status')!r}")
            if combiner_names:
                expect(c.get("combiner") in combiner_names, f"client {c['client_id']} on unknown combiner {c.get('combiner')!r}")
        return result

    client_list = r.check("get_clients lists every client, online, on a known combiner", clients)
    client_ids = [c["client_id"] for c in client_list] if client_list else None

    def client_each():
        need(client_ids)
        for cid in client_ids:
            got = api.get_client(cid)
            expect(isinstance(got, dict) and got.get("client_id") == cid, f"get_client({cid!r}) returned {str(got)[:300]}")

    r.check("get_client(id) returns that client", client_each)
    r.check("get_clients_count", lambda: expect(count_of(api.get_clients_count()) == n_clients, f"expected {n_clients}"))

    def active_clients():
        need(combiner_names)
        result = envelope(api.get_active_clients(), "get_active_clients")
        expect(len(result) == n_clients and all(c.get("status") == "online" for c in result),
               f"expected {n_clients} online clients, got {[(c.get('client_id'), c.get('status')) for c in result]}")
        per_combiner = 0
        for name in combiner_names:
            mine = envelope(api.get_active_clients(combiner_id=name), f"get_active_clients({name})")
            expect(all(c.get("combiner") == name for c in mine), f"combiner filter {name!r} returned {mine}")
            per_combiner += len(mine)
        expect(per_combiner == n_clients, f"clients per combiner add up to {per_combiner}, expected {n_clients}")
        expect(len(envelope(api.get_active_clients(n_max=1), "n_max=1")) == 1, "n_max=1 (X-Limit) did not limit")

    r.check("get_active_clients, by combiner and with n_max", active_clients)
    r.check("get_controller_status is idle before any session",
            lambda: expect(api.get_controller_status().get("state") == "idle", "expected state 'idle'"))

    # --- Seed model -------------------------------------------------------------------------

    rng = np.random.default_rng(7)
    seed_weight = (0.01 * rng.standard_normal((10, 64))).astype(np.float32)
    seed_bias = np.zeros(10, dtype=np.float32)
    seed_path = os.path.join(work, "seed.npz")
    # The built-in trainer's layout: dense.weight float32 [10, 64] (row = class), dense.bias float32 [10].
    np.savez_compressed(seed_path, **{"dense.weight": seed_weight, "dense.bias": seed_bias})

    def upload():
        got = api.set_active_model(seed_path)
        expect(isinstance(got, dict) and got.get("success") is True, f"set_active_model returned {got}")

    r.check("set_active_model(seed.npz)", upload)

    def seed_is_active():
        model = api.get_active_model()
        expect(isinstance(model, dict) and isinstance(model.get("model_id"), str), f"get_active_model returned {str(model)[:300]}")
        expect(model.get("parent_model") is None and model.get("session_id") is None, f"seed has parent/session: {model}")
        expect(count_of(api.get_models_count()) == 1, "expected 1 model")
        return model["model_id"]

    seed_id = r.check("get_active_model is the uploaded seed", seed_is_active)

    def seed_downloads_as_npz_before_any_session():
        need(seed_id)
        path = os.path.join(work, "seed-before.download")
        got = api.download_model(seed_id, path)
        expect(got.get("success") is True, f"download_model(seed) returned {got}")
        with np.load(path) as npz:
            expect(np.array_equal(npz["dense.weight"], seed_weight), "the seed downloaded before a session differs")

    r.check("download_model(seed) before any session: numpy.load opens it", seed_downloads_as_npz_before_any_session)

    # --- A 2-round session ----------------------------------------------------------------

    def start():
        got = api.start_session(name=session_name, rounds=2, round_timeout=ROUND_TIMEOUT, min_clients=n_clients)
        expect(isinstance(got, dict) and isinstance(got.get("session_id"), str) and got.get("message") == "Session started",
               f"start_session returned {got}")
        return got["session_id"]

    session_id = r.check("start_session(name, rounds=2, round_timeout=60, min_clients)", start)
    running_states = []  # get_controller_status() seen while the session was Started

    def wait_finished(total_rounds=None):
        """Polls until the session is Finished (with `total_rounds` rounds in all, when given:
        a continued session is still Finished until its next run starts)."""
        need(session_id)
        deadline = time.monotonic() + 2 * ROUND_TIMEOUT + 60
        status = rounds_done = None
        while time.monotonic() < deadline:
            status = api.get_session_status(session_id)
            if status == "Started":
                try:
                    state = api.get_controller_status()
                    if status == api.get_session_status(session_id):  # still running after the sample
                        running_states.append(state)
                except Exception:
                    pass  # its own check reports it
            if api.session_is_finished(session_id):
                if total_rounds is None:
                    return
                try:
                    rounds_done = api.get_rounds_count()
                except Exception as e:
                    rounds_done = f"{type(e).__name__}: {e}"
                if rounds_done == total_rounds:
                    return
            elif status in ("Failed", "Terminated"):
                raise Failed(f"session ended {status}")
            time.sleep(0.5)
        raise Failed(f"not Finished before the deadline (status {status!r}, get_rounds_count {rounds_done!r})")

    finished = r.check("session_is_finished becomes true", lambda: wait_finished() or True)

    def session_by_id():
        need(session_id, finished)
        s = api.get_session(session_id)
        expect(isinstance(s, dict) and s.get("session_id") == session_id and s.get("name") == session_name, f"got {str(s)[:300]}")
        expect(s.get("status") == "Finished", f"status {s.get('status')!r}")
        expect(s.get("seed_model_id") == seed_id, f"seed_model_id {s.get('seed_model_id')!r}, expected {seed_id!r}")
        config = s.get("session_config") or {}
        for key, value in {"aggregator": "fedavg", "clients_required": n_clients, "validate": True,
                           "round_timeout": ROUND_TIMEOUT, "helper_type": "numpyhelper"}.items():
            expect(config.get(key) == value, f"session_config.{key} = {config.get(key)!r}, expected {value!r}")

    r.check("get_session(id): Finished, seed and session_config as started", session_by_id)

    def session_by_name():
        need(session_id)
        s = api.get_session(name=session_name)
        expect(isinstance(s, dict) and s.get("session_id") == session_id, f"get_session(name=) returned {str(s)[:300]}")

    r.check("get_session(name=) finds it (GET /sessions?name=, no slash)", session_by_name)

    def sessions():
        need(session_id)
        result = envelope(api.get_sessions(), "get_sessions")
        expect([s.get("session_id") for s in result] == [session_id], f"expected only {session_id}, got {result}")
        expect(len(envelope(api.get_sessions(name=session_name), "by name")) == 1, "name filter did not find it")
        expect(envelope(api.get_sessions(name="no-such-session"), "by other name") == [], "name filter matched another name")
        expect(count_of(api.get_sessions_count()) == 1, "get_sessions_count is not 1")

    r.check("get_sessions (+ name filter), get_sessions_count", sessions)

    def check_rounds(total):
        need(session_id, finished, combiner_names)
        result = envelope(api.get_rounds(), "get_rounds")
        expect(len(result) == total and api.get_rounds()["count"] == total, f"{len(result)} rounds listed, expected {total}")
        for rd in result:
            rid = rd.get("round_id")
            expect(rd.get("status") == "Finished", f"round {rid} status {rd.get('status')!r}")
            reports = rd.get("combiners")
            expect(isinstance(reports, list), f"round {rid} has no combiners list: {str(rd)[:300]}")
            expect({c.get("name") for c in reports} == combiner_names, f"round {rid} reports from {[c.get('name') for c in reports]}")
            expect(all(c.get("status") == "Success" for c in reports), f"round {rid} reports {[c.get('status') for c in reports]}")
            got = api.get_round(rid)
            expect(isinstance(got, dict) and got.get("round_id") == rid and got.get("status") == "Finished",
                   f"get_round({rid!r}) returned {str(got)[:300]}")
        expect(count_of(api.get_rounds_count()) == total, f"get_rounds_count is not {total}")

    r.check("get_rounds / get_round / get_rounds_count: 2 Finished rounds, a Success report per combiner",
            lambda: check_rounds(2))

    def check_models(total_rounds):
        """Seed + one model per round, each round's model the child of the one before."""
        need(seed_id, session_id, finished)
        total = 1 + total_rounds
        result = envelope(api.get_models(), "get_models")
        expect(len(result) == total and api.get_models()["count"] == total, f"{len(result)} models listed, expected {total}")
        expect(count_of(api.get_models_count()) == total, f"get_models_count is not {total}")
        limited = api.get_models(n_max=1)
        expect(len(envelope(limited, "n_max=1")) == 1 and limited["count"] == total,
               f"n_max=1 must return 1 model and the full count, got count {limited.get('count')}")
        mine = envelope(api.get_models(session_id=session_id), "get_models(session_id)")
        expect(len(mine) == total_rounds and all(m.get("session_id") == session_id for m in mine),
               f"session filter returned {[(m.get('model_id'), m.get('session_id')) for m in mine]}")
        by_id = {m["model_id"]: m for m in result}
        for model_id in by_id:
            got = api.get_model(model_id)
            expect(isinstance(got, dict) and got.get("model_id") == model_id, f"get_model({model_id!r}) returned {str(got)[:300]}")
        active = api.get_active_model()
        expect(isinstance(active, dict) and active.get("model_id") in by_id, f"get_active_model returned {str(active)[:300]}")
        chain = [active["model_id"]]  # newest first, following parent_model
        while by_id[chain[-1]].get("parent_model") is not None and len(chain) <= total:
            parent = by_id[chain[-1]]["parent_model"]
            expect(parent in by_id, f"model {chain[-1]} has unknown parent {parent!r}")
            chain.append(parent)
        expect(chain[-1] == seed_id and len(chain) == total, f"parent_model chain from the active model is {chain}")
        trail = api.get_model_trail()
        expect(isinstance(trail, list) and [m.get("model_id") for m in trail] == chain[::-1],
               f"get_model_trail() = {[m.get('model_id') for m in trail] if isinstance(trail, list) else trail}, expected {chain[::-1]}")
        parents = api.get_model_trail(chain[0], include_self=False, reverse=False)
        expect(isinstance(parents, list) and [m.get("model_id") for m in parents] == chain[1:],
               f"get_model_trail(active, include_self=False, reverse=False) = {parents}, expected {chain[1:]}")

    r.check("get_models / get_models_count / get_model / get_active_model / get_model_trail: seed + 2, chained",
            lambda: check_models(2))

    def latest_model_id():
        model = api.get_active_model()
        expect(isinstance(model, dict) and isinstance(model.get("model_id"), str), f"get_active_model returned {str(model)[:300]}")
        return model["model_id"]

    def session_model_ids():
        return [m["model_id"] for m in envelope(api.get_models(), "get_models") if m.get("session_id") == session_id]

    def download():
        need(seed_id, finished)
        for model_id, label in ((seed_id, "seed"), (latest_model_id(), "latest")):
            path = os.path.join(work, f"{label}.download")
            got = api.download_model(model_id, path)
            expect(got.get("success") is True, f"download_model({label}) returned {got}")
            expect(os.path.getsize(path) > 0, f"download_model({label}) wrote an empty file")
            with open(path, "rb") as f:
                head = f.read(8)
            expect(zipfile.is_zipfile(path), f"the downloaded {label} is not a NumPy .npz (it starts with {head!r})")
            with np.load(path) as npz:
                arrays = [npz[name] for name in npz.files]
            shapes = [(a.shape, a.dtype) for a in arrays]
            expect(shapes == [((10, 64), np.float32), ((10,), np.float32)], f"downloaded {label} arrays {shapes}")
            if label == "seed":
                expect(np.array_equal(arrays[0], seed_weight) and np.array_equal(arrays[1], seed_bias), "seed bytes changed")
            else:
                expect(np.isfinite(arrays[0]).all() and not np.array_equal(arrays[0], seed_weight), "latest model is not trained")

    r.check("download_model: seed and latest land as .npz (seed unchanged, latest trained)", download)

    def validations(total_rounds):
        """Every validation of the session is well-formed, and every client validated each round's model."""
        need(finished, client_list)
        expected_models = session_model_ids()
        expect(len(expected_models) == total_rounds, f"the session has {len(expected_models)} models, expected {total_rounds}")
        names = {c["name"] for c in client_list}
        result = envelope(api.get_validations(session_id=session_id), "get_validations")
        expect(api.get_validations(session_id=session_id)["count"] == len(result), "count differs from the list")
        for v in result:
            expect(v.get("session_id") == session_id, f"validation of another session: {str(v)[:300]}")
            expect(isinstance(v.get("sender"), dict) and v["sender"].get("name") in names, f"sender {v.get('sender')!r}")
            try:
                metrics = json.loads(v.get("data"))
            except Exception:
                raise Failed(f"data is not a JSON string: {v.get('data')!r}")
            expect(isinstance(metrics, dict) and metrics and all(isinstance(x, (int, float)) for x in metrics.values()),
                   f"data is not numeric metrics: {metrics!r}")
        missing = {m: sorted(names - {v["sender"]["name"] for v in result if v.get("model_id") == m}) for m in expected_models}
        missing = {m: who for m, who in missing.items() if who}
        expect(not missing, f"round models without a validation from these clients: {missing}")

    r.check("get_validations(session_id=): every client validated each round's model", lambda: validations(2))

    def statuses():
        need(session_id)
        result = envelope(api.get_statuses(session_id=session_id), "get_statuses")
        expect(result, "no status events for the session")
        for s in result:
            expect(s.get("session_id") == session_id, f"status of another session: {str(s)[:300]}")
            expect(isinstance(s.get("status"), str) and isinstance(s.get("type"), str), f"status without status/type: {s}")
            expect(isinstance(s.get("sender"), dict) and "name" in s["sender"], f"sender {s.get('sender')!r}")

    r.check("get_statuses(session_id=): the session's events", statuses)

    def controller_states():
        need(finished)
        expect(api.get_controller_status().get("state") == "idle", "not idle after the session")
        wrong = [s for s in running_states if s.get("state") not in ("instructing", "monitoring")]
        expect(not wrong, f"while the session was Started: {wrong[:3]}")

    r.check("get_controller_status: instructing/monitoring while Started, idle after", controller_states)

    # --- Continue by one round ----------------------------------------------------------

    def continue_one():
        need(session_id, finished)
        got = api.continue_session(session_id, rounds=1)
        expect(got.get("message") == "Session started", f"continue_session returned {got}")
        wait_finished(3)
        return True

    continued = r.check("continue_session(rounds=1), then Finished again", continue_one)

    def after_continue(fn):
        need(continued)
        return fn()

    r.check("get_rounds: 3 Finished rounds after continuing", lambda: after_continue(lambda: check_rounds(3)))
    r.check("models: seed + 3, the continued round's model a child of round 2's", lambda: after_continue(lambda: check_models(3)))
    r.check("get_validations(session_id=): the continued round's model too",
            lambda: after_continue(lambda: validations(3)))

    # --- Client attributes --------------------------------------------------------------

    def attributes():
        need(client_list)
        first, other = client_list[0], client_list[1 % len(client_list)]
        sender = {"name": first["name"], "role": "client", "client_id": first["client_id"]}
        for value in ("lab-a", "lab-b"):
            got = api.add_attributes({"key": "site", "value": value, "sender": sender})
            expect(isinstance(got, dict) and got.get("key") == "site" and got.get("value") == value, f"add_attributes returned {got}")
        current = api.get_current_attributes([first["client_id"], other["client_id"]])
        expect(isinstance(current, dict) and current.get(first["client_id"]) == {"site": "lab-b"},
               f"get_current_attributes returned {current}, expected {first['client_id']}: {{'site': 'lab-b'}}")
        if other is not first:
            theirs = current.get(other["client_id"], "absent")
            expect(other["client_id"] in current and not (isinstance(theirs, dict) and "site" in theirs),
                   f"client without attributes got {theirs!r}")

    r.check("add_attributes (twice) / get_current_attributes: latest value per key", attributes)

    # --- Predictions ----------------------------------------------------------------------

    def predictions():
        need(finished, client_list)
        model_id, prediction_id = latest_model_id(), str(uuid.uuid4())
        got = api.start_predictions(prediction_id=prediction_id, model_id=model_id)
        expect(got.get("message") == "Prediction session started", f"start_predictions returned {got}")
        names = {c["name"] for c in client_list}
        deadline = time.monotonic() + ROUND_TIMEOUT
        mine = []
        while not mine and time.monotonic() < deadline:
            time.sleep(0.5)
            mine = [p for p in envelope(api.get_predictions(model_id=model_id), "get_predictions")
                    if p.get("prediction_id") == prediction_id]
        expect(mine, f"no prediction with prediction_id {prediction_id} within {ROUND_TIMEOUT} s")
        for p in mine:
            expect(p.get("model_id") == model_id, f"prediction for model {p.get('model_id')!r}")
            expect(p.get("data") is not None, f"prediction without data: {p}")
            expect(isinstance(p.get("sender"), dict) and p["sender"].get("name") in names, f"sender {p.get('sender')!r}")

    r.check("start_predictions / get_predictions: clients predict with the latest model", predictions)

    print(f"APIClient compatibility: PASS {r.passed}, FAIL {r.failed}, SKIP {r.skipped}")
    return 1 if r.failed or r.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
