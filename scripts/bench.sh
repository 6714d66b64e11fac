#!/usr/bin/env bash
# Benchmarks Tributary against the physical limit (and optionally Flower and FEDn), in one run.
#
#   scripts/bench.sh [--quick] [--peers] [--shapes "10x1e6 10x1e7 2x6e8@1 ..."] [--combiners "1 2 4"]
#                    [--devices "1000x1e4 ..."] [--tls "10x1e6 10x1e7"] [--secagg "10x1e5 50x1e5 100x1e5"]
#                    [--rounds R] [--out FILE] [--scratch-path DIR]
#
# For each shape (N clients × P float32 parameters) and combiner count C it starts the real
# topology — a controller, C combiners and one `tributary-client --count N --trainer noop`
# swarm process — stores a seed model of P parameters, runs a session of 1 warm-up + R rounds
# with validation off, and reports from the REST API the median/min/max seconds per round
# (round_data.time_training + time_reduce), the bytes moved per round (every model crosses
# every hop twice: 2·(N + C)·4P), the achieved GB/s, the bytes-moved bound measured in the
# same run (`tributary-bench bound`: the same bytes over nng on loopback, same message size),
# the ratio round/bound, and peak RSS (VmHWM) per role. Then the aggregation kernel
# micro-benchmark. --devices: HTTP-device rows of the same shapes (scripts/bench-devices.sh: a
# controller and one `tributary devices swarm` process), reported beside the nng rows with the
# ratio device round ÷ nng round. --tls: rows of the same shapes with C=1 on a secured network
# (mutual TLS on every nng hop — mbedTLS — HTTPS and tokens on the REST API, peer tokens per
# client), reported with the ratio TLS round ÷ plain round of the same shape. --secagg: for each
# shape a plain and a secure-aggregation (SecAgg+, defaults) row with C=1, and their ratio. Writes a markdown report (default bench/results.md; --quick:
# bench/results-quick.md). Release build, GLIBC_TUNABLES=glibc.malloc.hugetlb=1.
# --peers: then runs Flower 1.42 (deployment engine) and FEDn 0.33 from ../shared/peers on the shapes
# with N <= 25 (scripts/bench-peers.sh; FEDn needs root) and reports their medians beside
# Tributary's with the ratios. Their virtualenvs are installed first under .peers/ when missing
# (scripts/peers-setup.sh, PyPI, ~2 min once). Each peer takes 1–3 min per shape.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0; peers=0; rounds=6; scratch=.build-release; out=""
shapes="10x1e6 10x1e7 50x1e6 100x1e6 1000x1e4"; combiner_counts="1 2 4"; device_shapes="1000x1e4"; tls_shapes="10x1e6 10x1e7"; secagg_shapes="10x1e5 50x1e5 100x1e5"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --peers) peers=1; shift ;;
    --shapes) shapes=$2; shift 2 ;;
    --combiners) combiner_counts=$2; shift 2 ;;
    --devices) device_shapes=$2; shift 2 ;;
    --tls) tls_shapes=$2; shift 2 ;;
    --secagg) secagg_shapes=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --scratch-path) scratch=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
if [ $quick = 1 ]; then
  shapes=${BENCH_QUICK_SHAPES:-"4x1e4 20x1e5"}; combiner_counts=${BENCH_QUICK_COMBINERS:-"1 2"}; rounds=2
  device_shapes=${BENCH_QUICK_DEVICES:-"20x1e5"}; tls_shapes=${BENCH_QUICK_TLS:-"4x1e4"}; secagg_shapes=${BENCH_QUICK_SECAGG:-"5x1e4"}
  out=${out:-bench/results-quick.md}
fi
out=${out:-bench/results.md}

# Install the peers up front (before anything is timed; a failure shows in the report's notes).
if [ $peers = 1 ]; then bash scripts/peers-setup.sh >&2 || echo "peers-setup failed; bench-peers will say what is missing" >&2; fi

