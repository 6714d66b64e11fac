#!/usr/bin/env bash
# A multi-host Tributary network on one machine: every "host" is a Linux network namespace
# with its own interface and IP, wired through a bridge that lives in a separate router
# namespace (the root namespace's interfaces, routes and firewall are not touched). Nothing
# is routed off the machine: the namespaces have no default route, and the subnet exists only
# on this bridge.
#
#   PREFIX-router  bridge br0 (no IP)
#   PREFIX-ctl     SUBNET.10  controller (REST :8092, nng REP :7100, PUB :7101), runs the operator CLI
#   PREFIX-cmb1    SUBNET.21  combiner-1 (bound to 0.0.0.0, advertises SUBNET.21)
#   PREFIX-cmb2    SUBNET.22  combiner-2 (bound to 0.0.0.0, advertises SUBNET.22)
#   PREFIX-cli1    SUBNET.31  N clients preferring combiner-1
#   PREFIX-cli2    SUBNET.32  N clients preferring combiner-2
#
#   scripts/netns-topology.sh [run]   build, start everything, upload a seed model, train a session,
#                                     show the traffic each host's interface carried, tear down
#   scripts/netns-topology.sh up      the same up to a running, idle network (left up; `down` removes it)
#   scripts/netns-topology.sh down    stop the processes and delete the namespaces
#
# Options: --rounds R (3)  --clients-per-host N (2)  --prefix P (trib)  --subnet A.B.C (10.231.77)
#          --run-dir DIR (run/netns)  --bin DIR (default: swift build)  --release
#
# The network is secured as README "Security" describes for several hosts: a throw-away CA
# (RUN_DIR/secrets/pki) with a certificate per controller, combiner and client naming its IP,
# mutual TLS on every nng hop, HTTPS and bearer tokens on the REST API (a random JWT secret; the
# clients share a client token, the operator CLI holds an admin token).
#
# Needs root and iproute2 (`apt-get install -y iproute2`). Every process runs inside its
# namespace (`ip netns exec`) through scripts/cluster.sh; logs stay in RUN_DIR/HOST/logs.
# `run` removes everything it created on exit, also on failure or Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

usage() {
  local code=${1:-2}
  if [ "$code" = 0 ]; then sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  else sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; fi
  exit "$code"
}

