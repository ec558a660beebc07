#!/usr/bin/env bash
# The test command: builds everything (the system tests run the real `msa` binary) and
# runs every test target. Usage: scripts/test.sh [swift test arguments…]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build "$@"