swift build -q -c release --scratch-path "$scratch" >&2
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)
# nng receives large messages with malloc; huge pages avoid the page-fault cliff (notes/nng.md §5.1).
export GLIBC_TUNABLES=${BENCH_GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}
ulimit -n 20000 2>/dev/null || true

run_root=run/bench
mkdir -p "$run_root" "$(dirname "$out")"
results="$run_root/results.tsv"; : > "$results"
pids=()
cleanup() { local q; for q in "${pids[@]:-}"; do [ -n "$q" ] && kill -KILL "$q" 2>/dev/null || true; done; }
trap cleanup EXIT

hwm_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

stop_all() {
  local q alive
  for q in "${pids[@]}"; do kill -TERM "$q" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0; for q in "${pids[@]}"; do kill -0 "$q" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.1
  done
  for q in "${pids[@]}"; do kill -KILL "$q" 2>/dev/null || true; wait "$q" 2>/dev/null || true; done
  pids=()
}

# A throw-away CA for the TLS rows: the controller, combiners and the swarm's certificates.
pki=$run_root/pki
make_pki() {
  rm -rf "$pki"
  "$bin/tributary" pki init --dir "$pki" > /dev/null
  for name in controller combiner-0 combiner-1 combiner-2 combiner-3 bench; do
    local role=client; case $name in controller) role=controller ;; combiner-*) role=combiner ;; esac
    "$bin/tributary" pki issue --dir "$pki" --role "$role" --name "$name" > /dev/null
  done
}

