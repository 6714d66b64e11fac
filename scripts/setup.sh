#!/usr/bin/env bash
# Installs what building and testing Tributary needs on a Debian machine, only where missing:
# nng and xxhash (C libraries, Debian packages) and NumPy (for the .npz interop tests).
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
