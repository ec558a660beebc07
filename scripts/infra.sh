#!/usr/bin/env bash
# Production-mode backing services for the tests, on loopback only, in a temporary
# directory: PostgreSQL, a single NATS node and a 3-node NATS JetStream cluster.
#
#   scripts/infra.sh start [postgres] [nats] [nats-cluster]   (default: all three)
#   scripts/infra.sh stop
#   scripts/infra.sh env        prints the export lines of what runs
#   scripts/infra.sh postgres-stop | postgres-start
#                               stops PostgreSQL (fast shutdown) and starts it again on the
#                               same port and data, for tests of a database outage
#
# Installs `postgresql` and `nats-server` from apt when missing. `start` writes
# $MSA_INFRA_DIR/env (default .build/infra/env) with the URLs the tests read:
#   MSA_TEST_POSTGRES      postgres://msa:msa@127.0.0.1:PORT/msa
#   MSA_TEST_POSTGRES_SOCKET  the same server through its Unix-domain socket
#   MSA_TEST_NATS          nats://127.0.0.1:PORT
#   MSA_TEST_NATS_CLUSTER  nats://127.0.0.1:P1,nats://127.0.0.1:P2,nats://127.0.0.1:P3
# and the PID of every process it started; `stop` kills exactly those PIDs and removes
# the directory. Ports are picked free at start, so several runs can share a machine.
# MSA_INFRA_PG_OPTIONS adds server options, e.g. for profiling:
#   MSA_INFRA_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements" scripts/infra.sh start postgres
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${MSA_INFRA_DIR:-$PWD/.build/infra}
mkdir -p "$(dirname "$dir")"
dir=$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")

log() { echo "infra: $*" >&2; }

# Runs a server in the background without the descriptors this script inherited beyond
# stdin/out/err: a caller that waits for the script's end (Foundation's Process watches a
# socket it passes down) would otherwise wait for the server's end too.
detach() {
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
        done
        if declare -F "$1" >/dev/null; then "$@"; else exec "$@"; fi
    ) &
}

# A port nothing listens on, from a range the kernel does not hand out as ephemeral.
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && ! grep -qx "$port" "$dir/ports" 2>/dev/null; then
            echo "$port" >> "$dir/ports"
            echo "$port"
            return
        fi
    done
    log "no free port found"; exit 1
}

wait_for_port() {  # port, what, pid
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return; fi
        kill -0 "$3" 2>/dev/null || { log "$2 exited while starting; its log:"; tail -20 "$dir/$2.log" >&2; exit 1; }
        sleep 0.1
    done
    log "$2 did not listen on port $1 within 30 s"; exit 1
}

apt_install() {
    log "installing $* from apt"
    export DEBIAN_FRONTEND=noninteractive
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get install -y -q "$@" >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$@" >/dev/null; }
}

pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        apt_install postgresql
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    echo "$bin"
}

start_postgres() {
    local bin port data
    bin=$(pg_bin)
    port=$(free_port)
    # The data directory (and the server's socket in it) lives in the system's temporary
    # directory, not under the clone: as root the server runs as `postgres`, which cannot
    # enter a clone below a directory only its owner may enter (`mktemp -d` makes those),
    # and a deep clone path would pass the 107-byte limit of a socket's path.
    data=$(mktemp -d "${TMPDIR:-/tmp}/msa-postgres.XXXXXX")
    echo "$data" > "$dir/postgres.data"
    # PostgreSQL refuses to run as root: run it as the `postgres` user apt created.
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$data"
    fi
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { log "initdb failed:"; tail -20 "$dir/initdb.log" >&2; exit 1; }
    echo "$bin" > "$dir/postgres.bin"
    echo "$port" > "$dir/postgres.port"
    launch_postgres
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE msa LOGIN PASSWORD 'msa' SUPERUSER" -c "CREATE DATABASE msa OWNER msa" >/dev/null
    echo "export MSA_TEST_POSTGRES=postgres://msa:msa@127.0.0.1:$port/msa" >> "$dir/env"
    echo "export MSA_TEST_POSTGRES_SOCKET=postgres://msa:msa@:$port/msa?host=$data" >> "$dir/env"
    log "postgres on 127.0.0.1:$port (pid $(cat "$dir/postgres.pid"))"
}

