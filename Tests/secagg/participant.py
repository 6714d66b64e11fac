#!/usr/bin/env python3
"""An independent SecAgg+ participant for Tributary.

Written from the protocol description in README.md ("Secure aggregation (SecAgg+)" ->
"The protocol, byte for byte") and the nng frame layout (32-byte header, JSON metadata,
padding, payload), not from the Swift implementation. Its "update" is the constant delta D
for every value of the round's model, with N examples.

    python participant.py --controller http://127.0.0.1:PORT --client-id ID --combiner NAME \
        --delta D --examples N [--drop-after masked|bundles] [--token TOKEN] [--timeout 120] [--rounds N]
    python participant.py --self-test

Without --rounds it serves every SecAgg+ round it is tasked with until --timeout seconds have
passed (then exits 0 if it finished at least one, else 1); a round still open at --timeout, a
refused call or a failed cohort exits 1.
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import os
import secrets
import struct
import sys
import time
import urllib.error
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
    def __init__(self, participant: "Participant", task: dict):
        self.p = participant
        self.peer = participant.peer
        self.task = task
        self.job = task["jobId"]
        cfg = task["secureAggregation"] or {}
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
            time.sleep(0.05)

    def run(self) -> bool:
        """True when finished (or dropped on purpose)."""
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
        say(f"secagg done {self.job}")
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
    args = parser.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.controller or not args.client_id:
        parser.error("--controller and --client-id are required")
    if args.examples < 1:
        parser.error("--examples must be positive")
    participant = Participant(args)
    try:
        return participant.run()
    except ParticipantError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        if participant.peer:
            participant.peer.close()


if __name__ == "__main__":
    sys.exit(main())
