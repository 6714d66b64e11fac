#!/usr/bin/env bash
# Spawn a local multi-process Tributary topology: one controller, C combiners and N clients,
# each its own OS process logging to its own file under the run directory.
#
#   scripts/local-network.sh up [--combiners C] [--clients N] [--run-dir DIR] [--http-port P]
#                               [--port-base B] [--partition iid|dirichlet:ALPHA] [--release]
#                               [--client-args "EXTRA CLIENT OPTIONS"]
#                               [--controller-args "EXTRA CONTROLLER OPTIONS"] [--secure]
#   scripts/local-network.sh status [--run-dir DIR]
#   scripts/local-network.sh down   [--run-dir DIR]
#   scripts/local-network.sh kill ROLE [--run-dir DIR]      # kill -9 one process (e.g. client-3, combiner-1)
#   scripts/local-network.sh restart ROLE [--run-dir DIR]   # start it again with its original command
#
# `up` builds if needed (or uses the executables in $TRIBUTARY_BIN), starts everything in the background, waits until every client is
# registered and a seed model for the built-in trainer is stored, then prints
# one `name: value` line per thing a user connects to (`controller: http://HOST:PORT`,
# `dashboard: http://HOST:PORT/dashboard/`, `fl-framework: http://HOST:PORT/fl`, the
# `server_url` of the FL Framework API's clients, `devices: …/device-api/api/v1`, the device
# API's `api_base`).
#
# `--secure`: a throw-away CA under the run directory (`tributary pki`), mutual TLS on every nng
# hop (each process has its own certificate, which is its identity), HTTPS and bearer tokens on
# the HTTP APIs (a random JWT secret in DIR/jwt-secret; each client gets a client token bound to its id); `up` also
# prints `admin-token: TOKEN` and `ca: PATH` (export them as TRIBUTARY_TOKEN and TRIBUTARY_CA for
# the `tributary` CLI).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}; shift || true
role_arg=""
case "$cmd" in kill|restart) role_arg=${1:-}; shift || true ;; esac
combiners=2; clients=4; run_dir=run/local; http_port=8092; port_base=7100; partition=iid; config=debug; client_args=; controller_args=; secure=0
while [ $# -gt 0 ]; do
  case "$1" in
    --combiners) combiners=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    --http-port) http_port=$2; shift 2 ;;
    --port-base) port_base=$2; shift 2 ;;
    --partition) partition=$2; shift 2 ;;
    --release) config=release; shift ;;
    --client-args) client_args=$2; shift 2 ;;
    --controller-args) controller_args=$2; shift 2 ;;
    --secure) secure=1; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
pids="$run_dir/pids"

# Starts one role in the background, logging to its own file, and remembers its command so
# `restart` can start it again exactly so.
spawn() {
  local role=$1; shift
  mkdir -p "$run_dir/cmd"
  printf '%q ' "$@" > "$run_dir/cmd/$role"
  "$@" >> "$run_dir/logs/$role.log" 2>&1 &
  echo "$role $!" >> "$pids"
}

pid_of() { grep "^$1 " "$pids" | tail -1 | cut -d' ' -f2; }

kill_role() {
  local pid; pid=$(pid_of "$role_arg")
  [ -n "$pid" ] || { echo "no process $role_arg in $run_dir" >&2; exit 1; }
  kill -KILL "$pid" 2>/dev/null || true
  echo "$role_arg (pid $pid) killed"
}

restart_role() {
  [ -f "$run_dir/cmd/$role_arg" ] || { echo "no command recorded for $role_arg" >&2; exit 1; }
  local pid; pid=$(pid_of "$role_arg")
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  sed -i "/^$role_arg /d" "$pids"
  export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
  # exec: the recorded pid must be the process itself, not a shell around it.
  eval "exec $(cat "$run_dir/cmd/$role_arg")" >> "$run_dir/logs/$role_arg.log" 2>&1 &
  echo "$role_arg $!" >> "$pids"
  echo "$role_arg restarted (pid $!)"
}

status() {
  [ -f "$pids" ] || { echo "no network in $run_dir"; return 0; }
  while read -r role pid; do
    if kill -0 "$pid" 2>/dev/null; then echo "$role pid $pid running"; else echo "$role pid $pid exited"; fi
  done < "$pids"
}

down() {
  [ -f "$pids" ] || return 0
  # Clients first, then combiners, then the controller; SIGTERM and a bounded wait, then SIGKILL.
  for role in client combiner controller; do
    # `|| true`: a role with no process (e.g. --clients 0) must not end the script under pipefail.
    { grep "^$role" "$pids" || true; } | while read -r _ pid; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
      alive=0
      while read -r r pid; do case "$r" in $role*) kill -0 "$pid" 2>/dev/null && alive=1 ;; esac; done < "$pids"
      [ $alive = 0 ] && break
      sleep 0.1
    done
    { grep "^$role" "$pids" || true; } | while read -r _ pid; do kill -KILL "$pid" 2>/dev/null || true; done
  done
  rm -f "$pids"
  echo "network in $run_dir stopped"
}

