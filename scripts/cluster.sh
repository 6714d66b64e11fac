#!/usr/bin/env bash
# Start, stop and inspect one Tributary role on THIS host, for a network spread over several
# hosts (or several network namespaces, see scripts/netns-topology.sh). Every process runs in
# the background, logs to its own file and has a pid file under the run directory.
#
#   scripts/cluster.sh controller start [--host IP] [--http-host IP] [--http-port 8092]
#                                       [--nng-port 7100] [--pub-port 7101] [--data-dir DIR]
#                                       [--heartbeat SECONDS]
#   scripts/cluster.sh combiner start --name NAME [--controller HOST[:7100] | tcp://HOST:PORT]
#                                     [--host IP] [--advertise-host HOST] [--port 7200] [--pub-port 7201]
#   scripts/cluster.sh clients start [--controller HOST[:8092] | http://HOST:PORT] [--count 2]
#                                    [--combiner NAME] [--id-prefix PREFIX] [--first 0] [--of TOTAL]
#                                    [--scheme iid|dirichlet:A] [--train-command CMD]
#                                    [--validate-command CMD]
#   scripts/cluster.sh ROLE stop   [--name NAME] [--timeout SECONDS]   # SIGTERM, wait, then SIGKILL
#   scripts/cluster.sh ROLE status [--name NAME]
#   scripts/cluster.sh all stop|status                                   # clients, combiners, controller
#
# Options every role takes:
#   --run-dir DIR     pid files (DIR/pids/ROLE/NAME.pid) and logs (DIR/logs/NAME.log); default run/cluster
#   --bin DIR         directory holding the tributary executables (default: build with SwiftPM)
#   --release         build and use the release configuration
#   --log-level LVL   trace, debug, info, notice, warning, error, critical (default info)
#
# Security (README "Security"): a controller bound to a non-loopback address needs credentials.
#   --pki DIR              mutual TLS on every nng hop and HTTPS on the REST API: DIR holds ca.pem and
#                          this peer's NAME.pem / NAME.key (`tributary pki issue`; the controller's NAME is
#                          "controller", a combiner's its --name, a client's its id)
#   --jwt-secret-file F    controller: bearer tokens on the REST API (without --pki also --peer-auth on nng)
#   --token-file F         clients (and the controller's readiness check): the REST token to present
#   --peer-token-file F    combiner without --pki, when the controller runs --peer-auth
#   --insecure             controller: start without credentials on a non-loopback address (test networks only)
#
# Addresses: nng cannot tell peers a wildcard address. A combiner bound to 0.0.0.0 (--host
# 0.0.0.0) must say what clients dial with --advertise-host. The controller tells combiners its
# PUB address as it is bound and has no --advertise-host, so on several hosts bind it to the
# host's concrete IP (--host 10.0.0.5), never 0.0.0.0.
#
# Examples (controller on 10.0.0.5, combiners on 10.0.0.6 and .7, clients elsewhere):
#   scripts/cluster.sh controller start --host 10.0.0.5 --data-dir /var/lib/tributary
#   scripts/cluster.sh combiner start --name combiner-a --controller 10.0.0.5 --host 0.0.0.0 --advertise-host 10.0.0.6
#   scripts/cluster.sh clients start --controller 10.0.0.5 --count 4 --combiner combiner-a --first 0 --of 8
#   scripts/cluster.sh all stop
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  local code=${1:-2}
  if [ "$code" = 0 ]; then sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  else sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; fi
  exit "$code"
}

role=${1:-}; action=${2:-}
case "$role" in controller|combiner|clients|all) ;; -h|--help|help) usage 0 ;; *) usage ;; esac
case "$action" in start|stop|status) shift 2 ;; -h|--help) usage 0 ;; *) usage ;; esac
[ "$role" = all ] && [ "$action" = start ] && { echo "start one role at a time" >&2; exit 2; }

run_dir=run/cluster; bin=""; config=debug; log_level=info; name=""; timeout=10
host=127.0.0.1; http_host=""; http_port=8092; nng_port=7100; pub_port=""; data_dir=""; heartbeat=1
controller=""; advertise_host=""; port=7200
count=2; combiner=""; id_prefix=""; first=0; of=""; scheme=iid; train_command=""; validate_command=""
pki=""; jwt_secret_file=""; token_file=""; peer_token_file=""; insecure=0
while [ $# -gt 0 ]; do
  case "$1" in
    --run-dir) run_dir=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --release) config=release; shift ;;
    --log-level) log_level=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --http-host) http_host=$2; shift 2 ;;
    --http-port) http_port=$2; shift 2 ;;
    --nng-port) nng_port=$2; shift 2 ;;
    --pub-port) pub_port=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --heartbeat) heartbeat=$2; shift 2 ;;
    --controller) controller=$2; shift 2 ;;
    --advertise-host) advertise_host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --combiner) combiner=$2; shift 2 ;;
    --id-prefix) id_prefix=$2; shift 2 ;;
    --first) first=$2; shift 2 ;;
    --of) of=$2; shift 2 ;;
    --scheme) scheme=$2; shift 2 ;;
    --train-command) train_command=$2; shift 2 ;;
    --validate-command) validate_command=$2; shift 2 ;;
    --pki) pki=$2; shift 2 ;;
    --jwt-secret-file) jwt_secret_file=$2; shift 2 ;;
    --token-file) token_file=$2; shift 2 ;;
    --peer-token-file) peer_token_file=$2; shift 2 ;;
    --insecure) insecure=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done

