#!/usr/bin/env bash
# Installs the peer baselines' virtualenvs (Flower 1.42.0, FEDn 0.33.0, moto S3 emulator) under
# .peers/ in the repo (git-ignored), exactly as ../shared/peers/README.md does them:
#   .peers/venv-flwr  flwr's dependency list without its unsatisfiable certifi pin
#                     (flwr-1.42.0-deps.txt), then `--no-deps flwr==1.42.0`; no ray (only the
#                     simulation engine needs it, the benchmark runs the deployment engine)
#   .peers/venv-fedn  fedn==0.33.0
#   .peers/venv-moto  "moto[server]" (moto_server, stand-in for MinIO)
#
#   scripts/peers-setup.sh [PEERS_DIR]     (default $PEERS_DIR or ../shared/peers)
#
# Idempotent: a venv whose stamp file (.tributary-installed) is present is skipped; one without
# it (an interrupted install) is removed and made again. Needs PyPI; a few minutes the first time.
# Progress goes to stderr; exits non-zero when a venv could not be installed.
set -uo pipefail
cd "$(dirname "$0")/.."
src=${1:-${PEERS_DIR:-../shared/peers}}
dest=.peers
py=${PEERS_PYTHON:-python3}
stamp=.tributary-installed
mkdir -p "$dest"

# install NAME CHECK-CODE STEP...: each STEP is a pip argument string run with the venv's pip.
install() {
  local name=$1 check=$2; shift 2
  local venv=$dest/$name
  if [ -f "$venv/$stamp" ] && "$venv/bin/python" -c "$check" 2> /dev/null; then
    echo "peers-setup: $venv present" >&2; return 0
  fi
  echo "peers-setup: installing $venv" >&2
  rm -rf "$venv"
  "$py" -m venv "$venv" || { echo "peers-setup: $py -m venv $venv failed" >&2; return 1; }
  local step
  for step in "$@"; do
    # shellcheck disable=SC2086  # a step is several pip arguments
    "$venv/bin/pip" install -q --disable-pip-version-check $step >&2 ||
      { echo "peers-setup: $venv: pip install $step failed" >&2; return 1; }
  done
  "$venv/bin/python" -c "$check" ||
    { echo "peers-setup: $venv: installed but the check failed: $check" >&2; return 1; }
  "$venv/bin/pip" freeze > "$venv/$stamp" 2> /dev/null
  echo "peers-setup: $venv installed" >&2
}

status=0
if [ -f "$src/flwr-1.42.0-deps.txt" ]; then
  install venv-flwr 'import flwr, importlib.metadata as m; assert m.version("flwr") == "1.42.0"' \
    "-r $src/flwr-1.42.0-deps.txt" "--no-deps flwr==1.42.0" || status=1
else
  echo "peers-setup: $src/flwr-1.42.0-deps.txt not found, venv-flwr not installed" >&2; status=1
fi
install venv-fedn 'import fedn, importlib.metadata as m; assert m.version("fedn") == "0.33.0"' "fedn==0.33.0" || status=1
install venv-moto 'import moto.server' "moto[server]" || status=1
exit $status
