#!/usr/bin/env bash
# The HTTP-device rows of scripts/bench.sh: per shape NxP, a controller alone (HTTP devices are
# folded by its HTTP cohort tier) and one `tributary devices swarm --count N` process of no-op
# devices; R+1 device rounds (`POST /training/rounds/start`, target = min = N), the first a
# warm-up. Prints one JSON line per shape: median/min/max round seconds (time_training +
# time_reduce, as for the nng rows) and peak RSS per process.
#
#   scripts/bench-devices.sh BIN_DIR "1000x1e4 ..." ROUNDS RUN_ROOT
set -euo pipefail
bin=$1; shapes=$2; rounds=$3; root=$4
pids=()
cleanup() { local q; for q in "${pids[@]:-}"; do [ -n "$q" ] && kill -KILL "$q" 2>/dev/null || true; done; }
trap cleanup EXIT
hwm_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

idx=0
for shape in $shapes; do
  n=${shape%x*}; p=${shape#*x}; idx=$((idx + 1))
  params=$(python3 -c "print(int(float('$p')))")
  dir="$root/devices_N${n}_P${p}"; rm -rf "$dir"; mkdir -p "$dir/logs"
  http=$((18400 + idx)); nb=$((19500 + 10 * idx)); url="http://127.0.0.1:$http"
  echo "== devices N=$n P=$p" >&2
  # Rate limit and heartbeat sized for a swarm: N devices behind one org key and one poller.
  "$bin/tributary-controller" --data-dir "$dir/data" --http-port "$http" --listen "tcp://127.0.0.1:$nb" --publish "tcp://127.0.0.1:$((nb + 1))" \
    --device-rate-limit 100000000 --device-heartbeat 60 --log-level "${BENCH_LOG_LEVEL:-warning}" > "$dir/logs/controller.log" 2>&1 &
  pids+=($!); controller=$!
  "$bin/tributary" wait --controller "$url" --combiners 0 --timeout 60 >&2
  "$bin/tributary-client" seed-model --parameters "$params" --out "$dir/seed.npz" > /dev/null
  "$bin/tributary" upload-model --controller "$url" "$dir/seed.npz" --name seed > /dev/null
  "$bin/tributary" devices swarm --controller "$url" --count "$n" --examples 100 > "$dir/logs/swarm.log" 2>&1 &
  pids+=($!); swarm=$!
  for _ in $(seq 600); do grep -q "devices registered" "$dir/logs/swarm.log" && break; sleep 0.1; done
  sessions=()
  for r in $(seq $((rounds + 1))); do
    id=$(curl -sf -X POST "$url/device-api/api/v1/training/rounds/start" -H 'Content-Type: application/json' \
      -d "{\"target_devices\": $n, \"min_devices\": $n, \"timeout_seconds\": 300}" | json 'd["id"]')
    sessions+=("${id%-r1}")
    for _ in $(seq 3000); do
      status=$(curl -sf "$url/api/v1/rounds/$id" | json 'd["status"]' 2>/dev/null || echo Pending)
      { [ "$status" = Finished ] || [ "$status" = Failed ]; } && break
      sleep 0.1
    done
  done
  rss_controller=$(hwm_mb "$controller"); rss_swarm=$(hwm_mb "$swarm")
  for s in "${sessions[@]}"; do curl -sf "$url/api/v1/rounds/?session_id=$s"; echo; done > "$dir/rounds.jsonl"
  kill -TERM "$controller" "$swarm" 2>/dev/null || true; wait "$controller" "$swarm" 2>/dev/null || true; pids=()
  python3 - "$dir/rounds.jsonl" "$n" "$p" "$rss_controller" "$rss_swarm" "$((4 * params))" <<'PY'
import json, statistics, sys
path, n, p, rctl, rswarm, mbytes = sys.argv[1:]
rounds = [r for line in open(path) if line.strip() for r in json.loads(line).get("result", [])]
rounds.sort(key=lambda r: r["committed_at"])
done = [r for r in rounds if r.get("status") == "Finished"]
times = [(r["round_data"].get("time_training") or 0) + (r["round_data"].get("time_reduce") or 0) for r in done[1:]]
print(json.dumps(dict(kind="devices", n=int(n), p=p, finished=len(done), total=len(rounds),
                      median=statistics.median(times) if times else None, min=min(times) if times else None, max=max(times) if times else None,
                      timed=len(times), rss_controller=rctl, rss_swarm=rswarm, model_bytes=int(mbytes))))
PY
done
