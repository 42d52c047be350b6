#!/usr/bin/env bash
# Redis rows: redis-benchmark against sockloop's examples/resp_server and
# against Debian's redis-server, the single-threaded reactor it imitates.
#
#   bench/redis.sh                  # N=1000000 requests per test, REPS=3
#   N=100000 REPS=1 bench/redis.sh  # a quick look
#
# Both servers are pinned to CPU $SERVER_CPU (0) and redis-benchmark to CPU
# $LOAD_CPU (1). redis-server runs on its own free port with persistence
# off (`--save '' --appendonly no`), resp_server as a release build. They
# take turns (resp_server redis-server resp_server ...), each rep starting
# both afresh; within a turn every test runs on its own, without and with
# pipelining:
#
#   redis-benchmark -t TEST -n $N -c $CLIENTS (50) [-P 16] --csv
#
# so LPOP pops what LPUSH pushed just before. An LRANGE_n test runs alone:
# a short unmeasured LPUSH run fills the list, then redis-benchmark sends
# the LRANGE its `-t lrange_n` would send (`LRANGE mylist 0 n-1`) N times,
# so the figures are LRANGE's and not those of the LPUSH filler that
# `-t lrange_n` runs first. Besides requests per second (the median over
# the reps, and resp_server / redis-server), the server's CPU time over
# each test (from /proc/PID/task/*/schedstat) divided by N gives its CPU
# per request, which other load on the machine disturbs less; the CPU
# ratio is resp_server's over redis-server's.
# Writes bench/results/redis-DATE.md and redis-DATE-raw.txt.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${N:-1000000}
REPS=${REPS:-3}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-1 16}
TESTS=${TESTS:-ping_inline ping_mbulk set get incr lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_300 lrange_500 lrange_600 mset}
RESULTS=${RESULTS:-$BENCH_DIR/results}
DATE=${DATE:-$(date +%Y-%m-%d)}
RAW=$RESULTS/redis-$DATE-raw.txt
OUT=$RESULTS/redis-$DATE.md
RESP=$REL/examples/resp_server

need taskset
need_redis
prepare_redis_run

# Total on-CPU nanoseconds of every thread of $1 (printf %.0f: mawk's %d
# stops at 2^31).
cpu_total_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

# start NAME: runs that server on CPU $SERVER_CPU; sets PID and PORT once
# it answers PING.
start() {
    PORT=$(free_port)
    case $1 in
        resp_server)
            RUST_LOG=warn taskset -c "$SERVER_CPU" "$RESP" --addr "127.0.0.1:$PORT" \
                >"$WORK/resp_server.out" 2>>"$WORK/resp_server.err" &
            ;;
        redis-server)
            taskset -c "$SERVER_CPU" redis-server --port "$PORT" --bind 127.0.0.1 \
                --save '' --appendonly no --logfile "$WORK/redis.log" &
            ;;
    esac
    PID=$!
    await_pong "$1" 200
}

# One line per measurement: server rep pipeline test rps cpu_ns_per_request
: >"$WORK/runs"
log "N=$N REPS=$REPS CLIENTS=$CLIENTS; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
{
    echo "# redis-benchmark runs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# $(redis-server --version)"
    echo "# N=$N REPS=$REPS CLIENTS=$CLIENTS; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RAW"
for rep in $(seq "$REPS"); do
    for server in resp_server redis-server; do
        start "$server"
        for pipeline in $PIPELINES; do
            for test in $TESTS; do
                case $test in
                    lrange_*)
                        taskset -c "$LOAD_CPU" redis-benchmark -p "$PORT" -t lpush -n 1000 \
                            -c 1 -q >/dev/null || die "redis-benchmark failed against $server"
                        what=(LRANGE mylist 0 $((${test#lrange_} - 1)))
                        ;;
                    *) what=(-t "$test") ;;
                esac
                before=$(cpu_total_ns "$PID")
                csv=$(taskset -c "$LOAD_CPU" redis-benchmark -p "$PORT" -n "$N" -c "$CLIENTS" \
                    -P "$pipeline" --csv "${what[@]}") ||
                    die "redis-benchmark failed against $server"
                after=$(cpu_total_ns "$PID")
                echo "$server rep=$rep P=$pipeline $csv" | tr '\n' ' ' >>"$RAW"
                echo >>"$RAW"
                rps=$(echo "$csv" | tail -1 | cut -d, -f2 | tr -d '"')
                echo "$server $rep $pipeline $test $rps $(((after - before) / N))" >>"$WORK/runs"
                log "$server rep $rep -P $pipeline $test: $rps requests/s"
            done
        done
        stop_redis_server
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# load average at end: $LOAD_END" >>"$RAW"

# The table: medians over the reps.
{
    echo "# resp_server vs redis-server ($DATE)"
    echo
    echo "redis-benchmark -n $N -c $CLIENTS, one test per run, $REPS interleaved reps (median);"
    echo "servers pinned to CPU $SERVER_CPU, redis-benchmark to CPU $LOAD_CPU, loopback."
    echo "$(redis-server --version | cut -d' ' -f1-3); resp_server release build."
    echo "Load average $(head -3 "$RAW" | sed -n 's/.*load average at start: //p') at start, $LOAD_END at end"
    echo "(other work on this $(nproc)-CPU machine shares the cores: compare the CPU columns too)."
    echo "Ratio: resp_server / redis-server of the median req/s; ratio of bests: of the best rep of each;"
    echo "CPU ns/req: the server's on-CPU time over the test divided by the requests (median);"
    echo "CPU ratio: resp_server's CPU ns/req over redis-server's."
    echo
    echo "| test | -P | resp_server req/s | redis-server req/s | ratio | ratio of bests | resp_server CPU ns/req | redis-server CPU ns/req | CPU ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -v tests="$TESTS" -v pipelines="$PIPELINES" '
        function median(list,    n, a, i, j, t) {
            n = split(list, a, " ")
            for (i = 1; i <= n; i++)
                for (j = i + 1; j <= n; j++)
                    if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function best(list,    n, a, i, m) {
            n = split(list, a, " ")
            for (i = 1; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]
            return m
        }
        { rps[$1, $3, $4] = rps[$1, $3, $4] " " $5; cpu[$1, $3, $4] = cpu[$1, $3, $4] " " $6 }
        END {
            np = split(pipelines, ps, " "); nt = split(tests, ts, " ")
            for (p = 1; p <= np; p++) for (t = 1; t <= nt; t++) {
                k1 = "resp_server" SUBSEP ps[p] SUBSEP ts[t]
                k2 = "redis-server" SUBSEP ps[p] SUBSEP ts[t]
                a = median(rps[k1]); b = median(rps[k2]); ba = best(rps[k1]); bb = best(rps[k2])
                ca = median(cpu[k1]); cb = median(cpu[k2])
                printf "| %s | %s | %.0f | %.0f | %.2f | %.2f | %.0f | %.0f | %.2f |\n", toupper(ts[t]), ps[p], a, b,
                    (b > 0 ? a / b : 0), (bb > 0 ? ba / bb : 0), ca, cb, (cb > 0 ? ca / cb : 0)
            }
        }' "$WORK/runs"
} >"$OUT"
cat "$OUT"
log "wrote $OUT and $RAW"
