#!/usr/bin/env bash
# Runs the whole test suite: unit tests of every library and end-to-end tests that start
# the real controller, combiner and client executables.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift test "$@"
