#!/usr/bin/env bash
# Installs what building and testing Tributary needs on a Debian machine, only where missing:
# nng and xxhash (C libraries, Debian packages), NumPy (for the .npz interop tests) and
# virtualenvs with the peers' own clients (FEDn's APIClient, Octomil's SDK, Flower).
set -euo pipefail
need=()
[ -f /usr/include/nng/nng.h ] || need+=(libnng-dev)
[ -f /usr/include/xxhash.h ] || need+=(libxxhash-dev)
[ -f /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing ${need[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >&2
fi
if ! python3 -c "import numpy" 2>/dev/null; then
  echo "installing numpy" >&2
  python3 -m pip install -q numpy >&2
fi
# Unmodified peer clients from PyPI, each in a git-ignored virtualenv made once (re-made when
# its requirements change). Without PyPI one is left out with a warning and its tests skip.
#   venv NAME "REQUIREMENTS" WHAT
venv() {
  local dir; dir="$(cd "$(dirname "$0")/.." && pwd)/.venv/$1"
  if [ "$(cat "$dir/.tributary-$1" 2>/dev/null)" != "$2" ]; then
    echo "setting up $dir ($2)" >&2
    # shellcheck disable=SC2086
    if python3 -m venv "$dir" >&2 \
       && "$dir/bin/python" -m pip install -q --disable-pip-version-check --timeout 30 --retries 2 $2 >&2; then
      echo "$2" > "$dir/.tributary-$1"
    else
      echo "warning: could not install $2 into $dir; $3 will be skipped" >&2
      rm -rf "$dir"
    fi
  fi
}
# FEDn's Python APIClient (the REST compatibility test; its requests + NumPy also run the
# FL-framework and device scripts) and Octomil's Python SDK (the device API's client).
venv apiclient "fedn==0.33.0 numpy" "the APIClient compatibility test"
venv octomil "octomil==4.17.42 numpy requests" "the Octomil SDK test"
# A SecAgg+ participant written from the README's protocol description (Tests/secagg/).
venv secagg "cryptography pynng xxhash numpy requests" "the SecAgg+ interoperability test"
# Flower 1.42, unmodified, for the peer-oracle test (Tests/peers/peer_oracle.py): its
# dependencies from Tests/peers/flwr-1.42.0-deps.txt (flwr's own list minus a certifi pin the
# index cannot meet yet), then flwr itself without them. Skipped with a warning without PyPI.
flwr_venv="$(cd "$(dirname "$0")/.." && pwd)/.venv/flwr"
flwr_deps="$(cd "$(dirname "$0")/.." && pwd)/Tests/peers/flwr-1.42.0-deps.txt"
flwr_stamp="flwr==1.42.0 $(sha256sum "$flwr_deps" | cut -c1-16)"
if [ "$(cat "$flwr_venv/.tributary-flwr" 2>/dev/null)" != "$flwr_stamp" ]; then
  echo "setting up $flwr_venv (flwr==1.42.0)" >&2
  if python3 -m venv "$flwr_venv" >&2 \
     && "$flwr_venv/bin/python" -m pip install -q --disable-pip-version-check --timeout 30 --retries 2 -r "$flwr_deps" >&2 \
     && "$flwr_venv/bin/python" -m pip install -q --disable-pip-version-check --timeout 30 --retries 2 --no-deps flwr==1.42.0 >&2; then
    echo "$flwr_stamp" > "$flwr_venv/.tributary-flwr"
  else
    echo "warning: could not install flwr==1.42.0 into $flwr_venv; the peer-oracle test will be skipped" >&2
    rm -rf "$flwr_venv"
  fi
fi
# Headless Chromium and Selenium for the dashboard's browser test (Tests/dashboard). Where
# Chromium cannot be installed, that test is skipped with the reason; nothing else depends on it.
if ! "$(dirname "$0")/dashboard-setup.sh"; then
  echo "warning: the dashboard browser test will be skipped (see above)" >&2
fi
