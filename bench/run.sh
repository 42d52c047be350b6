#!/usr/bin/env bash
# Side-by-side echo benchmarks: sockloop's echo_server against a C epoll
# server, raw mio, tokio current_thread and Python selectors.
#
#   bench/run.sh                                   # everything, REPS=3
#   REPS=1 SECS=2 SCENARIOS="latency fixed_load" SERVERS="sockloop c_epoll" bench/run.sh
#
# Every run starts a fresh server pinned to CPU $SERVER_CPU (0) and the load
# generator (examples/loadgen) pinned to CPU $LOAD_CPU (1), loopback only.
# Servers take turns inside each repetition (A B C D E A B C D E ...), so
# slow drifts of the machine hit them all alike. For each run the server's
# CPU time is read from /proc before and after the load, which gives its CPU
# time per echoed message in every scenario.
#
# Scenarios (loadgen flags):
#   latency       1 connection, 64 B, depth 1                (p50 latency)
#   request_rate  100 connections, 64 B, depth 1             (msgs/s)
#   pipelined     100 connections, 64 B, depth 8             (msgs/s)
#   bandwidth     10 connections, 16 KiB, depth 2            (MB/s)
#   fixed_load    100 connections, 64 B, 100k msgs/s offered (server CPU/msg)
#   idle_memory   10,000 connections, one echo each, idle    (server RSS/conn)
#   active_10k    10,000 connections at 20k msgs/s in all    (p99 latency)
#   syscalls      10 connections, 64 B, depth 1, 20,000 msgs under strace -c
#
# Writes bench/results/DATE-raw.txt (one line per run), DATE-loadgen.log
# (every run's human summary and errors), and DATE.md (tables) plus
# DATE-chart.svg, through bench/report.py.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
SECS=${SECS:-4}
WARMUP=${WARMUP:-1}
SERVERS=${SERVERS:-"sockloop c_epoll mio tokio python"}
SCENARIOS=${SCENARIOS:-"latency request_rate pipelined bandwidth fixed_load idle_memory active_10k syscalls"}
RATE=${RATE:-100000}
MANY=${MANY:-10000}
MANY_RATE=${MANY_RATE:-20000}
STRACE_MSGS=${STRACE_MSGS:-2000}
RESULTS=${RESULTS:-$BENCH_DIR/results}
DATE=${DATE:-$(date +%Y-%m-%d)}
RAW=$RESULTS/$DATE-raw.txt
LOADGEN_LOGS=$RESULTS/$DATE-loadgen.log

need taskset strace timeout
build_all
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
SERVER_PID=
STRACE_PID=
cleanup() {
    if [ -n "$STRACE_PID" ]; then kill "$STRACE_PID" 2>/dev/null || true; fi
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

# 10,000 connections need 10,000 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((MANY + 100)) ]; then
    MANY=$(($(ulimit -n) - 100))
    log "open-file limit is $(ulimit -n): the 10,000-connection scenarios use $MANY"
fi

# The loadgen flags of a scenario.
scenario_args() {
    local common=(--secs "$SECS" --warmup "$WARMUP")
    case $1 in
        latency) echo --conns 1 --size 64 --depth 1 "${common[@]}" ;;
        request_rate) echo --conns 100 --size 64 --depth 1 "${common[@]}" ;;
        pipelined) echo --conns 100 --size 64 --depth 8 "${common[@]}" ;;
        bandwidth) echo --conns 10 --size 16384 --depth 2 "${common[@]}" ;;
        fixed_load) echo --conns 100 --size 64 --depth 4 --rate "$RATE" "${common[@]}" ;;
        idle_memory) echo --conns "$MANY" --size 64 --depth 1 --max-msgs 1 --hold 2 --secs 120 ;;
        active_10k) echo --conns "$MANY" --size 64 --depth 1 --rate "$MANY_RATE" "${common[@]}" ;;
        syscalls) echo --conns 10 --size 64 --depth 1 --max-msgs "$STRACE_MSGS" --secs 120 ;;
        *) die "unknown scenario $1" ;;
    esac
}

now_ns() { date +%s%N; }