as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts the server of the recorded data directory on its recorded port and waits until
# it accepts queries.
launch_postgres() {
    local bin port data pid
    data=$(cat "$dir/postgres.data")
    bin=$(cat "$dir/postgres.bin"); port=$(cat "$dir/postgres.port")
    # No fsync: a test-only speedup that loses data only when the machine itself crashes;
    # a killed postgres process loses no commit. The tests kill processes, never machines.
    detach as_postgres "$bin/postgres" -D "$data" -k "$data" -c listen_addresses=127.0.0.1 -p "$port" \
        -c fsync=off -c full_page_writes=off -c max_connections=300 ${MSA_INFRA_PG_OPTIONS:-} \
        >>"$dir/postgres.log" 2>&1
    pid=$!
    wait_for_port "$port" postgres "$pid"
    for _ in $(seq 1 100); do
        if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
            # The server's own PID (runuser, started above, only waits for it).
            pid=$(head -1 "$data/postmaster.pid")
            echo "$pid" >> "$dir/pids"
            echo "$pid" > "$dir/postgres.pid"
            return
        fi
        sleep 0.1
    done
    log "postgres did not accept connections within 10 s"; exit 1
}

# Fast shutdown (SIGINT): clients are disconnected, every commit is kept.
halt_postgres() {
    local pid
    pid=$(cat "$dir/postgres.pid")
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || { log "postgres stopped"; return; }; sleep 0.1; done
    log "postgres did not stop within 30 s"; exit 1
}

nats_bin() {
    command -v nats-server >/dev/null || apt_install nats-server
    command -v nats-server
}

start_nats() {
    local bin port pid
    bin=$(nats_bin)
    port=$(free_port)
    mkdir -p "$dir/nats"
    detach "$bin" -a 127.0.0.1 -p "$port" -js -sd "$dir/nats" --server_name single >"$dir/nats.log" 2>&1
    pid=$!
    echo "$pid" >> "$dir/pids"
    wait_for_port "$port" nats "$pid"
    echo "export MSA_TEST_NATS=nats://127.0.0.1:$port" >> "$dir/env"
    log "nats on 127.0.0.1:$port (pid $pid)"
}

start_nats_cluster() {
    local bin ports=() routes=() urls=() pids=()
    bin=$(nats_bin)
    for i in 1 2 3; do ports+=("$(free_port)"); routes+=("$(free_port)"); done
    local all_routes
    all_routes=$(printf 'nats://127.0.0.1:%s,' "${routes[@]}"); all_routes=${all_routes%,}
    for i in 0 1 2; do
        mkdir -p "$dir/nats-$((i + 1))"
        detach "$bin" -a 127.0.0.1 -p "${ports[$i]}" -js -sd "$dir/nats-$((i + 1))" --server_name "n$((i + 1))" \
            --cluster_name msa --cluster "nats://127.0.0.1:${routes[$i]}" --routes "$all_routes" \
            >"$dir/nats-$((i + 1)).log" 2>&1
        pids+=($!)
        echo "$!" >> "$dir/pids"
        echo "$!" > "$dir/nats-$((i + 1)).pid"
        urls+=("nats://127.0.0.1:${ports[$i]}")
    done
    for i in 0 1 2; do wait_for_port "${ports[$i]}" "nats-$((i + 1))" "${pids[$i]}"; done
    local joined
    joined=$(printf '%s,' "${urls[@]}"); joined=${joined%,}
    echo "export MSA_TEST_NATS_CLUSTER=$joined" >> "$dir/env"
    echo "export MSA_TEST_NATS_CLUSTER_PIDS=$(IFS=,; echo "${pids[*]}")" >> "$dir/env"
    log "nats cluster on ${ports[*]} (pids ${pids[*]})"
}

stop() {
    [ -f "$dir/pids" ] || { [ -f "$dir/postgres.data" ] && rm -rf "$(cat "$dir/postgres.data")"; rm -rf "$dir"; return; }
    local pids
    pids=$(cat "$dir/pids")
    # SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for clients), NATS's clean exit.
    for pid in $pids; do kill -INT "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 100); do
        local alive=0
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
    if [ -f "$dir/postgres.data" ]; then rm -rf "$(cat "$dir/postgres.data")"; fi
    rm -rf "$dir"
    log "stopped"
}

case "${1:-}" in
    start)
        shift
        stop
        mkdir -p "$dir"
        : > "$dir/env"
        parts=("$@"); [ ${#parts[@]} -eq 0 ] && parts=(postgres nats nats-cluster)
        trap 'stop' ERR
        for part in "${parts[@]}"; do
            case "$part" in
                postgres) start_postgres ;;
                nats) start_nats ;;
                nats-cluster) start_nats_cluster ;;
                *) log "unknown part $part"; exit 2 ;;
            esac
        done
        trap - ERR
        cat "$dir/env"
        ;;
    stop) stop ;;
    env) cat "$dir/env" 2>/dev/null ;;
    postgres-stop) halt_postgres ;;
    postgres-start) launch_postgres; log "postgres started (pid $(cat "$dir/postgres.pid"))" ;;
    *) echo "usage: $0 start [postgres] [nats] [nats-cluster] | stop | env | postgres-stop | postgres-start" >&2; exit 2 ;;
esac
