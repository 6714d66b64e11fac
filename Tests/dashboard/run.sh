#!/usr/bin/env bash
# The dashboard's real-browser test: installs what it needs (scripts/dashboard-setup.sh), brings
# up a local network (a controller, 2 combiners, 3 clients) on free ports, runs
# Tests/dashboard/test_dashboard.py against it in headless Chromium, and always takes the network
# down again. Exits with the test's code; 3 when Chromium cannot be installed (test skipped).
#
#   Tests/dashboard/run.sh                 # uses the dashboard built into the controller binary
#   DASHBOARD_DEV=1 Tests/dashboard/run.sh # serves Sources/.../Dashboard/Assets from disk (--dashboard-dir)
#
# Environment: ARTIFACTS (screenshots; default run/dashboard), TRIBUTARY_BIN (passed on to
# scripts/local-network.sh: run prebuilt executables from there instead of `swift build`),
# KEEP_RUN_DIR=1 (keep the network's run directory and logs), ROUNDS, SESSION_TIMEOUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

scripts/dashboard-setup.sh
rc=$?
if [ "$rc" = 3 ]; then
  echo "Tests/dashboard: skipped: Chromium could not be installed (see the message above)" >&2
  exit 3
elif [ "$rc" != 0 ]; then
  echo "Tests/dashboard: scripts/dashboard-setup.sh failed (exit $rc)" >&2
  exit "$rc"
fi

# A free HTTP port and a free nng port block: base, base+1 (controller), base+100.. (combiners).
read -r http_port port_base < <(python3 - <<'EOF'
import random, socket
def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); return True
    except OSError:
        return False
    finally:
        s.close()
s = socket.socket(); s.bind(("127.0.0.1", 0)); http = s.getsockname()[1]; s.close()
for _ in range(200):
    base = random.randrange(20000, 40000, 2)
    ports = [base, base + 1] + list(range(base + 100, base + 104))
    if http not in ports and all(free(p) for p in ports):
        print(http, base); break
EOF
)
[ -n "${port_base:-}" ] || { echo "Tests/dashboard: no free ports found" >&2; exit 1; }

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/tributary-dashboard.XXXXXX")
artifacts=${ARTIFACTS:-$repo/run/dashboard}
mkdir -p "$artifacts"
rm -f "$artifacts"/*.png

controller_args=""
if [ "${DASHBOARD_DEV:-0}" = 1 ]; then
  controller_args="--dashboard-dir $repo/Sources/TributaryController/Dashboard/Assets"
fi

status=1
teardown() {
  scripts/local-network.sh down --run-dir "$run_dir" >/dev/null 2>&1 || true
  if [ "${KEEP_RUN_DIR:-0}" = 1 ] || [ "$status" != 0 ]; then
    echo "Tests/dashboard: network run directory kept: $run_dir (logs in $run_dir/logs)" >&2
  else
    rm -rf "$run_dir"
  fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

echo "Tests/dashboard: starting a network in $run_dir (http $http_port, nng from $port_base)" >&2
up_out="$run_dir/up.out"
if ! scripts/local-network.sh up --run-dir "$run_dir" --http-port "$http_port" --port-base "$port_base" \
     --combiners 2 --clients 3 --controller-args "$controller_args" > "$up_out"; then
  cat "$up_out" >&2
  echo "Tests/dashboard: the network did not come up; controller log tail:" >&2
  tail -20 "$run_dir/logs/controller.log" >&2 2>/dev/null || true
  exit 1
fi
cat "$up_out"
controller_url=$(sed -n 's/^controller: //p' "$up_out" | tail -1)
dashboard_url=$(sed -n 's/^dashboard: //p' "$up_out" | tail -1)
if [ -z "$controller_url" ] || [ -z "$dashboard_url" ]; then
  echo "Tests/dashboard: scripts/local-network.sh printed no controller:/dashboard: line" >&2
  exit 1
fi

DASHBOARD_URL=$dashboard_url CONTROLLER_URL=$controller_url RUN_DIR=$run_dir ARTIFACTS=$artifacts \
  .venv/dashboard/bin/python Tests/dashboard/test_dashboard.py
status=$?
exit "$status"
