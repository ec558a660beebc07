#!/usr/bin/env bash
# The test command: builds everything (the system tests run the real `msa` binary),
# starts the production-mode servers on loopback (scripts/infra.sh), runs every test
# target, and stops the servers again however the run ends.
#
# Two phases: the unit and conformance suites in parallel, then the system suites one
# test at a time — each of those runs a whole system of processes, and beside each other
# (or beside the unit suites) they would only measure how busy two cores are.
#
# The unit suites run at most 6 tests at a time: with all of them at once (244 tests on two
# cores) timers fired seconds late and calls to loopback stubs missed 610 ms timeouts, in
# one run out of two; at 6 the suites take ~30 s instead of ~15 s and passed every run.
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
    swift test --skip-build --skip SystemTests --experimental-maximum-parallelization-width 6
    swift test --skip-build --filter SystemTests --no-parallel
fi
