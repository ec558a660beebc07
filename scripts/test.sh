#!/usr/bin/env bash
# The test command: builds everything (the system tests run the real `msa` binary),
# starts the production-mode servers on loopback (scripts/infra.sh), runs every test
# target, and stops the servers again however the run ends.
#
# Two phases: the unit and conformance suites in parallel, then the system suites one
# test at a time — each of those runs a whole system of processes, and beside each other
# (or beside the unit suites) they would only measure how busy two cores are.
# Usage: scripts/test.sh [swift test arguments…]  (arguments: one run, as given)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
trap 'scripts/infra.sh stop' EXIT
eval "$(scripts/infra.sh start postgres nats)"
export MSA_TEST_REQUIRE_SERVERS=1
if [ $# -gt 0 ]; then
    swift test --skip-build "$@"
else
    swift test --skip-build --skip SystemTests
    swift test --skip-build --filter SystemTests --no-parallel
fi
