#!/usr/bin/env bash
# Runs the peer baselines of ../shared/peers (Flower 1.42 deployment engine, FEDn 0.33) on the
# benchmark's shapes and prints one JSON line per result or note (stdout), for
# scripts/bench-report.py; progress goes to stderr.
#   scripts/bench-peers.sh "10x1e6 10x1e7 ..." ROUNDS      (ROUNDS timed rounds + 1 warm-up)
# Installs the peers' virtualenvs under .peers/ when missing (scripts/peers-setup.sh: PyPI,
# ~2 min the first time), copies ../shared/peers to run/bench/peers (the peers' scripts write
# beside themselves) and links the venvs into the copy. FEDn needs root (`unshare -n`: its
# network runs in a private network namespace). Minutes per shape.
# Environment: PEERS_DIR (default ../shared/peers), BENCH_PEERS (default "flower fedn"),
# PEERS_TIMEOUT (seconds per peer run, default 900).
set -uo pipefail
cd "$(dirname "$0")/.."
shapes=$1; rounds=$2
src=${PEERS_DIR:-../shared/peers}
which_peers=${BENCH_PEERS:-flower fedn}
limit=${PEERS_TIMEOUT:-900}
work=run/bench/peers
note() { python3 -c 'import json,sys; print(json.dumps({"note": sys.argv[1]}))' "$1"; }
has() { case " $which_peers " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

[ -d "$src" ] || { note "peers not run: $src not found"; exit 0; }
bash scripts/peers-setup.sh "$src" >&2 || note "peers setup incomplete (scripts/peers-setup.sh failed; see its output)"
mkdir -p "$work"
cp -r "$src"/. "$work"/ 2>/dev/null || true   # refreshes the scripts; results/ of earlier runs stay
chmod -R u+w "$work" 2>/dev/null || true
# The peers' scripts find their venvs beside the folder's root (flower/bench_deploy.py:
# ../venv-flwr/bin, fedn/run_fedn.sh + bench_fedn.py: ../venv-fedn/bin/python, ../venv-moto/bin).
for v in venv-flwr venv-fedn venv-moto; do
  if [ -L "$work/$v" ] || [ ! -e "$work/$v" ]; then ln -sfn "$PWD/.peers/$v" "$work/$v"; fi
done
# fedn/settings.yaml names the SQLite state store relative to the working directory
# (fedn/run/fedn.sqlite), but bench_fedn.py builds the schema from its caller's directory and
# starts the controller and combiner in fedn/run/, so no single directory makes both open the
# same file (the controller fails with "unable to open database file"). In the copy, make it
# absolute: fedn/run/fedn.sqlite of the copy, the file bench_fedn.py intends (it wipes fedn/run/
# and recreates it before building the schema).
sed -i -E "s#^([[:space:]]*dbname:[[:space:]]*)fedn/run/fedn\.sqlite#\1$PWD/$work/fedn/run/fedn.sqlite#" "$work/fedn/settings.yaml"

# result PEER N P JSONFILE START EXIT LOG LIMIT: one JSON line from the summary the peer's script wrote.
result() {
  python3 - "$@" <<'PY'
import json, sys, time
peer, n, p, path, start, code, log, limit = sys.argv[1:]
base = {"peer": peer, "n": int(n), "p": p, "elapsed_s": round(time.time() - float(start), 1), "exit": int(code), "log": log}
try:
    d = json.load(open(path))
except Exception as e:
    why = f"timed out after {limit} s" if code in ("124", "137") else f"exit {code}"
    print(json.dumps(dict(base, note=f"{peer} N={n} P={p}: no result ({why}, {e.__class__.__name__}); see {log}")))
    sys.exit()
if peer == "flower":    # flower/bench_deploy.py: deploy_N*_P*.json (written only when the rounds ran)
    timed = d.get("steady_rounds") or []
    ok = d.get("median_s") is not None
    extra = {"rounds": d.get("rounds_total"), "send_recv_median": d.get("send_recv_median_s"),
             "aggregate_median": d.get("aggregate_median_s")}
else:                   # fedn/bench_fedn.py: fedn_N*_P*.json (written also when it failed, ok false)
    timed = (d.get("round_wall_s") or [])[1:]
    ok = bool(d.get("ok"))
    extra = {"rounds": d.get("rounds"), "statuses": d.get("statuses"), "model_check": d.get("model_check")}
print(json.dumps(dict(base, median=d.get("median_s"), min=d.get("min_s"), max=d.get("max_s"), timed=len(timed),
                      warmup=d.get("warmup_round_s"), ok=ok, peak_total_rss_mb=d.get("peak_total_rss_mb"), **extra)))
PY
}

# reap: ends what a peer run left behind. The drivers start their roles in new sessions and stop
# them in a `finally`; if a driver dies without it (e.g. Flower's bench_deploy.py has no SIGTERM
# handler), its superlink/supernodes and memory watcher would go on holding ports and CPU. Every
# such process runs a python of this repo's .peers/ venvs or a script of the copy, so they are
# found by these absolute paths in their command lines.
reap() {
  python3 - "$PWD/.peers/" "$PWD/$work/" <<'PY'
import os, signal, sys, time
pats = [a.encode() for a in sys.argv[1:]]
def left():
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read()
                if any(p in cmd for p in pats):
                    out.append(int(pid))
            except OSError:
                pass
    return out
pids = left()
if pids: print(f"bench-peers: ending {len(pids)} processes the peer run left behind", file=sys.stderr)
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pid in pids:
        try: os.kill(pid, sig)
        except OSError: pass
    for _ in range(50):
        pids = left()
        if not pids: break
        time.sleep(0.1)
if pids: print(f"bench-peers: {len(pids)} leftover peer processes survive SIGKILL", file=sys.stderr)
PY
}

# run_peer PEER N P DIR JSONFILE CMD...: runs CMD in DIR with a time limit, then prints its result.
run_peer() {
  local peer=$1 n=$2 p=$3 dir=$4 json=$5; shift 5
  local out=${json%.json}.out t0 code
  rm -f "$dir/$json"; mkdir -p "$(dirname "$dir/$out")"
  echo "== peers: $peer N=$n P=$p ($((rounds + 1)) rounds, log $dir/$out)" >&2
  t0=$EPOCHREALTIME
  local gunicorn_dir=$HOME/.gunicorn had_gunicorn=0; [ -e "$gunicorn_dir" ] && had_gunicorn=1
  # SIGINT on time-out: the drivers' `finally` stops their roles on KeyboardInterrupt.
  (cd "$dir" && timeout -s INT -k 30 "$limit" "$@" > "$out" 2>&1); code=$?
  reap
  # FEDn's controller (gunicorn) leaves its control-socket folder in $HOME; remove it if it is new.
  [ $had_gunicorn = 1 ] || rm -rf "$gunicorn_dir"
  local line; line=$(result "$peer" "$n" "$p" "$dir/$json" "$t0" "$code" "$dir/$out" "$limit")
  echo "$line"; echo "$line" >&2
}

for shape in $shapes; do
  n=${shape%x*}; p=${shape#*x}; pi=$(python3 -c "print(int(float('$p')))")
  # Flower's deployment engine and FEDn did not finish N >= 50 on 2 cores (peers/REPORT.md).
  if [ "$n" -gt 25 ] || [ "$pi" -lt 100000 ]; then
    note "N=$n P=$p: peers not run (at N > 25 Flower's deployment engine and FEDn fail on 2 cores; below P=1e5 rounds are start-up and polling bound: peers/REPORT.md)"
    continue
  fi
  # Flower cannot carry a model past 2 GB in one message; FEDn is not run there either (minutes a round at P=1e7 already).
  if [ "$pi" -gt 10000000 ]; then
    note "N=$n P=$p: peers not run (past P=1e7: Flower caps a gRPC message at 2 GB, flwr/supercore/grpc.py, and its server holds all of a round's results in memory before aggregating)"
    continue
  fi
  if has flower; then
    if [ -x "$work/venv-flwr/bin/python" ]; then
      run_peer flower "$n" "$p" "$work/flower" "results/deploy_N${n}_P${pi}.json" \
        ../venv-flwr/bin/python bench_deploy.py "$n" "$p" $((rounds + 1))
    else
      note "Flower N=$n P=$p not run: $work/venv-flwr is missing (scripts/peers-setup.sh failed)"
    fi
  fi
  if has fedn; then
    if [ -x "$work/venv-fedn/bin/python" ] && [ -x "$work/venv-moto/bin/moto_server" ] && [ "$(id -u)" = 0 ]; then
      run_peer fedn "$n" "$p" "$work/fedn" "results/fedn_N${n}_P${pi}.json" \
        bash run_fedn.sh "$n" "$p" $((rounds + 1))
    else
      note "FEDn N=$n P=$p not run: needs $work/venv-fedn and venv-moto (scripts/peers-setup.sh) and root for unshare -n"
    fi
  fi
done
