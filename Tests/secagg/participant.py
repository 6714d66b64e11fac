#!/usr/bin/env python3
"""An independent SecAgg+ participant for Tributary.

Written from the protocol description in README.md ("Secure aggregation (SecAgg+)" ->
"The protocol, byte for byte") and the nng frame layout (32-byte header, JSON metadata,
padding, payload), not from the Swift implementation. Its "update" is the constant delta D
for every value of the round's model, with N examples.

    python participant.py --controller http://127.0.0.1:PORT --client-id ID --combiner NAME \
        --delta D --examples N [--drop-after masked|bundles] [--token TOKEN] [--timeout 120] [--rounds N]
    python participant.py --device-api http://127.0.0.1:PORT/device-api/api/v1 --api-key KEY --device-id ID \
        --delta D --examples N [--drop-after masked|bundles] [--rounds N] [--timeout 120] [--secagg-config JSON]
    python participant.py --self-test

The second form is an HTTP device (README, "Device API (HTTP devices)"): KEY is an org key
(trb_org_...) or an admin JWT; it registers the device if needed, heartbeats every ~1 s, waits
for a running secure round that selected it and makes the same stage calls as JSON under
training/rounds/{id}/secagg/ (R in the bundles' additional data is the replies' job_id).

Without --rounds it serves every SecAgg+ round it is tasked with until --timeout seconds have
passed (then exits 0 if it finished at least one, else 1); a round still open at --timeout, a
refused call or a failed cohort exits 1.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import secrets
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pynng
import xxhash
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# ---------------------------------------------------------------------------------------------
# Wire: frames
# ---------------------------------------------------------------------------------------------

MAGIC = b"TRIB"
VERSION = 1
HEADER = struct.Struct("<4sHHIIQQ")  # magic, version, kind, metadata length, reserved, payload length, xxh3
assert HEADER.size == 32

KINDS = {
    "error": 1, "ack": 2,
    "clientRegister": 20, "clientRegistered": 21, "clientHeartbeat": 22, "clientHeartbeatReply": 23,
    "taskFailed": 26,
    "getModelInfo": 30, "modelInfo": 31,
    "secaggKeys": 60, "secaggBundles": 61, "secaggMasked": 62, "secaggUnmask": 63, "secaggPoll": 64, "secaggState": 65,
}
KIND_NAMES = {v: k for k, v in KINDS.items()}


class ParticipantError(Exception):
    """Anything that ends the participant with a non-zero exit."""


class RemoteError(ParticipantError):
    def __init__(self, kind: str, code: str, message: str):
        super().__init__(f"{kind} refused: {code}: {message}")
        self.code = code
        self.remote_message = message


def encode_frame(kind: str, metadata: dict, payload: bytes = b"", auth: str | None = None) -> bytes:
    meta_obj = dict(metadata)
    if auth:
        meta_obj = {"auth": auth, **meta_obj}
    meta = json.dumps(meta_obj, separators=(",", ":")).encode()
    checksum = xxhash.xxh3_64_intdigest(payload) if payload else 0
    header = HEADER.pack(MAGIC, VERSION, KINDS[kind], len(meta), 0, len(payload), checksum)
    if not payload:
        return header + meta  # no payload: no padding
    offset = (HEADER.size + len(meta) + 7) & ~7
    return header + meta + b"\0" * (offset - HEADER.size - len(meta)) + payload


def decode_frame(body: bytes) -> tuple[str, dict, bytes]:
    if len(body) < HEADER.size:
        raise ParticipantError(f"reply of {len(body)} bytes is shorter than a frame header")
    magic, version, kind, meta_len, reserved, payload_len, checksum = HEADER.unpack_from(body)
    if magic != MAGIC or version != VERSION or reserved != 0:
        raise ParticipantError(f"bad frame header (magic {magic!r}, version {version}, reserved {reserved})")
    if kind not in KIND_NAMES:
        raise ParticipantError(f"reply of unknown kind {kind}")
    offset = HEADER.size + meta_len if payload_len == 0 else (HEADER.size + meta_len + 7) & ~7
    if offset > len(body) or len(body) - offset != payload_len:
        raise ParticipantError(f"frame of {len(body)} bytes but its header says {offset} + {payload_len}")
    payload = bytes(body[offset:])
    if (xxhash.xxh3_64_intdigest(payload) if payload else 0) != checksum:
        raise ParticipantError("reply payload checksum mismatch")
    try:
        metadata = json.loads(bytes(body[HEADER.size:HEADER.size + meta_len]).decode() or "{}")
    except ValueError as error:
        raise ParticipantError(f"reply metadata is not JSON: {error}") from None
    if not isinstance(metadata, dict):
        raise ParticipantError("reply metadata is not a JSON object")
    return KIND_NAMES[kind], metadata, payload


class Peer:
    """One REQ socket to the combiner; every call is bounded by the global deadline."""

    def __init__(self, address: str, deadline: float, auth: str | None, timeout: float):
        self.deadline = deadline
        self.timeout = timeout
        self.auth = auth
        self.socket = pynng.Req0(recv_timeout=10_000, send_timeout=10_000, resend_time=-1, recv_max_size=0)
        self.socket.dial(address, block=False)

    def remaining_ms(self, kind: str) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ParticipantError(f"timed out (--timeout {self.timeout:g} s) before {kind}")
        return max(1, int(min(left, 10.0) * 1000))

    def call(self, kind: str, metadata: dict, expect: str, payload: bytes = b"") -> tuple[dict, bytes]:
        ms = self.remaining_ms(kind)
        self.socket.send_timeout = ms
        self.socket.recv_timeout = ms
        try:
            self.socket.send(encode_frame(kind, metadata, payload, self.auth))
            reply = self.socket.recv()
        except pynng.Timeout:
            raise ParticipantError(f"{kind}: no reply from the combiner within {ms} ms") from None
        got, meta, body = decode_frame(reply)
        if got == "error":
            raise RemoteError(kind, str(meta.get("code")), str(meta.get("message")))
        if got != expect:
            raise ParticipantError(f"{kind}: expected {expect}, got {got}")
        return meta, body

    def close(self):
        self.socket.close()


# ---------------------------------------------------------------------------------------------
# Crypto: PRG, key agreement, Shamir over GF(2^127 - 1), bundles
# ---------------------------------------------------------------------------------------------

P127 = (1 << 127) - 1
CHUNKS = ((0, 15), (15, 30), (30, 32))  # byte ranges of a 32-byte secret's three field elements
SHARE_BYTES = 4 + 16 * len(CHUNKS)        # u32 x || y0 || y1 || y2 = 52
BUNDLE_BYTES = 12 + 2 * SHARE_BYTES + 16  # nonce || ciphertext || tag = 132


def prg(key: bytes, count: int) -> np.ndarray:
    """count little-endian u32s of AES-256-CTR(key, counter block from zero) over zero bytes."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()
    stream = encryptor.update(b"\0" * (4 * count)) + encryptor.finalize()
    return np.frombuffer(stream, dtype="<u4").astype(np.uint32)


def hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=info).derive(secret)


def raw_public(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def raw_private(private: X25519PrivateKey) -> bytes:
    return private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def agree(private: X25519PrivateKey, public_raw: bytes, info: bytes) -> bytes:
    return hkdf(private.exchange(X25519PublicKey.from_public_bytes(public_raw)), info)


def shamir_split(secret: bytes, threshold: int, xs: list[int]) -> dict[int, bytes]:
    """One 52-byte share per x: each chunk of the secret is the constant term of its own random
    polynomial of degree threshold - 1 over GF(p), p = 2^127 - 1."""
    if len(secret) != 32:
        raise ValueError("secrets are 32 bytes")
    if threshold < 1 or any(not (0 < x < 2**32) for x in xs) or len(set(xs)) != len(xs):
        raise ValueError("bad threshold or x-coordinates")
    polys = []
    for lo, hi in CHUNKS:
        polys.append([int.from_bytes(secret[lo:hi], "little")] + [secrets.randbelow(P127) for _ in range(threshold - 1)])
    shares = {}
    for x in xs:
        out = struct.pack("<I", x)
        for coeffs in polys:
            y = 0
            for c in reversed(coeffs):
                y = (y * x + c) % P127
            out += y.to_bytes(16, "little")
        shares[x] = out
    return shares


def shamir_combine(shares: list[bytes]) -> bytes:
    """The secret from shares (Lagrange interpolation at 0); needs at least the threshold."""
    points = []
    for share in shares:
        if len(share) != SHARE_BYTES:
            raise ValueError("a share is 52 bytes")
        x = struct.unpack_from("<I", share)[0]
        ys = [int.from_bytes(share[4 + 16 * i:20 + 16 * i], "little") for i in range(len(CHUNKS))]
        points.append((x, ys))
    if len({x for x, _ in points}) != len(points) or any(x == 0 for x, _ in points):
        raise ValueError("repeated or zero x-coordinate")
    secret = b""
    for i, (lo, hi) in enumerate(CHUNKS):
        value = 0
        for j, (xj, ys) in enumerate(points):
            num, den = 1, 1
            for m, (xm, _) in enumerate(points):
                if m != j:
                    num = num * (-xm) % P127
                    den = den * (xj - xm) % P127
            value = (value + ys[i] * num * pow(den, P127 - 2, P127)) % P127
        if value >= 1 << (8 * (hi - lo)):
            raise ValueError("the shares do not encode a secret")
        secret += value.to_bytes(hi - lo, "little")
    return secret


def bundle_ad(round_id: str, sender: str, recipient: str) -> bytes:
    return f"tributary-secagg|{round_id}|{sender}|{recipient}".encode()


def seal_bundle(key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


def open_bundle(key: bytes, bundle: bytes, ad: bytes) -> bytes:
    if len(bundle) != BUNDLE_BYTES:
        raise ParticipantError(f"a bundle is {BUNDLE_BYTES} bytes, got {len(bundle)}")
    return AESGCM(key).decrypt(bundle[:12], bundle[12:], ad)


def b64d(text, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except Exception:
        raise ParticipantError(f"{what} is not base64") from None


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------------------------------------
# The participant
# ---------------------------------------------------------------------------------------------


def say(line: str):
    print(line, flush=True)


def http_json(url: str, body: dict, token: str | None, timeout: float) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise ParticipantError(f"POST {url}: HTTP {error.code}: {error.read().decode(errors='replace')[:500]}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ParticipantError(f"POST {url}: {error}") from None


def ring_order(ident: str) -> bytes:
    return ident.encode("utf-8")


class SecAggRound:
    poll_interval = 0.05

    def __init__(self, participant: "Participant", task: dict):
        self.p = participant
        self.peer = participant.peer
        self.task = task
        self.job = task["jobId"]
        self.done_label = self.job
        self.configure(task["secureAggregation"] or {})

    def configure(self, cfg: dict):
        self.num_shares = int(cfg.get("num_shares", 5))
        self.threshold = int(cfg.get("reconstruction_threshold", 3))
        self.clip_range = float(cfg.get("clipping_range", 8.0))
        self.quant_range = int(cfg.get("quantization_range", 1 << 22))
        self.modulus = int(cfg.get("modulus_range", 1 << 32))
        self.max_weight = float(cfg.get("max_weight", 1000))
        self.stage_timeout = float(cfg.get("timeout", 30))
        if not (2 <= self.threshold <= self.num_shares) or self.modulus > 1 << 32 or self.modulus & (self.modulus - 1):
            raise ParticipantError(f"unusable secureAggregation config {cfg}")

    def request(self, **fields) -> dict:
        return {"jobId": self.job, "clientId": self.p.client_id, **{k: v for k, v in fields.items() if v is not None}}

    def state_call(self, kind: str, payload: bytes = b"", **fields) -> dict:
        state, _ = self.peer.call(kind, self.request(**fields), "secaggState", payload)
        if state.get("stage") == "failed":
            raise ParticipantError(f"{kind}: the combiner's SecAgg+ round failed: {state.get('failure')}")
        return state

    def poll_until(self, field: str, what: str) -> dict:
        limit = time.monotonic() + self.wait_seconds
        while True:
            state = self.state_call("secaggPoll")
            if state.get(field) is not None:
                return state
            if state.get("stage") == "completed":
                raise ParticipantError(f"the round completed before {what} opened for this participant")
            if time.monotonic() > limit:
                raise ParticipantError(f"timed out waiting for {what} (stage {state.get('stage')})")
            self.p.heartbeat_if_due()
            time.sleep(self.poll_interval)

    def run(self) -> bool:
        """True when finished (or dropped on purpose)."""
        delta, weight = self.prepare()
        return self.stages(delta, weight)

    def prepare(self) -> tuple[np.ndarray, int]:
        """The update (delta D for every value of the round's model) and its weight (examples N
        capped at max_weight; 1 when unweighted or clipped); sets wait_seconds."""
        p = self.p
        # The update: delta D for every value, examples N (weight 1 when unweighted).
        info, _ = self.peer.call("getModelInfo", {"modelId": self.task["modelId"], "chunkSize": int(self.task.get("chunkSize", 1 << 20))}, "modelInfo")
        tensors = info["spec"]["tensors"]
        count = 0
        for t in tensors:
            if t.get("dtype") != "float32":
                say(f"warning: tensor {t.get('name')} is {t.get('dtype')}, not float32")
            count += math.prod(int(d) for d in t.get("shape", []))
        delta = np.full(count, p.delta, dtype=np.float64)
        clip_norm = self.task.get("clipNorm")
        if clip_norm is not None:
            norm = float(np.linalg.norm(delta))
            if norm > float(clip_norm) and norm > 0:
                delta *= float(clip_norm) / norm
        examples = 1 if (self.task.get("unweighted") or clip_norm is not None) else p.examples
        weight = int(math.floor(min(float(examples), self.max_weight)))
        if weight < 1:
            raise ParticipantError(f"weight {weight} is not positive")
        say(f"task {self.job}: {count} values, delta {p.delta}, weight {weight}, cohort config s={self.num_shares} t={self.threshold}")
        # Stage 0 lasts until every selected client trained (the round's timeout); later stages
        # each wait at most the SecAgg timeout; polls never wait beyond that plus slack.
        self.wait_seconds = max(float(self.task.get("timeoutSeconds") or 0), self.stage_timeout) + 5
        return delta, weight

    def stages(self, delta: np.ndarray, weight: int) -> bool:
        """Stages 0-3 through state_call/poll_until (nng frames here, JSON in DeviceSecAggRound)."""
        p = self.p
        # 1. Keys.
        masking, sharing = X25519PrivateKey.generate(), X25519PrivateKey.generate()
        pk1, pk2 = raw_public(masking), raw_public(sharing)
        self.state_call("secaggKeys", maskingKey=b64e(pk1), sharingKey=b64e(pk2), metrics={"train_loss": float(p.delta)})
        say("stage 0: keys sent")

        # 2. Neighbours.
        state = self.poll_until("neighbours", "the neighbour list")
        neighbours = self.check_neighbours(state["neighbours"], pk1, pk2)
        me = neighbours[p.client_id]
        say(f"stage 1: {len(neighbours)} neighbours {sorted(neighbours)}, my index {me['index']}")

        # 3. Bundles.
        seed = os.urandom(32)
        xs = [n["index"] for n in neighbours.values()]
        seed_shares = shamir_split(seed, self.threshold, xs)
        key_shares = shamir_split(raw_private(masking), self.threshold, xs)
        bundles = {}
        for ident, n in neighbours.items():
            key = agree(sharing, n["sharing_key"], b"tributary-secagg-share")
            plaintext = seed_shares[n["index"]] + key_shares[n["index"]]
            bundles[ident] = b64e(seal_bundle(key, plaintext, bundle_ad(self.job, p.client_id, ident)))
        self.state_call("secaggBundles", bundles=bundles)
        say(f"stage 1: {len(bundles)} bundles sent")
        if p.drop_after == "bundles":
            say("dropped after bundles")
            return True

        # 4. Masked vector.
        state = self.poll_until("bundles", "the bundles addressed to this participant")
        held = {}
        for sender, text in state["bundles"].items():
            if sender not in neighbours:
                raise ParticipantError(f"a bundle from {sender!r}, who is not a neighbour")
            key = agree(sharing, neighbours[sender]["sharing_key"], b"tributary-secagg-share")
            try:
                plaintext = open_bundle(key, b64d(text, f"bundle from {sender}"), bundle_ad(self.job, sender, p.client_id))
            except InvalidTag:
                raise ParticipantError(f"the bundle from {sender} does not open") from None
            if len(plaintext) != 2 * SHARE_BYTES or struct.unpack_from("<I", plaintext)[0] != me["index"] \
                    or struct.unpack_from("<I", plaintext, SHARE_BYTES)[0] != me["index"]:
                raise ParticipantError(f"the bundle from {sender} does not hold shares at my index")
            held[sender] = (plaintext[:SHARE_BYTES], plaintext[SHARE_BYTES:])
        if p.client_id not in held:
            raise ParticipantError("my own bundle is not among those addressed to me")
        vector = self.masked_vector(delta, weight, seed, masking, neighbours, held)
        self.state_call("secaggMasked", payload=vector.astype("<u4").tobytes())
        say(f"stage 2: masked vector of {len(vector)} u32 sent ({len(held)} bundles held)")
        if p.drop_after == "masked":
            say("dropped after masked")
            return True

        # 5. Unmask.
        state = self.poll_until("active", "the unmask request")
        active, dropped = set(state.get("active") or []), set(state.get("dropped") or [])
        if active & dropped:
            raise ParticipantError(f"refusing to unmask: {sorted(active & dropped)} listed both active and dropped")
        if p.client_id in dropped:
            raise ParticipantError("refusing to unmask: I am listed as dropped but sent my masked vector")
        shares = {}
        for owner in active:
            if owner in held:
                shares[owner] = b64e(held[owner][0])
        for owner in dropped:
            if owner in held:
                shares[owner] = b64e(held[owner][1])
        state = self.state_call("secaggUnmask", shares=shares)
        say(f"stage 3: {len(shares)} shares sent (active {sorted(active)}, dropped {sorted(dropped)})")
        say(f"secagg done {self.done_label}")
        return True

    def check_neighbours(self, listed, pk1: bytes, pk2: bytes) -> dict:
        if not isinstance(listed, list) or not listed:
            raise ParticipantError("the neighbour list is empty or not a list")
        out, indices, keys = {}, set(), set()
        for entry in listed:
            try:
                ident, index = entry["id"], entry["index"]
                mk = b64d(entry["masking_key"], "masking_key")
                sk = b64d(entry["sharing_key"], "sharing_key")
            except (KeyError, TypeError):
                raise ParticipantError(f"malformed neighbour {entry!r}") from None
            if not isinstance(ident, str) or not isinstance(index, int) or isinstance(index, bool) or not (1 <= index < 2**32):
                raise ParticipantError(f"malformed neighbour {entry!r}")
            if len(mk) != 32 or len(sk) != 32:
                raise ParticipantError(f"neighbour {ident} has keys that are not 32 bytes")
            if ident in out:
                raise ParticipantError(f"neighbour list repeats id {ident}")
            if index in indices:
                raise ParticipantError(f"neighbour list repeats index {index}")
            if mk in keys or sk in keys or mk == sk:
                raise ParticipantError(f"neighbour list repeats a key (at {ident})")
            indices.add(index)
            keys.update((mk, sk))
            out[ident] = {"index": index, "masking_key": mk, "sharing_key": sk}
        mine = out.get(self.p.client_id)
        if mine is None or mine["masking_key"] != pk1 or mine["sharing_key"] != pk2:
            raise ParticipantError("the neighbour list does not hold me with my own keys")
        # Indices are places in a ring sorted by UTF-8 bytes: sorting by id must sort by index.
        by_id = sorted(out, key=ring_order)
        if [out[i]["index"] for i in by_id] != sorted(indices):
            raise ParticipantError("neighbour indices do not follow the ids' UTF-8 order")
        if len(out) > self.num_shares:
            raise ParticipantError(f"{len(out)} neighbours but num_shares is {self.num_shares}")
        return out

    def masked_vector(self, delta, weight, seed, masking, neighbours, held) -> np.ndarray:
        c, q = self.clip_range, self.quant_range
        y = np.clip(weight / self.max_weight * delta, -c, c)
        s = (y + c) * q / (2 * c)
        floor = np.floor(s)
        rng = np.random.default_rng(secrets.randbits(128))
        quantized = floor + (rng.random(len(s)) < (s - floor))
        v = np.empty(len(delta) + 1, dtype=np.uint32)
        v[0] = weight
        v[1:] = quantized.astype(np.uint64).astype(np.uint32)
        with np.errstate(over="ignore"):
            v = v + prg(seed, len(v))
            my_index = neighbours[self.p.client_id]["index"]
            for sender in held:
                if sender == self.p.client_id:
                    continue
                pair = prg(agree(masking, neighbours[sender]["masking_key"], b"tributary-secagg-mask"), len(v))
                v = v + pair if my_index > neighbours[sender]["index"] else v - pair
        return (v.astype(np.uint64) % self.modulus).astype(np.uint32)


class Participant:
    def __init__(self, args):
        self.args = args
        self.client_id = args.client_id
        self.delta = args.delta
        self.examples = args.examples
        self.drop_after = args.drop_after
        self.deadline = time.monotonic() + args.timeout
        self.peer = None
        self.last_heartbeat = 0.0
        self.pending_task = None

    def join(self):
        url = self.args.controller.rstrip("/") + "/api/v1/clients/add"
        reply = http_json(url, {"client_id": self.client_id, "name": self.client_id, "combiner_preferred": self.args.combiner,
                                "package": "local"}, self.args.token, timeout=10)
        address = reply.get("combiner_address")
        if not address:
            raise ParticipantError(f"clients/add gave no combiner_address: {reply}")
        say(f"assigned to {reply.get('combiner')} at {address}")
        self.peer = Peer(address, self.deadline, reply.get("peer_token"), self.args.timeout)
        self.register()

    def register(self):
        meta, _ = self.peer.call("clientRegister", {"clientId": self.client_id, "name": self.client_id}, "clientRegistered")
        say(f"registered with {meta.get('combiner')}")

    def heartbeat(self):
        meta, _ = self.peer.call("clientHeartbeat", {"clientId": self.client_id}, "clientHeartbeatReply")
        self.last_heartbeat = time.monotonic()
        if meta.get("mustRegister"):
            self.register()
        return meta.get("task")

    def heartbeat_if_due(self):
        if time.monotonic() - self.last_heartbeat >= 0.3:
            self.heartbeat()

    def run(self) -> int:
        """Serves SecAgg+ train tasks until --rounds of them are done (0: no limit) or, idle,
        until --timeout: that ends with 0 after at least one round, else it is an error."""
        self.join()
        handled, finished = set(), 0
        while True:
            if time.monotonic() >= self.deadline - 0.05:
                return self.idle_timeout(finished)
            try:
                task = self.heartbeat()
            except ParticipantError:
                if finished and time.monotonic() >= self.deadline - 0.05:
                    return self.idle_timeout(finished)
                raise
            if task and task.get("jobId") not in handled:
                job = task.get("jobId")
                handled.add(job)
                if task.get("kind") == "train" and task.get("secureAggregation") is not None:
                    SecAggRound(self, task).run()
                    finished += 1
                    if self.drop_after or (self.args.rounds and finished >= self.args.rounds):
                        return 0
                else:
                    say(f"ignoring task {job} ({task.get('kind')}, secure aggregation {'on' if task.get('secureAggregation') else 'off'})")
            time.sleep(max(0.0, min(0.3, self.deadline - time.monotonic() - 0.05)))

    def idle_timeout(self, finished: int) -> int:
        if finished:
            say(f"no further task within --timeout {self.args.timeout:g} s: exiting after {finished} round(s)")
            return 0
        raise ParticipantError(f"timed out (--timeout {self.args.timeout:g} s) waiting for a SecAgg+ task")


# ---------------------------------------------------------------------------------------------
# Device transport: the same stages as JSON under the device API (README, "Devices make the
# same calls as JSON under the device API"; "Device API (HTTP devices)")
# ---------------------------------------------------------------------------------------------

# nng call kind -> device API stage route, and the request's camelCase fields -> JSON fields.
DEVICE_ROUTES = {"secaggKeys": "keys", "secaggBundles": "shares", "secaggMasked": "masked", "secaggUnmask": "unmask"}
DEVICE_FIELDS = {"maskingKey": "masking_key", "sharingKey": "sharing_key", "bundles": "bundles", "shares": "shares", "metrics": "metrics"}


class HTTPFailure(ParticipantError):
    """A device API call answered with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, body):
        message = body.get("message") if isinstance(body, dict) else None
        super().__init__(f"{method} {path}: HTTP {status}: {message or str(body)[:500]}")
        self.status = status
        self.body = body


class DeviceAPI:
    """JSON calls to the device API with one bearer credential (org key, device key or admin
    JWT); a 429 waits out its Retry-After (within the deadline) and is retried."""

    def __init__(self, base: str, key: str, deadline: float, timeout: float):
        self.base = base.rstrip("/")
        self.key = key
        self.deadline = deadline
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict | None = None, query: dict | None = None,
             ok: tuple[int, ...] = (200,), raw: bool = False):
        """(status, JSON object or bytes); HTTPFailure for any status outside `ok`."""
        url = f"{self.base}/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ParticipantError(f"timed out (--timeout {self.timeout:g} s) before {method} {path}")
            request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {self.key}"})
            if data is not None:
                request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=min(left, 30.0)) as response:
                    status, payload = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, payload = error.code, error.read()
                if status == 429:
                    wait = float(error.headers.get("Retry-After") or 1)
                    say(f"rate limited on {method} {path}: waiting {wait:g} s")
                    time.sleep(max(0.1, min(wait, self.deadline - time.monotonic())))
                    continue
            except (urllib.error.URLError, OSError) as error:
                raise ParticipantError(f"{method} {path}: {error}") from None
            if raw and status in ok:
                return status, payload
            try:
                parsed = json.loads(payload or b"{}")
            except ValueError:
                parsed = payload.decode(errors="replace")
            if status not in ok:
                raise HTTPFailure(method, path, status, parsed)
            if not isinstance(parsed, dict):
                raise ParticipantError(f"{method} {path}: the reply is not a JSON object")
            return status, parsed


class DeviceSecAggRound(SecAggRound):
    """One device's SecAgg+ round through the stage routes under training/rounds/{id}/secagg/:
    the stages themselves are SecAggRound's; only the carrier differs."""

    poll_interval = 0.2  # every device call counts against its key's rate limit

    def __init__(self, participant: "DeviceParticipant", round_body: dict, job_id: str):
        self.p = participant
        self.api = participant.api
        self.round = round_body
        self.round_id = round_body["id"]
        self.job = job_id            # R, inside every bundle's additional data
        self.done_label = self.round_id
        cfg, self.clip_norm, self.unweighted = participant.secure_config(round_body)
        self.configure(cfg)

    def prepare(self) -> tuple[np.ndarray, int]:
        p = self.p
        _, body = self.api.call("GET", f"training/rounds/{self.round_id}/global-model", raw=True)
        try:
            with np.load(io.BytesIO(body), allow_pickle=False) as arrays:
                count = 0
                for name in arrays.files:
                    array = arrays[name]
                    if array.dtype != np.float32:
                        say(f"warning: tensor {name} is {array.dtype}, not float32")
                    count += int(array.size)
        except (ValueError, OSError) as error:
            raise ParticipantError(f"the round's global model is not an .npz: {error}") from None
        delta = np.full(count, p.delta, dtype=np.float64)
        if self.clip_norm is not None:
            norm = float(np.linalg.norm(delta))
            if norm > float(self.clip_norm) and norm > 0:
                delta *= float(self.clip_norm) / norm
        examples = 1 if (self.unweighted or self.clip_norm is not None) else p.examples
        weight = int(math.floor(min(float(examples), self.max_weight)))
        if weight < 1:
            raise ParticipantError(f"weight {weight} is not positive")
        say(f"round {self.round_id} (job {self.job}): {count} values, delta {p.delta}, weight {weight}, "
            f"cohort config s={self.num_shares} t={self.threshold}")
        timeout = (self.round.get("config") or {}).get("timeout_seconds") or 0
        self.wait_seconds = max(float(timeout), self.stage_timeout) + 5
        return delta, weight

    def state_call(self, kind: str, payload: bytes = b"", **fields) -> dict:
        base = f"training/rounds/{self.round_id}/secagg"
        try:
            if kind == "secaggPoll":
                _, state = self.api.call("GET", f"{base}/status", query={"device_id": self.p.client_id})
            else:
                body = {"device_id": self.p.client_id}
                for name, value in fields.items():
                    if value is not None:
                        body[DEVICE_FIELDS[name]] = value
                if kind == "secaggMasked":
                    body["vector"] = b64e(payload)
                _, state = self.api.call("POST", f"{base}/{DEVICE_ROUTES[kind]}", body=body,
                                         ok=(202,) if kind == "secaggMasked" else (200,))
        except HTTPFailure as error:
            raise RemoteError(kind, str(error.status), str(error.body.get("message") if isinstance(error.body, dict) else error.body)) from None
        if state.get("job_id") not in (None, self.job):
            raise ParticipantError(f"{kind}: the reply names job {state.get('job_id')!r}, not {self.job!r}")
        if state.get("stage") == "failed" or state.get("status") == "failed":
            raise ParticipantError(f"{kind}: the round's SecAgg+ cohort failed: {state.get('failure')}")
        return state


class DeviceParticipant:
    """An HTTP device: registers (org key or admin token), heartbeats every ~1 s on a thread,
    waits for a running secure round that selected it, and runs it through the stage routes."""

    heartbeat_every = 1.0
    discover_every = 0.5

    def __init__(self, args):
        self.args = args
        self.client_id = args.device_id
        self.delta = args.delta
        self.examples = args.examples
        self.drop_after = args.drop_after
        self.deadline = time.monotonic() + args.timeout
        self.api = DeviceAPI(args.device_api, args.api_key, self.deadline, args.timeout)
        self.peer = None  # Participant's interface; nothing to close
        self.pending_round = None
        self.heartbeat_error = None
        self.stopping = threading.Event()
        self.heartbeater = None

    # Registration and liveness.

    def register(self):
        body = {"device_identifier": self.client_id, "platform": "python", "capabilities": {"secure_aggregation": True}}
        try:
            _, reply = self.api.call("POST", "devices/register", body=body, ok=(201,))
            say(f"registered device {self.client_id} (id {reply.get('id')}, org {reply.get('org_id')})")
        except HTTPFailure as error:
            if error.status != 409:
                raise
            say(f"device {self.client_id} is already registered")

    def heartbeat(self) -> dict:
        _, reply = self.api.call("PUT", f"devices/{urllib.parse.quote(self.client_id, safe='')}/heartbeat",
                                 body={"status": "active", "device_id": self.client_id})
        self.pending_round = reply.get("pending_round_id")
        return reply

    def heartbeat_loop(self):
        while not self.stopping.wait(self.heartbeat_every):
            try:
                self.heartbeat()
                self.heartbeat_error = None
            except ParticipantError as error:
                if self.heartbeat_error is None:
                    say(f"warning: heartbeat failed: {error}")
                self.heartbeat_error = error

    def heartbeat_if_due(self):
        pass  # the heartbeat thread keeps the device online

    # Round discovery.

    def candidate_round(self) -> dict | None:
        """The running round awaiting this device, if any: the heartbeat's pending_round_id, else
        the current round when it is active."""
        if self.pending_round:
            try:
                _, body = self.api.call("GET", f"training/rounds/{self.pending_round}")
                return body
            except HTTPFailure as error:
                if error.status != 404:
                    raise
        try:
            _, body = self.api.call("GET", "training/rounds/current")
        except HTTPFailure as error:
            if error.status == 404:
                return None  # no round yet
            raise
        return body if body.get("status") == "active" else None

    def selected(self, round_id: str) -> bool:
        if self.pending_round == round_id:
            return True
        _, listed = self.api.call("GET", "training/rounds", query={"device_id": self.client_id, "status": "active"})
        return any(r.get("id") == round_id for r in listed.get("rounds") or [])

    def secure_status(self, round_id: str) -> dict | None:
        """The round's secagg/status for this device; None when it is not a secure round (409)."""
        try:
            _, state = self.api.call("GET", f"training/rounds/{round_id}/secagg/status", query={"device_id": self.client_id})
            return state
        except HTTPFailure as error:
            if error.status == 409:
                return None
            raise

    def secure_config(self, round_body: dict) -> tuple[dict, float | None, bool]:
        """The round's SecAgg+ parameters, DP clip norm and unweighted flag. The device API's
        round `config.secure_aggregation` when it is an object; otherwise the round's session
        config from the REST API (a device round is a one-round session, id `<session>-r<n>`);
        --secagg-config overrides both."""
        cfg, clip, unweighted = None, None, False
        advertised = (round_body.get("config") or {}).get("secure_aggregation")
        if isinstance(advertised, dict):
            cfg = advertised
        else:
            session_id, _, number = round_body["id"].rpartition("-r")
            root = self.args.device_api.rstrip("/")
            root = root[:-len("/device-api/api/v1")] if root.endswith("/device-api/api/v1") else root
            url = f"{root}/api/v1/sessions/{urllib.parse.quote(session_id, safe='')}"
            request = urllib.request.Request(url)
            if not self.args.api_key.startswith(("trb_org_", "trb_dev_")):
                request.add_header("Authorization", f"Bearer {self.args.api_key}")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    session = json.loads(response.read())
                config = session.get("session_config") or {}
                if isinstance(config.get("secure_aggregation"), dict):
                    cfg = config["secure_aggregation"]
                    say(f"round {round_body['id']}: SecAgg+ config from the session's session_config "
                        f"(the device API's round config says secure_aggregation={advertised!r})")
                clip = (config.get("aggregator_kwargs") or {}).get("clip_norm")
                unweighted = bool(config.get("unweighted"))
            except (urllib.error.URLError, OSError, ValueError) as error:
                say(f"warning: could not read session {session_id} for its SecAgg+ config: {error}")
        if self.args.secagg_config:
            cfg = {**(cfg or {}), **self.args.secagg_config}
        if cfg is None:
            say("warning: the round's SecAgg+ config is unknown: using the README's defaults")
            cfg = {}
        return cfg, (float(clip) if clip is not None else None), unweighted

    def run(self) -> int:
        self.register()
        self.heartbeat()
        self.heartbeater = threading.Thread(target=self.heartbeat_loop, daemon=True)
        self.heartbeater.start()
        say(f"device {self.client_id} online, waiting for a secure round")
        handled, finished = set(), 0
        while True:
            if time.monotonic() >= self.deadline - 0.05:
                return self.idle_timeout(finished)
            try:
                body = self.candidate_round()
                round_id = body.get("id") if body else None
                if round_id and round_id not in handled:
                    state = self.secure_status(round_id)
                    if state is None:
                        handled.add(round_id)
                        say(f"ignoring round {round_id} (not running secure aggregation)")
                    elif self.selected(round_id):
                        handled.add(round_id)
                        if state.get("job_id") is None:
                            raise ParticipantError(f"secagg/status of round {round_id} carries no job_id")
                        DeviceSecAggRound(self, body, state["job_id"]).run()
                        finished += 1
                        if self.drop_after or (self.args.rounds and finished >= self.args.rounds):
                            return 0
                    else:
                        handled.add(round_id)
                        say(f"ignoring round {round_id} (this device is not selected)")
            except ParticipantError:
                if finished and time.monotonic() >= self.deadline - 0.05:
                    return self.idle_timeout(finished)
                raise
            time.sleep(max(0.0, min(self.discover_every, self.deadline - time.monotonic() - 0.05)))

    def idle_timeout(self, finished: int) -> int:
        if finished:
            say(f"no further round within --timeout {self.args.timeout:g} s: exiting after {finished} round(s)")
            return 0
        raise ParticipantError(f"timed out (--timeout {self.args.timeout:g} s) waiting for a secure round")

    def close(self):
        self.stopping.set()


# ---------------------------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------------------------


def self_test() -> int:
    failures = 0

    def check(name, ok):
        nonlocal failures
        say(f"{'ok  ' if ok else 'FAIL'} {name}")
        failures += 0 if ok else 1

    # (a) PRG of the zero key: AES-256 of the zero block is dc95c078a2408989ad48a21492842087.
    first = [int(x) for x in prg(b"\0" * 32, 4)]
    check("prg(zero key) = 78c095dc 898940a2 14a248ad 87208492", first == [0x78c095dc, 0x898940a2, 0x14a248ad, 0x87208492])
    check("prg is a stream (prefix-stable)", list(prg(b"\x01" * 32, 9)[:5]) == list(prg(b"\x01" * 32, 5)))

    # (b) Shamir, t = 3 of 5, over GF(2^127 - 1), with the 15/15/2-byte chunks.
    secret = bytes(range(200, 232))
    shares = shamir_split(secret, 3, [1, 2, 3, 4, 5])
    check("shares are 52 bytes with x first", all(len(s) == 52 and struct.unpack_from("<I", s)[0] == x for x, s in shares.items()))
    check("any 3 of 5 rebuild the secret", all(shamir_combine([shares[a], shares[b], shares[c]]) == secret
                                                  for a, b, c in [(1, 2, 3), (1, 3, 5), (2, 4, 5), (3, 4, 5)]))
    check("all 5 rebuild the secret", shamir_combine(list(shares.values())) == secret)
    try:
        wrong = shamir_combine([shares[1], shares[2]])
    except ValueError:
        wrong = None
    check("2 of 5 do not rebuild it", wrong != secret)
    maxed = b"\xff" * 32
    check("an all-0xff secret round-trips", shamir_combine(list(shamir_split(maxed, 3, [7, 9, 11]).values())) == maxed)

    # (c) Bundles: X25519 + HKDF key both ways, AES-256-GCM with the additional data.
    a2, b2 = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    k_ab = agree(a2, raw_public(b2), b"tributary-secagg-share")
    k_ba = agree(b2, raw_public(a2), b"tributary-secagg-share")
    check("both sides derive one bundle key", k_ab == k_ba)
    plaintext = shares[1] + shares[2]
    bundle = seal_bundle(k_ab, plaintext, bundle_ad("job-1", "alice", "bob"))
    check("a bundle is 132 bytes", len(bundle) == 132)
    check("a bundle opens", open_bundle(k_ba, bundle, bundle_ad("job-1", "alice", "bob")) == plaintext)
    for ad in (bundle_ad("job-2", "alice", "bob"), bundle_ad("job-1", "bob", "alice"), bundle_ad("job-1", "alice", "carol")):
        try:
            open_bundle(k_ba, bundle, ad)
            opened = True
        except InvalidTag:
            opened = False
        check(f"a bundle does not open with additional data {ad.decode()}", not opened)

    # Frames round-trip, with and without payload.
    for payload in (b"", b"\x01\x02\x03"):
        frame = encode_frame("secaggMasked", {"jobId": "j", "clientId": "c"}, payload)
        kind, meta, body = decode_frame(frame)
        check(f"frame round-trip (payload {len(payload)} bytes)", kind == "secaggMasked" and meta == {"jobId": "j", "clientId": "c"} and body == payload
              and (not payload or (len(frame) - len(payload)) % 8 == 0))

    # Masks cancel: two participants' pairwise PRGs sum to zero mod 2^32.
    m1, m2 = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    s12 = agree(m1, raw_public(m2), b"tributary-secagg-mask")
    s21 = agree(m2, raw_public(m1), b"tributary-secagg-mask")
    with np.errstate(over="ignore"):
        check("pairwise masks cancel", not np.any(prg(s12, 16) - prg(s21, 16)))

    say(f"self-test: {failures} failed" if failures else "self-test passed")
    return 1 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="An independent SecAgg+ participant for Tributary")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--controller")
    parser.add_argument("--client-id")
    parser.add_argument("--combiner", default="")
    parser.add_argument("--delta", type=float, default=0.0)
    parser.add_argument("--examples", type=int, default=1)
    parser.add_argument("--drop-after", choices=["masked", "bundles"],
                        help="stop after this stage without finishing the round (a dropout)")
    parser.add_argument("--token")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--rounds", type=int, default=0,
                        help="exit after this many SecAgg+ rounds (default 0: serve rounds until --timeout)")
    device = parser.add_argument_group("HTTP device mode (instead of --controller/--client-id)")
    device.add_argument("--device-api", help="the device API base, http://HOST:PORT/device-api/api/v1")
    device.add_argument("--api-key", help="an org key (trb_org_...) or an admin JWT")
    device.add_argument("--device-id", help="this device's identifier")
    device.add_argument("--secagg-config", type=json.loads,
                        help="JSON SecAgg+ parameters, overriding what the controller advertises")
    args = parser.parse_args(argv)
    if args.self_test:
        return self_test()
    if args.device_api:
        if not args.api_key or not args.device_id:
            parser.error("--device-api needs --api-key and --device-id")
        if args.secagg_config is not None and not isinstance(args.secagg_config, dict):
            parser.error("--secagg-config must be a JSON object")
    elif not args.controller or not args.client_id:
        parser.error("--controller and --client-id are required")
    if args.examples < 1:
        parser.error("--examples must be positive")
    participant = DeviceParticipant(args) if args.device_api else Participant(args)
    try:
        return participant.run()
    except ParticipantError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        if isinstance(participant, DeviceParticipant):
            participant.close()
        elif participant.peer:
            participant.peer.close()


if __name__ == "__main__":
    sys.exit(main())
