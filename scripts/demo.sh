#!/usr/bin/env bash
# The main job: a real federated training of a softmax classifier on the UCI digits data
# across a controller, 2 combiners and 4 clients — each its own process, talking over nng —
# printing each round's global test accuracy. The network is taken down at the end, also on
# Ctrl-C.   Usage: scripts/demo.sh [--rounds R] [--combiners C] [--clients N] [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
rounds=10; combiners=2; clients=4; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --combiners) combiners=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --release) extra+=(--release); shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
run_dir=run/demo
# Cleanup must finish even if a second Ctrl-C arrives while it runs.
trap 'trap "" INT TERM; scripts/local-network.sh down --run-dir "$run_dir"' EXIT
trap 'exit 130' INT TERM
scripts/local-network.sh down --run-dir "$run_dir" >/dev/null
controller=$(scripts/local-network.sh up --run-dir "$run_dir" --combiners "$combiners" --clients "$clients" "${extra[@]}" | sed -n 's/^controller: //p')
echo "network up: controller $controller, $combiners combiners, $clients clients (logs in $run_dir/logs)"
echo "processes:"; scripts/local-network.sh status --run-dir "$run_dir" | sed 's/^/  /'
bin=$(swift build --show-bin-path $( [ ${#extra[@]} -gt 0 ] && echo -c release ))
"$bin/tributary" train --controller "$controller" --rounds "$rounds" --round-timeout 60 --local-epochs 2 --learning-rate 0.5
