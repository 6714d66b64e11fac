#!/usr/bin/env bash
# Runs the whole test suite: unit tests of every library and end-to-end tests that start
# the real controller, combiner and client executables.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# One test at a time: the end-to-end suites start whole networks of processes (and Python
# peers, and a browser), and run side by side on 2 cores they starve each other's timers.
# Serially the whole suite takes about 3 minutes here.
swift test --no-parallel "$@"
