#!/usr/bin/env bash
# Runs the peer baselines of ../shared/peers (Flower 1.42 deployment engine, FEDn 0.33) on the
# benchmark's shapes and prints one JSON line per result or note, for scripts/bench-report.py.
#   scripts/bench-peers.sh "10x1e6 10x1e7 ..." ROUNDS
# Needs the peers' virtualenvs (see ../shared/peers/README.md; minutes to install, PyPI access)
# and root for FEDn's private network namespace. Takes minutes per shape.
set -uo pipefail
cd "$(dirname "$0")/.."
shapes=$1; rounds=$2
src=${PEERS_DIR:-../shared/peers}
work=run/bench/peers
note() { python3 -c 'import json,sys; print(json.dumps({"note": sys.argv[1]}))' "$1"; }

[ -d "$src" ] || { note "peers not run: $src not found"; exit 0; }
mkdir -p "$work"
cp -rn "$src"/. "$work"/ 2>/dev/null || true   # the peers' scripts write beside themselves
chmod -R u+w "$work" 2>/dev/null || true

result() {   # result PEER N P JSONFILE
  python3 - "$@" <<'PY'
import json, sys
peer, n, p, path = sys.argv[1:]
try:
    d = json.load(open(path))
    print(json.dumps({"peer": peer, "n": int(n), "p": p, "median": d.get("median_s"), "ok": d.get("ok", True)}))
except Exception as e:
    print(json.dumps({"note": f"{peer} N={n} P={p}: no result ({e})"}))
PY
}

for shape in $shapes; do
  n=${shape%x*}; p=${shape#*x}; pi=$(python3 -c "print(int(float('$p')))")
  # Flower's deployment engine and FEDn did not finish N >= 50 on 2 cores (peers/REPORT.md).
  if [ "$n" -gt 25 ] || [ "$pi" -lt 100000 ]; then note "N=$n P=$p: peers not run (they fail or are not comparable at this shape, see peers/REPORT.md)"; continue; fi
  if [ -x "$work/venv-flwr/bin/python" ]; then
    (cd "$work/flower" && timeout 900 ../venv-flwr/bin/python bench_deploy.py "$n" "$p" $((rounds + 1)) > /dev/null 2>&1)
    result flower "$n" "$p" "$work/flower/results/deploy_N${n}_P${pi}.json"
  else
    note "Flower not run: $work/venv-flwr is missing (install per peers/README.md)"
  fi
  if [ -x "$work/venv-fedn/bin/python" ] && [ "$(id -u)" = 0 ]; then
    (cd "$work/fedn" && timeout 900 bash run_fedn.sh "$n" "$p" $((rounds + 1)) > /dev/null 2>&1)
    result fedn "$n" "$p" "$work/fedn/results/fedn_N${n}_P${pi}.json"
  else
    note "FEDn not run: needs $work/venv-fedn (install per peers/README.md) and root for unshare -n"
  fi
done
