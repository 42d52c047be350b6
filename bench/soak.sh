#!/usr/bin/env bash
# Soak: holds CONNS connections to each example server (release builds, all
# at once: echo_server, http_server, resp_server, chat_server, upload_server,
# cmd_server) for DURATION seconds with a mix of traffic and churn, checks
# every answer, and reports requests served, errors, and each server's fds
# and resident set at the start, during, at the end with the connections
# still open, and after they closed. Loopback only; stops by itself. Not
# part of `cargo test` (see RELIABILITY.md for the figures).
#
#   bench/soak.sh                                  # 5000 connections each, 600 s
#   DURATION=60 CONNS=1000 bench/soak.sh           # a short one
#   SERVERS="resp_server chat_server" bench/soak.sh
#
# The client is bench/soak_client.py (Python asyncio, standard library
# only), one process per server. Output: each client's progress and summary
# on stdout, and the summaries with the servers' exit codes in
# bench/results/soak-DATE.txt. Exits 1 if any request failed or a server
# did not exit 0 on SIGTERM.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${DURATION:-600}
CONNS=${CONNS:-5000}
SERVERS=${SERVERS:-"echo_server http_server resp_server chat_server upload_server cmd_server"}
RESULTS=${RESULTS:-$BENCH_DIR/results}
OUT=$RESULTS/soak-$(date +%Y-%m-%d).txt

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Each process holds one side of CONNS connections, with room to spare.
need_fds=$((CONNS * 2 + 1024))
ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS + 256)) ] ||
    die "need $((CONNS + 256)) fds, the limit is $(ulimit -n) (lower CONNS)"

examples=()
for name in $SERVERS; do examples+=(--example "$name"); done
log "building ${SERVERS} (release) in $TARGET"
(cd "$ROOT" && cargo build --release --quiet "${examples[@]}") || die "cargo build failed"

WORK=$(mktemp -d)
# Uploads go to memory: each one is fsynced, which would make this a disk test.
SCRATCH=$(mktemp -d -p "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")
declare -A PID ADDR
cleanup() {
    for pid in "${PID[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK" "$SCRATCH"
}
trap cleanup EXIT

# The site: a small page and a 64 KiB file whose bytes the client knows.
mkdir -p "$WORK/www" "$SCRATCH/uploads"
printf '<!DOCTYPE html><title>soak</title><p>soak test page</p>\n' >"$WORK/www/index.html"
python3 -c '
import random, sys
rng = random.Random(64)
sys.stdout.buffer.write(bytes(rng.getrandbits(8) for _ in range(64 * 1024)))
' >"$WORK/www/big.bin"

# Starts a server in the background; sets PID[name] and ADDR[name].
start() {
    local name=$1
    shift
    local fifo=$WORK/$name.out
    mkfifo "$fifo"
    RUST_LOG=${RUST_LOG:-warn} "$TARGET/release/examples/$name" --addr 127.0.0.1:0 "$@" \
        >"$fifo" 2>"$WORK/$name.err" </dev/null &
    local pid=$!
    local line
    exec {fd}<"$fifo"
    read -r -t 10 -u "$fd" line || die "$name did not start: $(cat "$WORK/$name.err")"
    # Keep draining its stdout so it can never block on a full pipe.
    cat <&"$fd" >/dev/null &
    exec {fd}<&-
    PID[$name]=$pid
    ADDR[$name]=${line#listening on }
}

# What each server is started with, and which client talks to it.
for name in $SERVERS; do
    case $name in
    echo_server) start echo_server ;;
    # Keep-alive long enough that the client's 1-9 s pauses never hit it.
    http_server) start http_server --root "$WORK/www" --keepalive-timeout 60 \
        --max-connections $((CONNS * 2)) ;;
    resp_server) start resp_server --maxclients $((CONNS * 2)) ;;
    chat_server) start chat_server ;;
    upload_server) start upload_server --dir "$SCRATCH/uploads" ;;
    cmd_server) start cmd_server ;;
    *) die "no soak for $name" ;;
    esac
    log "$name pid ${PID[$name]} on ${ADDR[$name]}"
done
log "holding $CONNS connections to each for $DURATION s"

mkdir -p "$RESULTS"
status=0
clients=()
for name in $SERVERS; do
    extra=()
    [ "$name" = upload_server ] && extra=(--upload-dir "$SCRATCH/uploads")
    python3 "$BENCH_DIR/soak_client.py" --kind "${name%_server}" \
        --addr "${ADDR[$name]}" --pid "${PID[$name]}" \
        --conns "$CONNS" --duration "$DURATION" "${extra[@]}" >"$WORK/$name.client" 2>&1 &
    clients+=("$!")
done
# Their progress as it comes (the summaries are printed again at the end).
tail -q -n +1 -f "$WORK"/*.client > >(grep --line-buffered -v '^RESULT ') &
TAIL=$!
for pid in "${clients[@]}"; do
    wait "$pid" || status=1
done
kill "$TAIL" 2>/dev/null || true

# Every server must exit 0 on SIGTERM, promptly.
exits=()
for name in $SERVERS; do
    pid=${PID[$name]}
    kill -TERM "$pid"
    code=0
    wait "$pid" || code=$?
    exits+=("$name exit $code")
    [ "$code" -eq 0 ] || status=1
    unset "PID[$name]"
done
log "${exits[*]}"

{
    echo "soak $(date -u +%Y-%m-%dT%H:%M:%SZ): $CONNS connections to each server, $DURATION s"
    for name in $SERVERS; do grep -v '^RESULT ' "$WORK/$name.client"; done
    echo "${exits[*]}"
    for name in $SERVERS; do grep '^RESULT ' "$WORK/$name.client" || true; done
} >"$OUT"
log "summary in $OUT"
exit "$status"
