#!/usr/bin/env bash
# Installs what the dashboard's browser test needs, when it is missing (idempotent):
#   - Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver), with apt-get;
#   - Selenium in a virtualenv at .venv/dashboard (git-ignored), from PyPI.
# Exit 0 when everything is there. Exit 3, with a "skipping" message on stderr, when Chromium
# cannot be installed (no apt, not root and no sudo, no package reachable): the caller skips the
# browser test instead of failing. Any other failure (e.g. the venv) is exit 1.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=.venv/dashboard
SELENIUM_VERSION=${SELENIUM_VERSION:-4.51.0}   # 4.52.0 needs a certifi newer than PyPI mirrors may have

skip() { echo "dashboard-setup: skipping the browser test: $*" >&2; exit 3; }

have_browser() { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }

if ! have_browser; then
  command -v apt-get >/dev/null 2>&1 || skip "chromium is not installed and apt-get is not available"
  if [ "$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    skip "chromium is not installed and installing it needs root or passwordless sudo"
  fi
  echo "dashboard-setup: installing chromium and chromium-driver (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only when they are missing or older than a day.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
    $SUDO apt-get update -q >&2 || skip "apt-get update failed"
  fi
  $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core >&2 \
    || skip "apt-get install chromium chromium-driver failed"
  have_browser || skip "chromium or chromedriver still missing after apt-get install"
fi

if ! "$VENV/bin/python" -c 'import selenium' >/dev/null 2>&1; then
  echo "dashboard-setup: creating $VENV with selenium $SELENIUM_VERSION" >&2
  python3 -m venv "$VENV" >&2 || { echo "dashboard-setup: python3 -m venv failed (apt-get install python3-venv?)" >&2; exit 1; }
  "$VENV/bin/pip" install -q "selenium==$SELENIUM_VERSION" >&2 || { echo "dashboard-setup: pip install selenium failed" >&2; exit 1; }
fi
echo "dashboard-setup: ready ($(/usr/bin/chromium --version 2>/dev/null | head -1); selenium $("$VENV/bin/python" -c 'import selenium; print(selenium.__version__)'))" >&2
exit 0
