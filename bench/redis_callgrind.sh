#!/usr/bin/env bash
# User-space instructions per request of examples/resp_server and of
# Debian's redis-server under the same redis-benchmark load, counted by
# callgrind: the comparison this machine's timing noise cannot blur.
#
#   bench/redis_callgrind.sh                           # N=20000, every test
#   TESTS="get set" PIPELINES=1 N=5000 bench/redis_callgrind.sh
#
# Each server runs under `valgrind --tool=callgrind` on CPU $SERVER_CPU (0),
# started once per pipeline depth; redis-benchmark runs on CPU $LOAD_CPU (1).
# For every test the counters are zeroed, then dumped after
#
#   redis-benchmark -t TEST -n $BASE -c $CLIENTS [-P 16]   (the base run)
#   redis-benchmark -t TEST -n $N    -c $CLIENTS [-P 16]   (the full run)
#
# (`callgrind_control -d` dumps and zeroes). Both runs connect the same
# clients and send the same CONFIG GETs, so the difference is the cost of
# N - BASE requests. Timers (resp_server's 100 ms expiry sweep, redis's
# serverCron) cost instructions per second, not per request: an idle dump
# over IDLE_SECS gives that rate, and rate * (time of full run - time of
# base run) is subtracted too:
#
#   instructions/request = (I(N) - I(BASE) - idle rate * dt) / (N - BASE)
#
# Only user space is counted (callgrind does not see the kernel): the
# syscalls per request, which dominate without pipelining, are the same for
# both servers (one read and one write per request; see BENCHMARKS.md).
# Writes bench/results/redis-callgrind-DATE.md, its raw lines and, for
# resp_server, the top functions of the GET runs (callgrind_annotate).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${N:-20000}
BASE=${BASE:-1000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-1 16}
TESTS=${TESTS:-ping_inline ping_mbulk set get incr lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_300 lrange_500 lrange_600 mset}
SERVERS=${SERVERS:-resp_server redis-server}
IDLE_SECS=${IDLE_SECS:-2}
# A run that takes longer than this under valgrind is stuck.
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
RESULTS=${RESULTS:-$BENCH_DIR/results}
DATE=${DATE:-$(date +%Y-%m-%d)}
RAW=$RESULTS/redis-callgrind-$DATE-raw.txt
OUT=$RESULTS/redis-callgrind-$DATE.md
PROFILE=$RESULTS/redis-callgrind-$DATE-resp_server-profile.txt
RESP=$REL/examples/resp_server

[ "$N" -gt "$BASE" ] || die "N ($N) must be larger than BASE ($BASE)"
need valgrind callgrind_annotate taskset timeout
need_redis
prepare_redis_run

# start NAME: runs that server under callgrind on CPU $SERVER_CPU, its dumps
# in $WORK/NAME/; sets PID (valgrind's, which is the server's) and PORT once
# it answers PING.
start() {
    local name=$1
    PORT=$(free_port)
    rm -rf "${WORK:?}/$name"
    mkdir -p "$WORK/$name"
    local cg=(valgrind --tool=callgrind --callgrind-out-file="$WORK/$name/cg")
    case $name in
        resp_server)
            RUST_LOG=warn taskset -c "$SERVER_CPU" "${cg[@]}" "$RESP" --addr "127.0.0.1:$PORT" \
                >"$WORK/$name.out" 2>>"$WORK/$name.err" &
            ;;
        redis-server)
            taskset -c "$SERVER_CPU" "${cg[@]}" redis-server --port "$PORT" --bind 127.0.0.1 \
                --save '' --appendonly no --logfile "$WORK/redis.log" \
                >"$WORK/$name.out" 2>>"$WORK/$name.err" &
            ;;
    esac
    PID=$!
    await_pong "$name" 600 # valgrind starts slowly
}

# dump NAME LABEL: writes the counters since the last dump or zeroing to a
# new file and prints its instruction total.
dump() {
    local name=$1 label=$2 before after
    before=$(find "$WORK/$name" -name 'cg.*' | wc -l)
    callgrind_control -d "$label" "$PID" >/dev/null 2>&1 || die "callgrind_control -d failed"
    # The dump is written asynchronously: wait for the new file to be whole.
    for _ in $(seq 200); do
        after=$(find "$WORK/$name" -name 'cg.*' | wc -l)
        if [ "$after" -gt "$before" ]; then
            local file
            file=$(grep -l "^desc: Trigger: .*$label\$" "$WORK/$name"/cg.* 2>/dev/null | head -1)
            if [ -n "$file" ] && grep -q '^totals:' "$file"; then
                awk '/^totals:/ {print $2}' "$file"
                return 0
            fi
        fi
        sleep 0.05
    done
    die "no callgrind dump for $label"
}