# Waits until FILE contains PATTERN (up to SECONDS); false on timeout.
wait_for() {
    local file=$1 pattern=$2 secs=$3
    for _ in $(seq $((secs * 20))); do
        grep -q "$pattern" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# One run: fresh server, one load, one raw line.
run_one() {
    local scenario=$1 server=$2 rep=$3
    local args extra=
    read -r -a args <<<"$(scenario_args "$scenario")"
    LOADGEN_LOG=$WORK/loadgen.$scenario.$server.$rep.log
    : >"$LOADGEN_LOG"
    start_server "$server"
    local pid=$SERVER_PID
    local rss0 cpu0 t0 line status=0
    rss0=$(rss_kib "$pid")
    if [ "$scenario" = syscalls ]; then
        strace -c -f -p "$pid" -o "$WORK/strace.txt" 2>"$WORK/strace.err" &
        STRACE_PID=$!
        wait_for "$WORK/strace.err" attached 10 || die "strace did not attach to $server"
    fi
    cpu0=$(cpu_ns "$pid")
    t0=$(now_ns)
    if [ "$scenario" = idle_memory ]; then
        loadgen "${args[@]}" >"$WORK/line" &
        local lg=$!
        if wait_for "$LOADGEN_LOG" '^idle:' 60; then
            local rss1
            rss1=$(rss_kib "$pid")
            extra="rss_before_kib=$rss0 rss_idle_kib=$rss1 bytes_per_conn=$(((rss1 - rss0) * 1024 / MANY))"
        else
            log "$server: the idle point was never reached"
        fi
        wait "$lg" || status=$?
    else
        loadgen "${args[@]}" >"$WORK/line" || status=$?
    fi
    local t1 cpu1
    t1=$(now_ns)
    cpu1=$(cpu_ns "$pid")
    if [ "$scenario" = syscalls ]; then
        kill -INT "$STRACE_PID"
        wait "$STRACE_PID" || true
        STRACE_PID=
        local calls mix
        calls=$(awk '$NF == "total" {print $4}' "$WORK/strace.txt")
        mix=$(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" {printf "%s%s:%s", sep, $NF, $4; sep = ","}' "$WORK/strace.txt")
        extra="syscalls=${calls:-0} syscall_mix=${mix:-none}"
    fi
    stop_server
    line=$(cat "$WORK/line")
    [ $status -eq 0 ] || log "$scenario/$server rep $rep: loadgen exit status $status ($(tail -3 "$LOADGEN_LOG" | tr '\n' ' '))"
    local msgs cpu wall
    msgs=$(sed -n 's/.*total_msgs=\([0-9]*\).*/\1/p' <<<"$line")
    cpu=$((cpu1 - cpu0))
    wall=$((t1 - t0))
    local per_msg=0
    [ -n "$msgs" ] && [ "$msgs" -gt 0 ] && per_msg=$((cpu / msgs))
    if [ "$scenario" = syscalls ] && [ -n "$msgs" ] && [ "$msgs" -gt 0 ]; then
        extra="$extra syscalls_per_msg=$(awk -v c="${calls:-0}" -v m="$msgs" 'BEGIN {printf "%.3f", c / m}')"
    fi
    local pct out
    pct=$(awk -v c="$cpu" -v w="$wall" 'BEGIN {printf "%.1f", 100 * c / w}')
    out="scenario=$scenario server=$server rep=$rep status=$status $line server_cpu_ns=$cpu server_cpu_ns_per_msg=$per_msg server_cpu_pct=$pct wall_ms=$((wall / 1000000)) $extra"
    echo "$out" >>"$RAW"
    { echo "== $scenario $server rep $rep (exit $status)"; cat "$LOADGEN_LOG"; } >>"$LOADGEN_LOGS"
    log "$out"
}

{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: nproc=$(nproc) cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) kernel=$(uname -r) mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)')"
    echo "# settings: REPS=$REPS SECS=$SECS WARMUP=$WARMUP RATE=$RATE MANY=$MANY MANY_RATE=$MANY_RATE STRACE_MSGS=$STRACE_MSGS server_cpu=$SERVER_CPU load_cpu=$LOAD_CPU"
    echo "# servers: $SERVERS"
    for s in $SCENARIOS; do echo "# command $s: loadgen $(scenario_args "$s")"; done
} >"$RAW"
: >"$LOADGEN_LOGS"

started=$(date +%s)
for scenario in $SCENARIOS; do
    for rep in $(seq "$REPS"); do
        for server in $SERVERS; do
            run_one "$scenario" "$server" "$rep"
        done
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); suite took $(($(date +%s) - started)) s" >>"$RAW"

"$PYTHON" "$BENCH_DIR/report.py" "$RAW" --md "$RESULTS/$DATE.md" --svg "$RESULTS/$DATE-chart.svg" \
    --callgrind "$RESULTS/callgrind-$DATE-raw.txt"
log "results: $RESULTS/$DATE.md, $RAW, $RESULTS/$DATE-chart.svg"