case "$run_dir" in /*) ;; *) run_dir="$root/$run_dir" ;; esac
logs="$run_dir/logs"
pid_dir() { echo "$run_dir/pids/$1"; }   # controller | combiner | client

# The executables: --bin, or whatever SwiftPM builds (a no-op when up to date).
resolve_bin() {
  if [ -z "$bin" ]; then
    (cd "$root" && swift build -q -c "$config" >&2)
    bin=$(cd "$root" && swift build -c "$config" --show-bin-path)
  fi
  for exe in tributary-controller tributary-combiner tributary-client tributary; do
    [ -x "$bin/$exe" ] || { echo "no executable $bin/$exe" >&2; exit 1; }
  done
}

# With --pki: nng over tls+tcp and REST over https; the TLS options of peer NAME.
nng_scheme() { [ -n "$pki" ] && echo tls+tcp || echo tcp; }
rest_scheme() { [ -n "$pki" ] && echo https || echo http; }
tls_options() { [ -n "$pki" ] && printf '%s\n' --tls-ca "$pki/ca.pem" --tls-cert "$pki/$1.pem" --tls-key "$pki/$1.key"; return 0; }
# Secrets reach processes through the environment, never the command line (ps shows that).
read_secret() { [ -r "$1" ] || { echo "cannot read $1" >&2; exit 1; }; tr -d '\n' < "$1"; }
load_credentials() {
  [ -n "$pki" ] && export TRIBUTARY_CA="$pki/ca.pem"
  [ -n "$token_file" ] && { TRIBUTARY_TOKEN=$(read_secret "$token_file"); export TRIBUTARY_TOKEN; }
  [ -n "$peer_token_file" ] && { TRIBUTARY_PEER_TOKEN=$(read_secret "$peer_token_file"); export TRIBUTARY_PEER_TOKEN; }
  return 0
}

# True when the pid file names a live process that is one of ours (pids get reused).
alive() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'tributary-'
}

# spawn ROLE NAME COMMAND...: background, own session (a Ctrl-C in this terminal does not reach
# it), stdout+stderr appended to the log, pid in the pid file.
spawn() {
  local kind=$1 instance=$2; shift 2
  local pidfile; pidfile="$(pid_dir "$kind")/$instance.pid"
  mkdir -p "$(pid_dir "$kind")" "$logs"
  if [ -f "$pidfile" ] && alive "$(cat "$pidfile")"; then
    echo "$kind $instance is already running (pid $(cat "$pidfile"))" >&2; exit 1
  fi
  local log="$logs/$instance.log"
  printf '%s start:' "$(date -u +%FT%TZ)" >> "$log"; printf ' %q' "$@" >> "$log"; echo >> "$log"
  # nng receives large messages with malloc; huge pages avoid the page-fault cliff (nng notes §5.1).
  GLIBC_TUNABLES=glibc.malloc.hugetlb=1 setsid "$@" >> "$log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$pidfile"
  sleep 0.3
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$kind $instance exited at once; last lines of $log:" >&2; tail -5 "$log" >&2; rm -f "$pidfile"; exit 1
  fi
  echo "$kind $instance started: pid $pid, pid file $pidfile, log $log"
}

# stop_kind KIND: SIGTERM to every (or the --name) process of a kind, a bounded wait, then SIGKILL.
stop_kind() {
  local kind=$1 dir; dir=$(pid_dir "$kind")
  [ -d "$dir" ] || return 0
  local files=() f pid
  if [ -n "$name" ]; then files=("$dir/$name.pid"); else for f in "$dir"/*.pid; do [ -e "$f" ] && files+=("$f"); done; fi
  [ ${#files[@]} -gt 0 ] || return 0
  for f in "${files[@]}"; do
    [ -f "$f" ] || { echo "no pid file $f" >&2; continue; }
    pid=$(cat "$f"); alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
  done
  local deadline=$((SECONDS + timeout)) any
  while :; do
    any=0
    for f in "${files[@]}"; do [ -f "$f" ] && alive "$(cat "$f")" && any=1; done
    [ $any = 0 ] || [ $SECONDS -ge $deadline ] && break
    sleep 0.1
  done
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; echo "$kind $(basename "$f" .pid) (pid $pid) killed after ${timeout}s"
    else echo "$kind $(basename "$f" .pid) (pid $pid) stopped"; fi
    rm -f "$f"
  done
}

status_kind() {
  local kind=$1 dir f pid; dir=$(pid_dir "$kind")
  [ -d "$dir" ] || return 0
  for f in "$dir"/*.pid; do
    [ -e "$f" ] || continue
    [ -z "$name" ] || [ "$(basename "$f" .pid)" = "$name" ] || continue
    pid=$(cat "$f")
    if alive "$pid"; then echo "$kind $(basename "$f" .pid) pid $pid running, log $logs/$(basename "$f" .pid).log"
    else echo "$kind $(basename "$f" .pid) pid $pid not running, log $logs/$(basename "$f" .pid).log"; fi
  done
}

kinds() { case "$role" in all) echo client combiner controller ;; clients) echo client ;; *) echo "$role" ;; esac; }

start_controller() {
  resolve_bin
  load_credentials
  [ -n "$pub_port" ] || pub_port=$((nng_port + 1))
  [ -n "$http_host" ] || http_host=$host
  [ -n "$data_dir" ] || data_dir="$run_dir/controller-data"
  [ "$host" = 0.0.0.0 ] && echo "warning: combiners on other hosts cannot dial the PUB address tcp://0.0.0.0:$pub_port the controller announces; bind --host to this host's IP" >&2
  mkdir -p "$data_dir"
  local security=() scheme; scheme=$(nng_scheme)
  mapfile -t security < <(tls_options controller)
  if [ -n "$jwt_secret_file" ]; then
    TRIBUTARY_JWT_SECRET=$(read_secret "$jwt_secret_file"); export TRIBUTARY_JWT_SECRET
    [ -n "$pki" ] || security+=(--peer-auth)
    # The readiness check below needs a token; an observer's is enough.
    [ -n "${TRIBUTARY_TOKEN:-}" ] || { TRIBUTARY_TOKEN=$("$bin/tributary-controller" --issue-token observer --token-days 1); export TRIBUTARY_TOKEN; }
  fi
  [ $insecure = 1 ] && security+=(--insecure)
  spawn controller controller "$bin/tributary-controller" --data-dir "$data_dir" \
    --http-host "$http_host" --http-port "$http_port" \
    --listen "$scheme://$host:$nng_port" --publish "$scheme://$host:$pub_port" \
    --heartbeat "$heartbeat" --log-level "$log_level" "${security[@]}"
  local rest_host=$http_host; [ "$rest_host" = 0.0.0.0 ] && rest_host=127.0.0.1
  "$bin/tributary" wait --controller "$(rest_scheme)://$rest_host:$http_port" --combiners 0 --timeout 30 > /dev/null
  echo "controller: REST $(rest_scheme)://$http_host:$http_port, combiners dial $scheme://$host:$nng_port, data $data_dir"
}

start_combiner() {
  [ -n "$name" ] || { echo "combiner start needs --name NAME" >&2; exit 2; }
  resolve_bin
  load_credentials
  [ -n "$pub_port" ] || pub_port=$((port + 1))
  local url=${controller:-127.0.0.1} scheme; scheme=$(nng_scheme)
  case "$url" in tcp://*|tls+tcp://*) ;; *:*) url="$scheme://$url" ;; *) url="$scheme://$url:7100" ;; esac
  local advertise=() security=()
  mapfile -t security < <(tls_options "$name")
  if [ -n "$advertise_host" ]; then advertise=(--advertise-host "$advertise_host")
  elif [ "$host" = 0.0.0.0 ]; then echo "combiner bound to 0.0.0.0 needs --advertise-host (the address clients dial)" >&2; exit 2; fi
  spawn combiner "$name" "$bin/tributary-combiner" --name "$name" --controller "$url" \
    --listen "$scheme://$host:$port" --publish "$scheme://$host:$pub_port" "${advertise[@]}" --log-level "$log_level" "${security[@]}"
  echo "combiner $name: clients dial $scheme://${advertise_host:-$host}:$port, controller $url"
}

start_clients() {
  resolve_bin
  load_credentials
  local url=${controller:-127.0.0.1}
  case "$url" in http://*|https://*) ;; *:*) url="$(rest_scheme)://$url" ;; *) url="$(rest_scheme)://$url:8092" ;; esac
  [ -n "$id_prefix" ] || id_prefix="$(hostname -s 2>/dev/null || echo host)-client"
  [ -n "$of" ] || of=$((first + count))
  local i id extra=() security=()
  [ -n "$combiner" ] && extra+=(--combiner "$combiner")
  [ -n "$train_command" ] && extra+=(--train-command "$train_command")
  [ -n "$validate_command" ] && extra+=(--validate-command "$validate_command")
  for i in $(seq "$first" $((first + count - 1))); do
    id="$id_prefix-$i"
    mapfile -t security < <(tls_options "$id")
    spawn client "$id" "$bin/tributary-client" --controller "$url" --client-id "$id" \
      --partition "$i/$of" --scheme "$scheme" --log-level "$log_level" "${extra[@]}" "${security[@]}"
  done
  echo "$count clients (partitions $first..$((first + count - 1)) of $of) ask $url for combiner ${combiner:-(least loaded)}"
}

case "$action" in
  start)
    case "$role" in controller) start_controller ;; combiner) start_combiner ;; clients) start_clients ;; esac ;;
  stop) for k in $(kinds); do stop_kind "$k"; done ;;
  status) for k in $(kinds); do status_kind "$k"; done ;;
esac