# bench PIPELINE TEST REQUESTS: one redis-benchmark run; prints its seconds.
# LRANGE_n is sent as the command `-t lrange_n` sends (see bench/redis.sh),
# without the LPUSH run that comes first with `-t`.
bench() {
    local t0 t1 what
    case $2 in
        lrange_*) what=(LRANGE mylist 0 $((${2#lrange_} - 1))) ;;
        *) what=(-t "$2") ;;
    esac
    t0=$(date +%s.%N)
    timeout -s KILL "$RUN_TIMEOUT" taskset -c "$LOAD_CPU" redis-benchmark -p "$PORT" \
        -n "$3" -c "$CLIENTS" -P "$1" --csv "${what[@]}" >"$WORK/csv" ||
        die "redis-benchmark $2 -n $3 -P $1 failed"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

{
    echo "# redis-benchmark under callgrind, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# $(redis-server --version)"
    echo "# N=$N BASE=$BASE CLIENTS=$CLIENTS IDLE_SECS=$IDLE_SECS"
} >"$RAW"
: >"$WORK/runs"
for server in $SERVERS; do
    for pipeline in $PIPELINES; do
        log "$server -P $pipeline: starting under callgrind"
        start "$server"
        callgrind_control -z "$PID" >/dev/null 2>&1 || die "callgrind_control -z failed"
        sleep "$IDLE_SECS"
        idle=$(dump "$server" "idle")
        rate=$(awk -v i="$idle" -v s="$IDLE_SECS" 'BEGIN {printf "%.0f", i / s}')
        for test in $TESTS; do
            case $test in
                lrange_*)
                    # The list LRANGE reads, filled before the counters start.
                    taskset -c "$LOAD_CPU" redis-benchmark -p "$PORT" -t lpush -n 1000 -c 1 -q \
                        >/dev/null || die "filling the list failed"
                    ;;
            esac
            callgrind_control -z "$PID" >/dev/null 2>&1 || die "callgrind_control -z failed"
            tb=$(bench "$pipeline" "$test" "$BASE")
            ib=$(dump "$server" "$test-P$pipeline-base")
            tf=$(bench "$pipeline" "$test" "$N")
            if_=$(dump "$server" "$test-P$pipeline-full")
            per=$(awk -v f="$if_" -v b="$ib" -v r="$rate" -v tf="$tf" -v tb="$tb" -v n=$((N - BASE)) \
                'BEGIN {printf "%.0f", (f - b - r * (tf - tb)) / n}')
            timer=$(awk -v r="$rate" -v tf="$tf" -v tb="$tb" -v n=$((N - BASE)) \
                'BEGIN {printf "%.0f", r * (tf - tb) / n}')
            echo "server=$server P=$pipeline test=$test instr_full=$if_ instr_base=$ib secs_full=$tf secs_base=$tb idle_instr_per_sec=$rate instr_per_req=$per timer_share_per_req=$timer" >>"$RAW"
            echo "$server $pipeline $test $per $timer" >>"$WORK/runs"
            log "$server -P $pipeline $test: $per instructions/request (timers: $timer of them)"
            if [ "$server" = resp_server ] && [ "$test" = get ]; then
                file=$(grep -l "^desc: Trigger: .*$test-P$pipeline-full\$" "$WORK/$server"/cg.* | head -1)
                {
                    echo "# resp_server, GET -P $pipeline, $N requests: divide by $N for a per-request figure"
                    callgrind_annotate --auto=no --threshold=100 "$file" | sed -n '/^Ir/,$p' | head -40
                    echo
                    echo "# inclusive"
                    callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$file" |
                        sed -n '/^Ir/,$p' | head -40
                    echo
                } >>"$WORK/profile" 2>/dev/null || true
            fi
        done
        stop_redis_server
    done
done
[ -s "$WORK/profile" ] && cp "$WORK/profile" "$PROFILE"

{
    echo "# resp_server vs redis-server: user-space instructions per request ($DATE)"
    echo
    echo "\`redis-benchmark -t TEST -n $N -c $CLIENTS [-P 16]\` minus the same with \`-n $BASE\`, divided by"
    echo "$((N - BASE)); each server under \`valgrind --tool=callgrind\` on CPU $SERVER_CPU, redis-benchmark on CPU $LOAD_CPU."
    echo "Timers' instructions per second (measured idle over $IDLE_SECS s) times the extra run time are taken out"
    echo "(\"timers\" column: how much that was per request, already subtracted)."
    echo "resp_server at commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD -- src examples/resp_server.rs examples/lib 2>/dev/null || echo ' with changes in the working tree'), release build;"
    echo "$(redis-server --version | cut -d' ' -f1-3); valgrind $(valgrind --version | sed 's/valgrind-//')."
    echo
    echo "| test | -P | resp_server instr/req | redis-server instr/req | resp / redis | timers resp / redis |"
    echo "|---|---:|---:|---:|---:|---:|"
    awk -v tests="$TESTS" -v pipelines="$PIPELINES" '
        { per[$1, $2, $3] = $4; timer[$1, $2, $3] = $5 }
        END {
            np = split(pipelines, ps, " "); nt = split(tests, ts, " ")
            for (p = 1; p <= np; p++) for (t = 1; t <= nt; t++) {
                a = per["resp_server", ps[p], ts[t]]; b = per["redis-server", ps[p], ts[t]]
                printf "| %s | %s | %s | %s | %s | %s / %s |\n", toupper(ts[t]), ps[p],
                    (a == "" ? "-" : a), (b == "" ? "-" : b),
                    (a != "" && b > 0 ? sprintf("%.2f", a / b) : "-"),
                    timer["resp_server", ps[p], ts[t]], timer["redis-server", ps[p], ts[t]]
            }
        }' "$WORK/runs"
} >"$OUT"
cat "$OUT"
log "wrote $OUT and $RAW"
