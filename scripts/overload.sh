#!/usr/bin/env bash
# The Rental seed's circuit-breaker experiment, measured:
#
#   scripts/overload.sh [seconds] [delay]        (default 20 s per load, PAYMENT_DELAY_MS=400-620)
#
# Starts Rental (release build, embedded defaults) with payment slowed by `delay` and the
# default 610 ms timeout, then runs, one after another against the same system:
#   1. `msa bench rental --clients N` for 64 (the bulkhead's size), 100, 200 and 400 (past
#      the bulkhead's line of 256 too): goodput (paid requests/s) at and past capacity,
#      and how fast refusals come, by reason;
#   2. the seed's own load, `siege -c100 -t60S` POSTing the seed's body to /reserves
#      through the gateway, if siege is installed (`apt-get install siege`); siege's
#      availability is the seed's figure (64.29% there);
#   3. 15 s after the load: every Approved payment has its request and every request its
#      payment, nothing left to undo, the breaker closed.
# Loopback only; the system is stopped however the script ends.
#
# MSA_BIN=path/to/msa uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
delay=${2:-400-620}
work=$PWD/.build/overload
rm -rf "$work"
mkdir -p "$work"
log() { echo "overload: $*" >&2; }

msa=${MSA_BIN:-}
if [ -z "$msa" ]; then
    swift build -c release --product msa >&2
    msa=$PWD/.build/release/msa
fi

port=$((20000 + RANDOM % 400 * 20))
gateway=http://127.0.0.1:$port
PAYMENT_DELAY_MS=$delay "$msa" up rental --data "$work/data" --base-port "$port" >"$work/system.log" 2>&1 &
supervisor=$!
trap 'kill -INT "$supervisor" 2>/dev/null; wait "$supervisor" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do grep -q "is ready\|not ready" "$work/system.log" && break; sleep 0.2; done
grep -q "is ready" "$work/system.log" || { log "the system did not get ready:"; tail -20 "$work/system.log" >&2; exit 1; }
log "rental up on $gateway with PAYMENT_DELAY_MS=$delay"

for clients in 64 100 200 400; do
    "$msa" bench rental --data "$work/data" --clients "$clients" --seconds "$seconds" --json "$work/bench-$clients.json" \
        | tee "$work/bench-$clients.txt"
done

if command -v siege >/dev/null; then
    log "siege -c100 -t60S POST /reserves (the seed's command)"
    # siege gives up after 1,024 failed transactions by default; the seed's run lasted 60 s.
    printf 'failures = 100000000\n' >"$work/siegerc"
    siege -R "$work/siegerc" -c100 -t60S -b -q -j --content-type "application/json" \
        "$gateway/reserves POST {\"price\":\"20000\",\"startDay\":\"20210624\",\"endDay\":\"20210624\",\"customer\":\"andy\",\"status\":\"approve\"}" \
        >"$work/siege.json" 2>"$work/siege.err" || true
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("siege: %(transactions)d transactions, availability %(availability).2f%%, %(elapsed_time).1f s, %(transaction_rate).1f/s, response %(response_time).2f s, longest %(longest_transaction).2f s, failed %(failed_transactions)d" % r)' "$work/siege.json" \
        || { log "siege printed no figures:"; tail -5 "$work/siege.err" >&2; }
else
    log "siege is not installed: skipping the seed's siege run"
fi

log "load over; checking consistency within 15 s"
metric() { curl -s "$1/metrics" | awk -v name="$2" -v label="$3" '$1 ~ "^"name && index($1, label) { sum += $NF } END { print sum + 0 }'; }
reserve=http://127.0.0.1:$((port + 1))
payment=http://127.0.0.1:$((port + 3))
started=$(date +%s.%N)
for _ in $(seq 1 150); do
    orphans=$(python3 - "$gateway" <<'EOF'
import json, sys, urllib.request
base = sys.argv[1]
def ids(path, key, keep=lambda item: True):
    found, page = set(), 0
    while True:
        items = json.load(urllib.request.urlopen(f"{base}{path}?size=2000&page={page}"))["_embedded"][path.strip("/")]
        found |= {item[key] for item in items if keep(item)}
        if len(items) < 2000: return found
        page += 1
approved = ids("/payments", "matchId", lambda p: p["paymentAction"] == "Approved")
requests = ids("/reserves", "id")
print(len(approved - requests), len(requests - approved), len(approved), len(requests))
EOF
)
    pending=$(metric "$reserve" msa_gated_calls_pending "")
    breaker=$(metric "$reserve" msa_circuit_breaker_state 'target="payment"')
    if [ "${orphans%% *}" = 0 ] && [ "$(echo "$orphans" | cut -d' ' -f2)" = 0 ] && [ "$pending" = 0 ] && [ "$breaker" = 0 ]; then
        echo "consistent after $(python3 -c "print(round($(date +%s.%N) - $started, 1))") s: $orphans (orphan payments, unpaid requests, payments, requests); nothing pending; breaker closed"
        echo "payment breaker: $(metric "$reserve" msa_calls_rejected_total 'reason="circuit_open"') circuit-open and $(metric "$reserve" msa_calls_rejected_total 'reason="bulkhead_full"') bulkhead-full and $(metric "$reserve" msa_calls_rejected_total 'reason="bulkhead_wait"') bulkhead-wait refusals; $(metric "$reserve" msa_gated_calls_undone_total "") undone"
        exit 0
    fi
    sleep 0.1
done
echo "NOT consistent 15 s after the load: $orphans (orphan payments, unpaid requests, payments, requests); pending $pending; breaker $breaker" >&2
exit 1