up() {
  [ -f "$pids" ] && { echo "a network is already up in $run_dir (scripts/local-network.sh down first)" >&2; exit 1; }
  # Another network on the same ports would silently answer for ours: refuse instead.
  for port in "$http_port" "$port_base" "$((port_base + 1))"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port on 127.0.0.1 is in use (another network?): choose --http-port / --port-base, or stop it" >&2
      exit 1
    fi
  done
  # TRIBUTARY_BIN: run already-built executables from that directory (no build).
  if [ -n "${TRIBUTARY_BIN:-}" ]; then
    bin=$TRIBUTARY_BIN
  else
    swift build -q -c "$config" >&2
    bin=$(swift build -c "$config" --show-bin-path)
  fi
  mkdir -p "$run_dir/logs"
  rm -rf "$run_dir/data"
  : > "$pids"
  # nng receives large messages with malloc; huge pages avoid the page-fault cliff (notes/nng.md §5.1).
  export GLIBC_TUNABLES=glibc.malloc.hugetlb=1
  local scheme=tcp controller_url="http://127.0.0.1:$http_port"
  # Per role: the TLS options of one peer (empty unless --secure).
  tls_of() { [ $secure = 1 ] && echo "--tls-ca $pki/ca.pem --tls-cert $pki/$1.pem --tls-key $pki/$1.key" || true; }
  local pki="$run_dir/pki" secret="" controller_auth="" client_token=""
  if [ $secure = 1 ]; then
    scheme=tls+tcp; controller_url="https://127.0.0.1:$http_port"
    rm -rf "$pki"
    "$bin/tributary" pki init --dir "$pki" > /dev/null
    for name in controller $(seq -f "combiner-%g" 0 $((combiners - 1))) $(seq -f "client-%g" 0 $((clients - 1))); do
      "$bin/tributary" pki issue --dir "$pki" --role "${name%%-*}" --name "$name" > /dev/null
    done
    secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    (umask 077; printf '%s\n' "$secret" > "$run_dir/jwt-secret")
    controller_auth="--jwt-secret $secret"
    TRIBUTARY_TOKEN=$("$bin/tributary-controller" --jwt-secret "$secret" --issue-token admin)
    export TRIBUTARY_TOKEN TRIBUTARY_CA="$pki/ca.pem"
  fi
  local c_rep="$scheme://127.0.0.1:$port_base" c_pub="$scheme://127.0.0.1:$((port_base + 1))"

  rm -f "$run_dir"/logs/*.log
  # shellcheck disable=SC2046,SC2086  # option lists split on purpose
  spawn controller "$bin/tributary-controller" --data-dir "$run_dir/data" --http-port "$http_port" --listen "$c_rep" --publish "$c_pub" \
    $controller_auth $(tls_of controller) $controller_args
  for i in $(seq 0 $((combiners - 1))); do
    # shellcheck disable=SC2046
    spawn "combiner-$i" "$bin/tributary-combiner" --name "combiner-$i" --controller "$c_rep" \
      --listen "$scheme://127.0.0.1:$((port_base + 100 + 2 * i))" --publish "$scheme://127.0.0.1:$((port_base + 101 + 2 * i))" $(tls_of "combiner-$i")
  done
  "$bin/tributary" wait --controller "$controller_url" --combiners "$combiners" --timeout 60 >&2
  kill -0 "$(pid_of controller)" 2>/dev/null || { echo "the controller exited; see $run_dir/logs/controller.log" >&2; exit 1; }

  "$bin/tributary-client" seed-model --out "$run_dir/seed.npz" >&2
  "$bin/tributary" upload-model --controller "$controller_url" "$run_dir/seed.npz" --name seed >&2

  for i in $(seq 0 $((clients - 1))); do
    # Each client's token is bound to its id: it cannot enrol as another client.
    [ $secure = 1 ] && client_token=$("$bin/tributary-controller" --jwt-secret "$secret" --issue-token client --name "client-$i")
    # shellcheck disable=SC2046,SC2086
    spawn "client-$i" "$bin/tributary-client" --controller "$controller_url" --client-id "client-$i" \
      --partition "$i/$clients" --scheme "$partition" $(tls_of "client-$i") ${client_token:+--token "$client_token"} $client_args
  done
  "$bin/tributary" wait --controller "$controller_url" --combiners "$combiners" --clients "$clients" --models 1 --timeout 60 >&2
  echo "logs: $run_dir/logs"
  echo "controller: $controller_url"
  echo "dashboard: $controller_url/dashboard/"
  echo "fl-framework: $controller_url/fl"
  echo "devices: $controller_url/device-api/api/v1"
  if [ $secure = 1 ]; then
    echo "admin-token: $TRIBUTARY_TOKEN"
    echo "ca: $(cd "$pki" && pwd)/ca.pem"
  fi
}

case "$cmd" in
  up) up ;;
  status) status ;;
  down) down ;;
  kill) kill_role ;;
  restart) restart_role ;;
  *) echo "usage: $0 up|status|down|kill ROLE|restart ROLE [options]" >&2; exit 2 ;;
esac
