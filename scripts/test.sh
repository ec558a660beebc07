#!/usr/bin/env bash
# The test command: builds everything (the system tests run the real `msa` binary),
# starts the production-mode servers on loopback (scripts/infra.sh), runs every test
# target, and stops the servers again however the run ends.
# Usage: scripts/test.sh [swift test arguments…]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
trap 'scripts/infra.sh stop' EXIT
eval "$(scripts/infra.sh start postgres)"
export MSA_TEST_REQUIRE_SERVERS=1
swift test --skip-build "$@"
