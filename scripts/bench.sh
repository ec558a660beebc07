#!/usr/bin/env bash
# A system's benchmark in both deployments, side by side, on this machine:
#
#   scripts/bench.sh [rounds] [seconds] [clients]      (default 3 rounds, 20 s, 32 clients)
#
# MSA_SYSTEM names the system (default rental); the figure compared is its headline rate
# (rental: paid requests per second, vaccine: bookings per second).
#
# Builds `msa` in release mode, starts PostgreSQL and a single NATS node with
# scripts/infra.sh (in a directory of its own), then runs `msa bench $MSA_SYSTEM` alternately on
# the embedded defaults (SQLite, the event-log file) and on PostgreSQL + JetStream,
# `rounds` times. A shared machine's speed drifts by tens of percent within minutes, so
# each production run is compared with the embedded run just before it, and the median
# of those ratios is the figure. The production runs also print JetStream's raw
# acknowledged publish rate, measured first, as the ceiling for events.
#
# MSA_BIN=path/to/msa uses that binary instead of building one. MSA_BEFORE=path/to/msa
# compares two builds instead: each round runs the embedded benchmark on MSA_BEFORE, then
# on this build (or MSA_BIN), and the median of after/before is the figure. MSA_BENCH_POSTGRES=socket connects the services through PostgreSQL's Unix-domain socket
# instead of TCP loopback. Every production round gets fresh servers: a stream left by an
# earlier round would be replayed into the fresh databases.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-20}
clients=${3:-32}
system=${MSA_SYSTEM:-rental}
work=$PWD/.build/bench
mkdir -p "$work"
export MSA_INFRA_DIR=$work/infra
log() { echo "bench: $*" >&2; }

msa=${MSA_BIN:-}
if [ -z "$msa" ]; then
    swift build -c release --product msa >&2
    msa=$PWD/.build/release/msa
fi

supervisor=""
cleanup() {
    [ -n "$supervisor" ] && kill -INT "$supervisor" 2>/dev/null && wait "$supervisor" 2>/dev/null || true
    scripts/infra.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Runs the system with the given `msa up` options, benchmarks it, stops it; prints the
# benchmark's summary lines. (Called in this shell, not a subshell, so the trap above
# stops the system if the script is interrupted.)
run() {
    local name=$1; shift
    local data=$work/$name port=$((20000 + RANDOM % 400 * 20))
    rm -rf "$data"
    "${bin:-$msa}" up "$system" --data "$data" --base-port "$port" "$@" >"$work/$name.log" 2>&1 &
    supervisor=$!
    for _ in $(seq 1 200); do grep -q "is ready\|not ready" "$work/$name.log" && break; sleep 0.2; done
    grep -q "is ready" "$work/$name.log" || { log "the system did not get ready:"; tail -20 "$work/$name.log" >&2; exit 1; }
    local bus=()
    for option in "$@"; do [[ $option == nats://* ]] && bus=(--bus "$option"); done
    "$msa" bench "$system" --data "$data" --seconds "$seconds" --warmup 3 --clients "$clients" "${bus[@]}" \
        --json "$work/$name.json" 2>&1 | grep -E "^(jetstream raw publish: |[^ ].*: [0-9]+/s over )"
    kill -INT "$supervisor"; wait "$supervisor" || true
    supervisor=""
}

rate() { sed -n 's/^[^:]*: \([0-9]*\)\/s over.*/\1/p' <<<"$1"; }

ratios=()
if [ -n "${MSA_BEFORE:-}" ]; then
    printf "%-6s %12s %12s %7s\n" round before after ratio >&2
    for round in $(seq 1 "$rounds"); do
        bin=$MSA_BEFORE run "before-$round" >"$work/before-$round.out"
        run "after-$round" >"$work/after-$round.out"
        before=$(cat "$work/before-$round.out"); after=$(cat "$work/after-$round.out")
        b=$(rate "$before"); a=$(rate "$after")
        ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
        ratios+=("$ratio")
        printf "%-6s %10s/s %10s/s %7s\n" "$round" "$b" "$a" "$ratio"
    done
    median=$(printf "%s\n" "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }')
    echo "median after/before: $median ($system embedded, headline rate, $clients clients, $seconds s each)"
    exit 0
fi
printf "%-6s %12s %12s %7s %s\n" round embedded production ratio "jetstream raw publish" >&2
for round in $(seq 1 "$rounds"); do
    run "embedded-$round" >"$work/embedded-$round.out"
    embedded=$(cat "$work/embedded-$round.out")
    scripts/infra.sh stop >/dev/null 2>&1 || true
    scripts/infra.sh start postgres nats >/dev/null
    eval "$(scripts/infra.sh env)"
    store=$MSA_TEST_POSTGRES
    [ "${MSA_BENCH_POSTGRES:-tcp}" = socket ] && store=$MSA_TEST_POSTGRES_SOCKET
    run "production-$round" --store "$store" --bus "$MSA_TEST_NATS" >"$work/production-$round.out"
    production=$(cat "$work/production-$round.out")
    e=$(rate "$embedded"); p=$(rate "$production")
    raw=$(sed -n 's/^jetstream raw publish: \([0-9]*\).*/\1/p' <<<"$production")
    ratio=$(awk -v p="$p" -v e="$e" 'BEGIN { printf "%.2f", p / e }')
    ratios+=("$ratio")
    printf "%-6s %10s/s %10s/s %7s %s/s\n" "$round" "$e" "$p" "$ratio" "$raw"
done
median=$(printf "%s\n" "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }')
echo "median production/embedded: $median ($system, headline rate, $clients clients, $seconds s each)"