# run_shape N P C INDEX [TLS] [SECURE]: one topology, one session; appends a line to $results. SECURE=1:
# the session runs secure aggregation (SecAgg+ with its defaults). TLS=1: the
# secured network (the swarm's clients share one certificate for the channel and present the
# peer tokens `clients/add` hands each of them as their identity).
run_shape() {
  local n=$1 p=$2 c=$3 idx=$4 tls=${5:-0} secure=${6:-0}
  local params; params=$(python3 -c "print(int(float('$p')))")
  local dir="$run_root/N${n}_P${p}_C${c}$([ "$tls" = 1 ] && echo _tls)$([ "$secure" = 1 ] && echo _secagg)"
  rm -rf "$dir"; mkdir -p "$dir/logs"
  local http=$((18100 + idx)) nb=$((19000 + 20 * idx))
  local url="http://127.0.0.1:$http" scheme=tcp
  local controller_tls=() client_tls=() curl_opts=()
  if [ "$tls" = 1 ]; then
    url="https://127.0.0.1:$http"; scheme=tls+tcp
    controller_tls=(--jwt-secret bench-secret --peer-auth --tls-ca "$pki/ca.pem" --tls-cert "$pki/controller.pem" --tls-key "$pki/controller.key")
    client_tls=(--tls-ca "$pki/ca.pem" --tls-cert "$pki/bench.pem" --tls-key "$pki/bench.key")
    TRIBUTARY_TOKEN=$("$bin/tributary-controller" --jwt-secret bench-secret --issue-token admin)
    export TRIBUTARY_TOKEN TRIBUTARY_CA="$pki/ca.pem"
    curl_opts=(--cacert "$pki/ca.pem" -H "Authorization: Bearer $TRIBUTARY_TOKEN")
  fi
  echo "== N=$n P=$p combiners=$c$([ "$tls" = 1 ] && echo ' TLS')$([ "$secure" = 1 ] && echo ' SecAgg+')" >&2
  "$bin/tributary-controller" --data-dir "$dir/data" --http-port "$http" --listen "$scheme://127.0.0.1:$nb" \
    --publish "$scheme://127.0.0.1:$((nb + 1))" --log-level "${BENCH_LOG_LEVEL:-warning}" "${controller_tls[@]}" > "$dir/logs/controller.log" 2>&1 &
  pids+=($!); local controller_pid=$!
  local combiner_pids=()
  for i in $(seq 0 $((c - 1))); do
    local combiner_tls=()
    [ "$tls" = 1 ] && combiner_tls=(--tls-ca "$pki/ca.pem" --tls-cert "$pki/combiner-$i.pem" --tls-key "$pki/combiner-$i.key")
    "$bin/tributary-combiner" --name "combiner-$i" --controller "$scheme://127.0.0.1:$nb" --listen "$scheme://127.0.0.1:$((nb + 2 + 2 * i))" \
      --publish "$scheme://127.0.0.1:$((nb + 3 + 2 * i))" --log-level "${BENCH_LOG_LEVEL:-warning}" "${combiner_tls[@]}" ${BENCH_COMBINER_ARGS:-} > "$dir/logs/combiner-$i.log" 2>&1 &
    pids+=($!); combiner_pids+=($!)
  done
  "$bin/tributary" wait --controller "$url" --combiners "$c" --timeout 60 >&2 || return 1
  # Native format past 1e8 parameters: .npz is written through an in-memory ZIP.
  local seed="$dir/seed.npz"; [ "$params" -ge 100000000 ] && seed="$dir/seed.trbm"
  "$bin/tributary-client" seed-model --parameters "$params" --out "$seed" > /dev/null || return 1
  # curl streams the file from disk (a 2.4 GB seed need not be read into memory first).
  curl -sf "${curl_opts[@]}" -F "file=@$seed" -F name=seed "$url/api/v1/models/" > /dev/null || return 1
  local combiner_base; combiner_base=$(for q in "${combiner_pids[@]}"; do hwm_mb "$q"; echo; done | sort -n | tail -1)
  "$bin/tributary-client" --controller "$url" --client-id bench --count "$n" --trainer noop --examples 100 "${client_tls[@]}" \
    --log-level "${BENCH_LOG_LEVEL:-warning}" > "$dir/logs/swarm.log" 2>&1 &
  pids+=($!); local swarm_pid=$!
  "$bin/tributary" wait --controller "$url" --combiners "$c" --clients "$n" --models 1 --timeout 300 >&2 || return 1

  local total=$((rounds + 1)) secure_config=""
  [ "$secure" = 1 ] && secure_config=', "secure_aggregation": {}'
  local session
  session=$(curl -sf "${curl_opts[@]}" -X POST "$url/api/v1/sessions/" -H 'Content-Type: application/json' \
    -d "{\"name\": \"bench\", \"session_config\": {\"rounds\": $total, \"round_timeout\": 300, \"clients_required\": $n, \"validate\": false$secure_config}}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])') || return 1
  curl -sf "${curl_opts[@]}" -X POST "$url/api/v1/sessions/start" -H 'Content-Type: application/json' -d "{\"session_id\": \"$session\"}" > /dev/null || return 1
  local t0; t0=$(date +%s.%N)
  local status=Started deadline=$((SECONDS + 900))
  # Polled with curl and sed only, twice a second: a python3 per poll (through pyenv's shims here)
  # took a fifth of the 2 cores away from the rounds being measured (perf, 10 polls a second).
  while [ "$status" = Started ] || [ "$status" = Created ]; do
    [ $SECONDS -lt $deadline ] || { echo "session did not end within 900 s" >&2; return 1; }
    sleep 0.5
    status=$(curl -sf "${curl_opts[@]}" "$url/api/v1/sessions/$session" | sed -n 's/.*"status" *: *"\([A-Za-z]*\)".*/\1/p') || return 1
  done
  local t1; t1=$(date +%s.%N)
  curl -sf "${curl_opts[@]}" "$url/api/v1/rounds/?session_id=$session" -H 'X-Sort-Key: round_number' -H 'X-Sort-Order: asc' -H 'X-Limit: 1000' > "$dir/rounds.json"
  local rss_controller rss_combiner rss_swarm
  rss_controller=$(hwm_mb "$controller_pid")
  rss_combiner=$(for q in "${combiner_pids[@]}"; do hwm_mb "$q"; echo; done | sort -n | tail -1)
  rss_swarm=$(hwm_mb "$swarm_pid")
  stop_all
  unset TRIBUTARY_TOKEN TRIBUTARY_CA

  local model_bytes=$((4 * params)) cp=$(( c < n ? c : n ))
  local moved=$((2 * (n + cp) * model_bytes))
  local chunk=$((8 << 20)); local message=$(( model_bytes < chunk ? model_bytes : chunk ))
  local bound; bound=$("$bin/tributary-bench" bound --bytes "$moved" --message "$message" --repeats $([ $quick = 1 ] && echo 1 || echo 3) |
    sed -n 's/.* seconds \([0-9.]*\) .*/\1/p')
  python3 - "$dir/rounds.json" "$n" "$p" "$c" "$status" "$moved" "$bound" "$rss_controller" "$rss_combiner" "$rss_swarm" \
    "$model_bytes" "$combiner_base" "$t0" "$t1" "$total" "$tls" "$secure" >> "$results" <<'EOF'
import json, statistics, sys
(path, n, p, c, status, moved, bound, rctl, rcomb, rswarm, mbytes, cbase, t0, t1, total, tls, secure) = sys.argv[1:]
rounds = json.load(open(path)).get("result", [])
done = [r for r in rounds if r.get("status") == "Finished"]
times = [(r["round_data"].get("time_training") or 0) + (r["round_data"].get("time_reduce") or 0)
         for r in sorted(done, key=lambda r: r["round_number"]) if r["round_number"] > 1]
wall = (float(t1) - float(t0)) / int(total)
row = dict(n=int(n), p=p, c=int(c), status=status, finished=len(done), total=int(total), failed=len(rounds) - len(done),
           median=statistics.median(times) if times else None, min=min(times) if times else None, max=max(times) if times else None,
           timed=len(times), wall=wall, moved=int(moved), bound=float(bound) if bound else None,
           rss_controller=rctl, rss_combiner=rcomb, rss_swarm=rswarm, model_bytes=int(mbytes), combiner_idle=cbase,
           kind="tls" if tls == "1" else "secagg" if secure == "1" else "nng")
print(json.dumps(row))
EOF
  tail -1 "$results" >&2
}

idx=0
for spec in $shapes; do
  # NxP@C runs that shape with C combiners only (e.g. 2x6e8@1), whatever --combiners says.
  shape=${spec%@*}; counts=$combiner_counts
  [ "$spec" != "$shape" ] && counts=${spec#*@}
  for c in $counts; do
    run_shape "${shape%x*}" "${shape#*x}" "$c" "$idx" || { echo "shape $shape C=$c failed" >&2; stop_all; }
    idx=$((idx + 1))
  done
done

if [ -n "$tls_shapes" ]; then
  make_pki
  for shape in $tls_shapes; do
    run_shape "${shape%x*}" "${shape#*x}" 1 "$idx" 1 || { echo "TLS shape $shape failed" >&2; stop_all; }
    idx=$((idx + 1))
  done
fi

for shape in $secagg_shapes; do
  run_shape "${shape%x*}" "${shape#*x}" 1 "$idx" || { echo "plain shape $shape failed" >&2; stop_all; }
  run_shape "${shape%x*}" "${shape#*x}" 1 "$((idx + 1))" 0 1 || { echo "SecAgg+ shape $shape failed" >&2; stop_all; }
  idx=$((idx + 2))
done

if [ -n "$device_shapes" ]; then
  scripts/bench-devices.sh "$bin" "$device_shapes" "$rounds" "$run_root" >> "$results" || echo "device rows failed" >&2
fi

echo "== aggregation kernels" >&2
if [ $quick = 1 ]; then kernels=$("$bin/tributary-bench" kernels --floats 1e6 --passes 3); else kernels=$("$bin/tributary-bench" kernels); fi
echo "$kernels" >&2

peer_notes="$run_root/peers.txt"; : > "$peer_notes"
if [ $peers = 1 ]; then scripts/bench-peers.sh "$(for spec in $shapes; do printf '%s ' "${spec%@*}"; done)" "$rounds" > "$peer_notes" || true; fi

python3 scripts/bench-report.py "$results" "$peer_notes" "$out" "$quick" <<< "$kernels"
echo "report: $out" >&2
