#!/usr/bin/env bash
# HTTP cost per request that timing noise cannot blur: user-space
# instructions (callgrind) and system calls (strace -c) per request, for
# sockloop's examples/http_server and for nginx, under the same fixed load.
#
#   bench/http_callgrind.sh                      # both servers, both counts
#   SERVERS=http_server TOOLS=strace bench/http_callgrind.sh
#   HTTP_SERVER=/path/to/other/http_server bench/http_callgrind.sh
#
# Load: bench/py/http_fixed.py, CONNS (10) keep-alive connections sending
# REQS (2000) GETs of examples/www/index.html each, one at a time per
# connection. A second run with BASE (10) requests per connection (start-up,
# connects, shutdown, almost no requests) is subtracted:
#
#   per request = (count(REQS) - count(BASE)) / (CONNS * (REQS - BASE))
#
# nginx runs as one process (master_process off), access log off, sendfile
# on, as in bench/http.sh; http_server runs with RUST_LOG=warn (no access
# log), as in bench/http.sh. Servers on CPU $SERVER_CPU, the client on
# $LOAD_CPU. Prints one line per server and tool; bounded: a few minutes.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

REQS=${REQS:-2000}
BASE=${BASE:-10}
CONNS=${CONNS:-10}
SERVERS=${SERVERS:-"http_server nginx"}
TOOLS=${TOOLS:-"callgrind strace"}
WWW=$ROOT/examples/www
HTTP_SERVER=${HTTP_SERVER:-$REL/examples/http_server}

need valgrind strace nginx taskset
if [ -z "${HTTP_SERVER_PREBUILT:-}" ] && [ "$HTTP_SERVER" = "$REL/examples/http_server" ]; then
    log "building examples/http_server (release)"
    (cd "$ROOT" && cargo build --release --quiet --example http_server) || die "cargo build failed"
fi
WORK=$(mktemp -d)
SERVER_PID=
trap 'stop_measured; rm -rf "$WORK"' EXIT

# Stops the server: under strace, SIGTERM goes to the traced child (strace
# itself would only detach, leaving the server running), and strace then
# exits with it, writing its counts.
stop_measured() {
    [ -n "${SERVER_PID:-}" ] || return 0
    local child
    child=$(pgrep -P "$SERVER_PID" || true)
    [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
    stop_server
}


# run SERVER TOOL REQS_PER_CONN -> the count (instructions or syscalls)
run() {
    local server=$1 tool=$2 reqs=$3 out=$WORK/$1.$2.$3 prefix port
    case $tool in
        callgrind) prefix=(valgrind --tool=callgrind "--callgrind-out-file=$out") ;;
        strace) prefix=(strace -f -c -U "name,calls" -o "$out") ;;
    esac
    port=$(free_port)
    case $server in
        http_server)
            RUST_LOG=warn taskset -c "$SERVER_CPU" "${prefix[@]}" "$HTTP_SERVER" \
                --addr "127.0.0.1:$port" --root "$WWW" >/dev/null 2>>"$WORK/err" &
            ;;
        nginx)
            write_nginx_conf "$port" "master_process off;"
            taskset -c "$SERVER_CPU" "${prefix[@]}" nginx -c "$WORK/nginx/nginx.conf" \
                -p "$WORK/nginx" 2>>"$WORK/err" &
            ;;
    esac
    SERVER_PID=$!
    SERVER_ADDR=127.0.0.1:$port
    for _ in $(seq 600); do
        "$PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" \
            2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "$server exited at start (see $WORK/err)"
        sleep 0.05
    done
    timeout -s KILL 600 taskset -c "$LOAD_CPU" "$PYTHON" "$BENCH_DIR/py/http_fixed.py" \
        "$SERVER_ADDR" --conns "$CONNS" --requests "$reqs" >"$WORK/client" ||
        die "$server: the client failed: $(cat "$WORK/client")"
    stop_measured
    case $tool in
        callgrind) awk '/^summary:/ {print $2}' "$out" ;;
        strace) awk '$1 == "total" {print $2}' "$out" ;;
    esac
}

for server in $SERVERS; do
    for tool in $TOOLS; do
        full=$(run "$server" "$tool" "$REQS")
        base=$(run "$server" "$tool" "$BASE")
        per=$(awk -v f="$full" -v b="$base" -v n=$((CONNS * (REQS - BASE))) \
            'BEGIN {printf "%.2f", (f - b) / n}')
        unit=instructions
        [ "$tool" = strace ] && unit=syscalls
        echo "server=$server tool=$tool full=$full base=$base ${unit}_per_request=$per"
        if [ "$tool" = strace ] && [ -n "${SHOW_SYSCALLS:-}" ]; then
            cat "$WORK/$server.strace.$REQS"
        fi
    done
done
