#!/usr/bin/env python3
"""Writes the markdown report of scripts/bench.sh.

usage: bench-report.py RESULTS.jsonl PEERS.jsonl OUT.md QUICK  < kernels-output
"""
import datetime
import json
import platform
import re
import subprocess
import sys

results_path, peers_path, out_path, quick = sys.argv[1:5]
kernels = sys.stdin.read()


def lines(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


rows = [r for r in lines(results_path) if r.get("kind") not in ("devices", "tls", "secagg")]
secagg_rows = [r for r in lines(results_path) if r.get("kind") == "secagg"]
tls_rows = [r for r in lines(results_path) if r.get("kind") == "tls"]
device_rows = [r for r in lines(results_path) if r.get("kind") == "devices"]
peers = lines(peers_path)


def machine():
    cpu = "?"
    cores = 0
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and cpu == "?":
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("processor"):
            cores += 1
    mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.split("\n")[1].split()[1]
    return f"{cpu}, {cores} vCPU, {mem} GiB RAM, Linux {platform.release()}"


def f(x, fmt="{:.3f}"):
    return "–" if x is None else fmt.format(x)


def mb(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


# Reference figures of peers/REPORT.md (median s/round; measured there, not in this run). Used only for a
# peer that was not run in this run at all (no --peers, or it could not be installed), marked as such.
REFERENCE = {("flower", 10, "1e6"): 13.67, ("flower", 10, "1e7"): 16.04, ("fedn", 10, "1e6"): 3.43, ("fedn", 10, "1e7"): 19.58}
PEERS = (("flower", "Flower"), ("fedn", "FEDn"))

out = []
out.append("# Tributary benchmark" + (" (quick smoke run)" if quick == "1" else ""))
out.append("")
out.append(f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
out.append(f"- machine: {machine()}")
out.append("- build: `swift build -c release`, `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, all processes on one machine, nng over tcp loopback")
out.append("- topology per row: 1 controller + C combiners + 1 swarm process of N no-op clients (`tributary-client --count N --trainer noop`),"
           " fresh processes per row; 1 warm-up round, then the timed rounds; validation off; chunk size 8 MiB")
out.append("- round s: `round_data.time_training + time_reduce` from the REST API (order → partials reduced → new model stored);"
           " wall s/round: the session's wall time / its rounds, as polled by the script (includes round bookkeeping and the warm-up)")
out.append("- bytes/round: every model crosses every hop twice (download + upload): 2·(N + C)·4P; bound: `tributary-bench bound`, the same"
           " bytes in messages of the same size over nng REQ/REP on loopback (2 in flight), measured in this run")
out.append("")
out.append("| N | P | C | rounds ok | round s median | min | max | wall s/round | MB/round | GB/s | bound s | round/bound "
           "| RSS controller MB | RSS combiner MB (max) | combiner (RSS−idle)/model | RSS swarm MB |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    med, bound = r.get("median"), r.get("bound")
    gbps = r["moved"] / med / 1e9 if med else None
    ratio = med / bound if med and bound else None
    comb, idle = mb(r.get("rss_combiner")), mb(r.get("combiner_idle"))
    over = (comb - idle) * 1048576 / r["model_bytes"] if comb is not None and idle is not None else None
    ok = f"{r['finished']}/{r['total']}" + ("" if r["status"] == "Finished" else f" ({r['status']})")
    out.append(f"| {r['n']} | {r['p']} | {r['c']} | {ok} | {f(med)} | {f(r.get('min'))} | {f(r.get('max'))} | {f(r.get('wall'))} "
               f"| {r['moved'] / 1e6:.1f} | {f(gbps, '{:.2f}')} | {f(bound, '{:.4f}')} | {f(ratio, '{:.1f}')} "
               f"| {r.get('rss_controller')} | {r.get('rss_combiner')} | {f(over, '{:.1f}')} | {r.get('rss_swarm')} |")
out.append("")
out.append("Combiner memory: *(RSS−idle)/model* is the combiner's peak RSS minus its RSS when idle (registered, no clients yet),"
           " in units of the model size; the design bound is ≤ 3 whatever N.")
out.append("")


def ratio_table(title, intro, label, extra, variants):
    """A table of variant rows beside the plain row of the same N, P and C, with their ratio."""
    if not variants:
        return
    out.extend([f"## {title}", "", intro, ""])
    out.append(f"| N | P | C | rounds ok | round s median | min | max | plain round s | {label} | " + " | ".join(h for h, _ in extra) + " |")
    out.append("|---|---|---|---|---|---|---|---|---|" + "---|" * len(extra))
    for t in variants:
        ref = next((r for r in rows if r["n"] == t["n"] and float(r["p"]) == float(t["p"]) and r["c"] == t["c"] and r.get("median")), None)
        ratio = t["median"] / ref["median"] if ref and t.get("median") else None
        out.append(f"| {t['n']} | {t['p']} | {t['c']} | {t['finished']}/{t['total']} | {f(t.get('median'))} | {f(t.get('min'))} | {f(t.get('max'))} "
                   f"| {f(ref['median']) if ref else '–'} | {f(ratio, '{:.1f}×')} | " + " | ".join(str(t.get(k)) for _, k in extra) + " |")
    out.append("")


ratio_table("Secured network (TLS)",
            "Per row: the topology above with C=1 on a secured network — mutual TLS (mbedTLS 2.28, nng `tls+tcp://`) on every"
            " nng hop, HTTPS and bearer tokens on the REST API, `--peer-auth` (each swarm client presents the peer token"
            " `clients/add` gave it). *TLS / plain*: the TLS round's median ÷ the plain row of the same N, P and C, measured in this run.",
            "TLS / plain", [("RSS controller MB", "rss_controller"), ("RSS combiner MB", "rss_combiner")], tls_rows)
ratio_table("Secure aggregation (SecAgg+)",
            "Per row: the topology above with C=1, the session with `secure_aggregation` at its defaults (5 shares, threshold 3,"
            " 2²² levels, modulus 2³²): the combiner runs the four SecAgg+ stages with its N clients (all in the swarm process)."
            " *SecAgg+ / plain*: its round median ÷ the plain row of the same N, P and C, measured in this run.",
            "SecAgg+ / plain", [("RSS combiner MB", "rss_combiner"), ("RSS swarm MB", "rss_swarm")], secagg_rows)


if device_rows:
    out.append("## HTTP devices")
    out.append("")
    out.append("Per row: 1 controller (HTTP device updates are folded by its HTTP cohort tier, the same checks and streaming fold"
               " as a combiner's) + 1 `tributary devices swarm --count N` process of no-op devices (multipart .npz uploads over"
               " HTTP/1.1 loopback, 32 in flight), fresh processes, 1 warm-up device round then the timed ones."
               " *device / nng*: the device round's median ÷ the nng row of the same shape (fewest combiners), measured in this run.")
    out.append("")
    out.append("| N | P | rounds ok | round s median | min | max | nng round s (C) | device / nng | RSS controller MB | RSS swarm MB |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for d in device_rows:
        nng = sorted((r for r in rows if r["n"] == d["n"] and float(r["p"]) == float(d["p"]) and r.get("median")), key=lambda r: r["c"])
        ref = nng[0] if nng else None
        ratio = d["median"] / ref["median"] if ref and d.get("median") else None
        out.append(f"| {d['n']} | {d['p']} | {d['finished']}/{d['total']} | {f(d.get('median'))} | {f(d.get('min'))} | {f(d.get('max'))} "
                   f"| {f(ref['median']) + ' (C=' + str(ref['c']) + ')' if ref else '–'} | {f(ratio, '{:.1f}×')} | {d.get('rss_controller')} "
                   f"| {d.get('rss_swarm')} |")
    out.append("")


def row(n, p, c):
    for r in rows:
        if r["n"] == n and float(r["p"]) == float(p) and r["c"] == c:
            return r
    return None


if quick != "1":
    out.append("## Targets")
    out.append("")
    # Round time as a multiple of the bytes-moved bound measured in the same run.
    checks = [((10, "1e6", 2), 2.0), ((10, "1e7", 2), 1.5)]
    for (n, p, c), target in checks:
        r = row(n, p, c)
        med, bound = (r.get("median"), r.get("bound")) if r else (None, None)
        ratio = med / bound if med and bound else None
        verdict = "not run" if ratio is None else ("met" if ratio <= target else "MISSED")
        out.append(f"- N={n}, P={p}, {c} combiners: median {f(med)} s, {f(ratio, '{:.2f}')}× its bound, target ≤ {target}×: **{verdict}**")
    for r in rows:
        if r.get("kind") != "nng":
            continue
        comb, idle = mb(r.get("rss_combiner")), mb(r.get("combiner_idle"))
        if comb is None or idle is None:
            continue
        over = (comb - idle) * 1048576 / r["model_bytes"]
        out.append(f"- combiner (RSS−idle)/model at N={r['n']}, P={r['p']}, C={r['c']}: {over:.1f}, target ≤ 3: **{'met' if over <= 3 else 'MISSED'}**")
    big = [r for r in rows if r["n"] == 1000]
    out.append("- N=1000, P=1e4 completes rounds: " + (", ".join(f"C={r['c']}: {r['finished']}/{r['total']}" for r in big) or "not run"))
    m = re.search(r"ratio fold_4_fused/read_only_sum ([0-9.]+)\s+fold_1/read_only_sum ([0-9.]+)", kernels)
    if m:
        out.append(f"- aggregation kernel ≥ 60% of read bandwidth: fused 4-update fold {float(m.group(1)) * 100:.0f}%,"
                   f" single-update fold {float(m.group(2)) * 100:.0f}%")
    out.append("")

out.append("## Aggregation kernel (`tributary-bench kernels`)")
out.append("")
out.append("```")
out.append(kernels.strip())
out.append("```")
out.append("")


def same(a_n, a_p, b_n, b_p):
    return a_n == b_n and float(a_p) == float(b_p)


def tributary(n, p):
    """The shape's Tributary row: 2 combiners when present, else 1, else the fewest."""
    mine = sorted((r for r in rows if same(r["n"], r["p"], n, p)), key=lambda r: (r["c"] != 2, r["c"] != 1, r["c"]))
    return mine[0] if mine else None


out.append("## Peers (Flower 1.42 deployment engine, FEDn 0.33)")
out.append("")
runs = [x for x in peers if "peer" in x]          # one per peer run: a result, or a failure with its note
notes = [x["note"] for x in peers if "note" in x]
ran = {x["peer"] for x in runs}
if runs:
    out.append("Measured in this run, after Tributary's rows, on the same machine and shapes (`scripts/bench-peers.sh`:"
               " `../shared/peers` copied to `run/bench/peers`, venvs in `.peers/`), with 1 warm-up round + the same number of"
               " timed rounds. Per round: Flower, the ServerApp's configure + `send_and_receive` + aggregate; FEDn, the wall time"
               " between successive round-Finished events (REST, polled every 0.1 s); Tributary, `time_training + time_reduce`."
               " *peer / Tributary* = how many times faster Tributary is (Tributary / peer is its inverse).")
elif not notes:
    out.append("- peers not run in this benchmark run (`scripts/bench.sh --peers` runs them; they take minutes per shape)")
out.append("")
shapes = []
for r in rows:
    if not any(same(r["n"], r["p"], n, p) for n, p in shapes):
        shapes.append((r["n"], r["p"]))
for x in runs:
    if not any(same(x["n"], x["p"], n, p) for n, p in shapes):
        shapes.append((x["n"], x["p"]))
header = "| shape | Tributary median s (C) |"
rule = "|---|---|"
for _, name in PEERS:
    header += f" {name} median s [min–max] | {name} / Tributary |"
    rule += "---|---|"
out.append(header)
out.append(rule)
footnote = False
for n, p in shapes:
    t = tributary(n, p)
    mine = t.get("median") if t else None
    line = f"| N={n}, P={p} | " + (f"{f(mine)} (C={t['c']})" if t else "–") + " |"
    for peer, _ in PEERS:
        live = next((x for x in runs if x["peer"] == peer and same(x["n"], x["p"], n, p)), None)
        if live and live.get("ok") and live.get("median") is not None:
            value = live["median"]
            cell = f"{value:.2f} [{f(live.get('min'), '{:.2f}')}–{f(live.get('max'), '{:.2f}')}]"
        elif live:
            value, cell = None, "failed (see below)"
        elif peer not in ran and (peer, n, str(p)) in REFERENCE:
            value = REFERENCE[(peer, n, str(p))]
            cell = f"{value:.2f}†"
            footnote = True
        else:
            value, cell = None, "not run"
        ratio = f"{value / mine:.0f}×" if value and mine else "–"
        line += f" {cell} | {ratio} |"
    out.append(line)
out.append("")
if footnote:
    out.append("† not measured in this run: the median in `../shared/peers/REPORT.md` (same machine kind, another day).")
    out.append("")
for note in notes:
    out.append(f"- {note}")
if notes:
    out.append("")
if runs:
    out.append("| peer | shape | rounds | timed | warm-up s | median s | min | max | run took s | Σ peak RSS MB | output |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for x in runs:
        status = x.get("statuses") and ",".join(sorted(set(x["statuses"])))
        rounds_cell = ("–" if x.get("rounds") is None else str(x["rounds"])) + (f" ({status})" if status else "") \
            + ("" if x.get("ok") else " **failed**")
        out.append(f"| {x['peer']} | N={x['n']}, P={x['p']} | {rounds_cell} | {x.get('timed', '–')} | {f(x.get('warmup'), '{:.2f}')} "
                   f"| {f(x.get('median'), '{:.2f}')} | {f(x.get('min'), '{:.2f}')} | {f(x.get('max'), '{:.2f}')} "
                   f"| {f(x.get('elapsed_s'), '{:.0f}')} | {f(x.get('peak_total_rss_mb'), '{:.0f}')} | `{x.get('log', '')}` |")
    out.append("")
    out.append("*run took*: the peer's whole run (start-up of its processes, warm-up, timed rounds, shutdown);"
               " Σ peak RSS: the peak of the summed RSS of all its processes (`common_memwatch.py`; shared pages counted per process).")
    out.append("")
open(out_path, "w").write("\n".join(out))
