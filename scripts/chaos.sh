#!/usr/bin/env bash
# Chaos run: a session of many rounds on the local topology while, in every round, a random
# client or combiner is killed with SIGKILL and started again. Prints what happened per
# round and exits 0 only if the session finished.
#   scripts/chaos.sh [--rounds 20] [--combiners 2] [--clients 6] [--round-timeout 10] [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
rounds=20; combiners=2; clients=6; timeout=10; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --combiners) combiners=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --round-timeout) timeout=$2; shift 2 ;;
    --release) extra+=(--release); shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
run_dir=run/chaos
net() { scripts/local-network.sh "$@" --run-dir "$run_dir"; }
trap 'trap "" INT TERM; net down >/dev/null' EXIT
trap 'exit 130' INT TERM
net down >/dev/null
# Slow clients (2 s per training step) keep each round open long enough for a kill to land in it.
controller=$(net up --combiners "$combiners" --clients "$clients" --client-args "--train-delay 2" "${extra[@]}" | sed -n 's/^controller: //p')
api() { curl -sf -H 'X-Sort-Key: round_number' -H 'X-Sort-Order: asc' "$controller$1"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

session=$(curl -sf -X POST "$controller/api/v1/sessions/" -H 'Content-Type: application/json' \
  -d "{\"name\": \"chaos-$(date +%s)\", \"session_config\": {\"rounds\": $rounds, \"round_timeout\": $timeout, \"validate\": true,
       \"training\": {\"local_epochs\": 1, \"learning_rate\": 0.5}}}" | json 'd["session_id"]')
curl -sf -X POST "$controller/api/v1/sessions/start" -H 'Content-Type: application/json' -d "{\"session_id\": \"$session\"}" >/dev/null
echo "chaos session $session: $rounds rounds, one kill per round"

declare -A victims
last=0
while :; do
  status=$(api "/api/v1/sessions/$session" | json 'd["status"]')
  [ "$status" = Started ] || break
  current=$(api "/api/v1/rounds/?session_id=$session" | json 'max([r["round_number"] for r in d["result"]] or [0])')
  if [ "$current" -gt "$last" ]; then
    last=$current
    if [ $((RANDOM % 2)) = 0 ]; then victim="client-$((RANDOM % clients))"; else victim="combiner-$((RANDOM % combiners))"; fi
    victims[$current]=$victim
    sleep 0.$((RANDOM % 5 + 1))            # land inside the round (training takes 2 s)
    net kill "$victim" >/dev/null
    # Restart in the background, so the next round is watched (and hit) on time.
    ( sleep $((RANDOM % 2 + 1)); net restart "$victim" >/dev/null ) &
  fi
  sleep 0.1
done
wait   # pending restarts

echo
printf '%-6s %-9s %-8s %-14s %-9s %s\n' round status attempt killed accuracy contributors
api "/api/v1/rounds/?session_id=$session" | python3 -c '
import json, sys
victims = dict(arg.split("=") for arg in sys.argv[1:])
for r in json.load(sys.stdin)["result"]:
    clients = sorted(c for rep in r["combiners"] for c in rep["clients"])
    acc = r["round_data"]["validation"].get("accuracy")
    print("%-6d %-9s %-8d %-14s %-9s %s" % (r["round_number"], r["status"], r["round_data"].get("attempt", 1),
          victims.get(str(r["round_number"]), "-"), "%.4f" % acc if acc is not None else "-", ",".join(clients) or r.get("error", "")))
' $(for k in "${!victims[@]}"; do echo "$k=${victims[$k]}"; done)
echo "session $status"
[ "$status" = Finished ]