cmd=run
case "${1:-}" in run|up|down) cmd=$1; shift ;; -h|--help|help) usage 0 ;; esac
rounds=3; per_host=2; prefix=trib; subnet=10.231.77; run_dir=run/netns; bin=""; config=debug
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --clients-per-host) per_host=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --subnet) subnet=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --release) config=release; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done
case "$subnet" in 10.*|192.168.*) ;; *) echo "--subnet must be a private 10.x.y or 192.168.x range" >&2; exit 2 ;; esac
case "$run_dir" in /*) ;; *) run_dir="$root/$run_dir" ;; esac

# host name -> last octet; the controller first, the router has no address.
hosts=(ctl cmb1 cmb2 cli1 cli2)
declare -A octet=([ctl]=10 [cmb1]=21 [cmb2]=22 [cli1]=31 [cli2]=32)
router="$prefix-router"
ns() { echo "$prefix-$1"; }
ip_of() { echo "$subnet.${octet[$1]}"; }
ctl_ip=$(ip_of ctl)
rest="https://$ctl_ip:8092"
secrets="$run_dir/secrets"; pki="$secrets/pki"

log() { printf '[netns] %s\n' "$*" >&2; }
in_ns() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }
cluster() { local h=$1; shift; in_ns "$h" scripts/cluster.sh "$@" --run-dir "$run_dir/$h" --bin "$bin"; }

require() {
  [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
  command -v ip > /dev/null && ip netns list > /dev/null 2>&1 || { echo "needs iproute2 with 'ip netns': apt-get install -y iproute2" >&2; exit 1; }
}

resolve_bin() {
  if [ -z "$bin" ]; then
    swift build -q -c "$config" >&2
    bin=$(swift build -c "$config" --show-bin-path)
  fi
  case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

# Removes whatever of the topology exists: processes first (SIGTERM through cluster.sh, then
# SIGKILL for anything left in our namespaces), then the namespaces, which takes their veths along.
teardown() {
  local h n pid
  for h in cli1 cli2 cmb1 cmb2 ctl; do
    n=$(ns "$h")
    ns_exists "$n" || continue
    [ -n "$bin" ] && [ -d "$run_dir/$h/pids" ] && cluster "$h" all stop --timeout 5 >&2 2>&1 || true
    for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  for h in "${hosts[@]}"; do n=$(ns "$h"); ns_exists "$n" && ip netns del "$n"; done
  ns_exists "$router" && ip netns del "$router"
  local left; left=$(ip netns list | awk '{print $1}' | grep -c "^$prefix-" || true)
  log "teardown: namespaces $prefix-* removed (left: $left)"
}

# Refuses to start over namespaces this run did not create (checked before the cleanup trap is set).
check_free() {
  local h n
  for n in "$router" $(for h in "${hosts[@]}"; do ns "$h"; done); do
    ns_exists "$n" && { echo "namespace $n exists already (remove it with: $0 down --prefix $prefix)" >&2; exit 1; }
  done
  return 0
}

build_topology() {
  local h n
  ip netns add "$router"
  ip -n "$router" link add br0 type bridge
  ip -n "$router" link set br0 up
  ip -n "$router" link set lo up
  for h in "${hosts[@]}"; do
    n=$(ns "$h")
    ip netns add "$n"
    # Both ends are created directly inside their namespaces: nothing appears in the root namespace.
    ip link add eth0 netns "$n" type veth peer name "v-$h" netns "$router"
    ip -n "$router" link set "v-$h" master br0 up
    ip -n "$n" addr add "$(ip_of "$h")/24" dev eth0
    ip -n "$n" link set eth0 up
    ip -n "$n" link set lo up
  done
  log "topology: bridge br0 in $router; $(for h in "${hosts[@]}"; do printf '%s=%s ' "$(ns "$h")" "$(ip_of "$h")"; done)"
}

# The CA, one certificate per peer (naming the IP it is reached at), the JWT secret and tokens;
# the operator CLI in this script uses the admin token and the CA.
provision() {
  local i
  mkdir -p "$secrets"
  "$bin/tributary" pki init --dir "$pki" > /dev/null
  "$bin/tributary" pki issue --dir "$pki" --role controller --name controller --host "$ctl_ip" > /dev/null
  for i in 1 2; do "$bin/tributary" pki issue --dir "$pki" --role combiner --name "combiner-$i" --host "$(ip_of "cmb$i")" > /dev/null; done
  for i in $(seq 0 $((2 * per_host - 1))); do
    "$bin/tributary" pki issue --dir "$pki" --role client --name "cli$((i < per_host ? 1 : 2))-$i" > /dev/null
  done
  (umask 077
   head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secrets/jwt-secret"
   TRIBUTARY_JWT_SECRET=$(cat "$secrets/jwt-secret") "$bin/tributary-controller" --issue-token admin > "$secrets/admin-token"
   TRIBUTARY_JWT_SECRET=$(cat "$secrets/jwt-secret") "$bin/tributary-controller" --issue-token client > "$secrets/client-token")
  TRIBUTARY_TOKEN=$(cat "$secrets/admin-token"); export TRIBUTARY_TOKEN TRIBUTARY_CA="$pki/ca.pem"
  log "secrets: CA and $((3 + 2 * per_host)) certificates in $pki, JWT secret and tokens in $secrets (mode 0600)"
}

start_network() {
  local total=$((2 * per_host))
  provision
  cluster ctl controller start --host "$ctl_ip" --http-host "$ctl_ip" --data-dir "$run_dir/ctl/data" --pki "$pki" --jwt-secret-file "$secrets/jwt-secret" >&2
  cluster cmb1 combiner start --name combiner-1 --controller "$ctl_ip:7100" --host 0.0.0.0 --advertise-host "$(ip_of cmb1)" --pki "$pki" >&2
  cluster cmb2 combiner start --name combiner-2 --controller "$ctl_ip:7100" --host 0.0.0.0 --advertise-host "$(ip_of cmb2)" --pki "$pki" >&2
  in_ns ctl "$bin/tributary" wait --controller "$rest" --combiners 2 --timeout 60 >&2
  "$bin/tributary-client" seed-model --out "$run_dir/seed.npz" > /dev/null
  log "seed model $(in_ns ctl "$bin/tributary" upload-model --controller "$rest" "$run_dir/seed.npz" --name seed) uploaded"
  cluster cli1 clients start --controller "$rest" --count "$per_host" --combiner combiner-1 --id-prefix cli1 --first 0 --of "$total" \
    --pki "$pki" --token-file "$secrets/client-token" >&2
  cluster cli2 clients start --controller "$rest" --count "$per_host" --combiner combiner-2 --id-prefix cli2 --first "$per_host" --of "$total" \
    --pki "$pki" --token-file "$secrets/client-token" >&2
  in_ns ctl "$bin/tributary" wait --controller "$rest" --combiners 2 --clients "$total" --models 1 --timeout 60 >&2
}

# counters HOST -> "rx_bytes tx_bytes rx_packets tx_packets" of the host's eth0.
counters() {
  local s=/sys/class/net/eth0/statistics
  in_ns "$1" sh -c "echo \$(cat $s/rx_bytes $s/tx_bytes $s/rx_packets $s/tx_packets)"
}

run_session() {
  local h before=() after=() failed=0
  local model_bytes; model_bytes=$(stat -c %s "$run_dir/seed.npz")
  for h in "${hosts[@]}"; do before+=("$(counters "$h")"); done
  log "training $rounds rounds across the namespaces (CLI in $(ns ctl) -> $rest)"
  in_ns ctl "$bin/tributary" train --controller "$rest" --rounds "$rounds" --round-timeout 60
  for h in "${hosts[@]}"; do after+=("$(counters "$h")"); done

  echo
  echo "network status (from $(ns ctl)):"
  in_ns ctl "$bin/tributary" status --controller "$rest" | sed 's/^/  /'
  echo
  echo "TCP connections leaving the client hosts (ss in $(ns cli1), $(ns cli2)):"
  for h in cli1 cli2; do
    in_ns "$h" ss -tnH state established | awk -v h="$(ns "$h")" '{print "  " h "  " $3 " -> " $4}' | sort -u
  done
  echo
  echo "eth0 traffic during the session (ip -n NS -s link, /sys counters; model file $model_bytes bytes):"
  printf '  %-12s %-14s %12s %12s %10s %10s   %s\n' namespace address rx_bytes tx_bytes rx_pkts tx_pkts "needed (rx/tx)"
  # What each host must at least have moved, counting half a model file per model transfer so
  # that framing differences cannot make the check pass or fail by accident: the controller
  # sends each combiner the global model and receives its partial every round; a combiner
  # receives the model and sends it to each of its clients; a client receives it and sends
  # its update back.
  local half=$((model_bytes / 2)) i=0 b a drx dtx dprx dptx need_rx need_tx
  for h in "${hosts[@]}"; do
    case "$h" in
      ctl) need_rx=$((rounds * 2 * half)); need_tx=$((rounds * 2 * half)) ;;
      cmb*) need_rx=$((rounds * half)); need_tx=$((rounds * per_host * half)) ;;
      cli*) need_rx=$((rounds * per_host * half)); need_tx=$((rounds * per_host * half)) ;;
    esac
    read -r -a b <<< "${before[$i]}"; read -r -a a <<< "${after[$i]}"; i=$((i + 1))
    drx=$((a[0] - b[0])); dtx=$((a[1] - b[1])); dprx=$((a[2] - b[2])); dptx=$((a[3] - b[3]))
    printf '  %-12s %-14s %12d %12d %10d %10d   %s\n' "$(ns "$h")" "$(ip_of "$h")" "$drx" "$dtx" "$dprx" "$dptx" ">= $need_rx / $need_tx"
    if [ "$drx" -lt "$need_rx" ] || [ "$dtx" -lt "$need_tx" ]; then
      echo "  ^ $(ns "$h") moved less than the session must have moved through it" >&2; failed=1
    fi
  done
  echo
  in_ns cmb1 ip -s link show eth0 | sed "s/^/  $(ns cmb1): /"
  [ $failed = 0 ] || { echo "traffic check failed" >&2; return 1; }
  echo "traffic check passed: every host's eth0 carried at least the model transfers of the session"
}

require
case "$cmd" in
  down)
    bin=${bin:-$(swift build -c "$config" --show-bin-path 2>/dev/null || true)}
    teardown ;;
  up)
    resolve_bin; check_free
    mkdir -p "$run_dir"; rm -rf "${run_dir:?}"/*
    trap 'status=$?; [ $status = 0 ] || teardown; exit $status' EXIT
    trap 'exit 130' INT; trap 'exit 143' TERM
    build_topology; start_network
    log "network up: REST $rest (reach it with: ip netns exec $(ns ctl) $bin/tributary status --controller $rest); remove with: $0 down --prefix $prefix"
    ;;
  run)
    resolve_bin; check_free
    mkdir -p "$run_dir"; rm -rf "${run_dir:?}"/*
    trap 'status=$?; teardown; log "logs: $run_dir/*/logs"; exit $status' EXIT
    trap 'exit 130' INT; trap 'exit 143' TERM
    build_topology; start_network; run_session
    ;;
esac
