#!/usr/bin/env bash
# Soak: holds CONNS connections to each of echo_server and http_server
# (release builds, both at once) for DURATION seconds with a mix of traffic
# and churn, checks every answer, and reports requests served, errors, and
# each server's fds and resident set at the start, during, at the end with
# the connections still open, and after they closed. Loopback only; stops
# by itself. Not part of `cargo test` (see RELIABILITY.md for the figures).
#
#   bench/soak.sh                        # 5000 connections each, 600 s
#   DURATION=60 CONNS=1000 bench/soak.sh # a short one
#
# The client is bench/soak_client.py (Python asyncio, standard library
# only). Output: the client's progress and summary on stdout, and the same
# summary with the servers' exit codes in bench/results/soak-DATE.txt.
# Exits 1 if any request failed or a server did not exit 0 on SIGTERM.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${DURATION:-600}
CONNS=${CONNS:-5000}
RESULTS=${RESULTS:-$BENCH_DIR/results}
OUT=$RESULTS/soak-$(date +%Y-%m-%d).txt

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Two servers' connections plus the client's own, with room to spare.
need_fds=$((CONNS * 4 + 1024))
ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS * 2 + 256)) ] ||
    die "need $((CONNS * 2 + 256)) fds, the limit is $(ulimit -n) (lower CONNS)"

log "building echo_server and http_server (release) in $TARGET"
(cd "$ROOT" && cargo build --release --quiet --example echo_server --example http_server) ||
    die "cargo build failed"

WORK=$(mktemp -d)
ECHO_PID=
HTTP_PID=
cleanup() {
    for pid in $ECHO_PID $HTTP_PID; do
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# The site: a small page and a 64 KiB file whose bytes the client knows.
mkdir -p "$WORK/www"
printf '<!DOCTYPE html><title>soak</title><p>soak test page</p>\n' >"$WORK/www/index.html"
python3 -c '
import random, sys
rng = random.Random(64)
sys.stdout.buffer.write(bytes(rng.getrandbits(8) for _ in range(64 * 1024)))
' >"$WORK/www/big.bin"

# Starts a server in the background; sets REPLY to "PID ADDR".
start() {
    local name=$1
    shift
    local fifo=$WORK/$name.out
    mkfifo "$fifo"
    RUST_LOG=${RUST_LOG:-warn} "$TARGET/release/examples/$name" --addr 127.0.0.1:0 "$@" \
        >"$fifo" 2>"$WORK/$name.err" &
    local pid=$!
    local line
    exec {fd}<"$fifo"
    read -r -t 10 -u "$fd" line || die "$name did not start: $(cat "$WORK/$name.err")"
    # Keep draining its stdout so it can never block on a full pipe.
    cat <&"$fd" >/dev/null &
    exec {fd}<&-
    REPLY="$pid ${line#listening on }"
}

start echo_server
read -r ECHO_PID ECHO_ADDR <<<"$REPLY"
# Keep-alive long enough that the client's 1-9 s pauses never hit it.
start http_server --root "$WORK/www" --keepalive-timeout 60 --max-connections $((CONNS * 2))
read -r HTTP_PID HTTP_ADDR <<<"$REPLY"
log "echo_server pid $ECHO_PID on $ECHO_ADDR, http_server pid $HTTP_PID on $HTTP_ADDR"
log "holding $CONNS connections to each for $DURATION s"

mkdir -p "$RESULTS"
status=0
python3 "$BENCH_DIR/soak_client.py" \
    --echo "$ECHO_ADDR" --echo-pid "$ECHO_PID" \
    --http "$HTTP_ADDR" --http-pid "$HTTP_PID" \
    --conns "$CONNS" --duration "$DURATION" | tee "$WORK/client.out" || status=1

# Both must exit 0 on SIGTERM, promptly.
exits=()
for pair in "echo_server:$ECHO_PID" "http_server:$HTTP_PID"; do
    name=${pair%%:*}
    pid=${pair##*:}
    kill -TERM "$pid"
    code=0
    wait "$pid" || code=$?
    exits+=("$name exit $code")
    [ "$code" -eq 0 ] || status=1
done
ECHO_PID=
HTTP_PID=
log "${exits[*]}"

{
    echo "soak $(date -u +%Y-%m-%dT%H:%M:%SZ): $CONNS connections each, $DURATION s"
    grep -v '^RESULT ' "$WORK/client.out"
    echo "${exits[*]}"
    grep '^RESULT ' "$WORK/client.out" || true
} >"$OUT"
log "summary in $OUT"
exit "$status"
