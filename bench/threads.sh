#!/usr/bin/env bash
# Multi-core scaling: echo_server and http_server with one reactor thread
# versus two (`--threads 2`: Workers, one SO_REUSEPORT listener per thread),
# on CPUs $SERVER_CPU and $LOAD_CPU (0 and 1), loopback only.
#
#   bench/threads.sh                      # REPS=3, SECS=5 per run
#   REPS=1 SECS=1 bench/threads.sh        # a smoke test of the script
#
# Configurations (CONFIGS), each a fresh server per run:
#   t1   --threads 1 pinned to CPU 0, the load generator pinned to CPU 1
#   t2   --threads 2 on CPUs 0 and 1, the load generator pinned to CPU 1
#        (it has to share a core with one of the server's threads)
#   t2u  --threads 2 on CPUs 0 and 1, the load generator on either (the
#        scheduler places all three threads)
#
# Loads:
#   echo  examples/loadgen --conns $CONNS --size 64 --depth D --secs $SECS
#         --warmup $WARMUP, for each D in DEPTHS (8 and 1): messages/s,
#         latency, and the server's CPU time (all its threads, from
#         /proc/PID/task/*/schedstat) per echoed message
#   http  wrk -t$WRK_THREADS -c$CONNS -d${SECS}s against http_server serving
#         examples/www/index.html (as bench/http.sh runs it): requests/s and
#         server CPU per request
#
# Every run also records how busy each of the two CPUs was (/proc/stat) and
# how the server's CPU time split between its threads: with two listeners
# the kernel hashes each connection to one of them, so the split shows how
# evenly SO_REUSEPORT spread the connections. Configurations take turns
# within each repetition (t1 t2 t2u t1 t2 t2u ...), so slow drifts of the
# machine hit them alike. Writes bench/results/threads-DATE.md (medians with
# min–max and the ratio to t1) and threads-DATE-raw.txt (one line per run).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-100}
DEPTHS=${DEPTHS:-8 1}
CONFIGS=${CONFIGS:-t1 t2 t2u}
LOADS=${LOADS:-echo http}
WRK_THREADS=${WRK_THREADS:-1}
RESULTS=${RESULTS:-$BENCH_DIR/results}
DATE=${DATE:-$(date +%Y-%m-%d)}
RAW=$RESULTS/threads-$DATE-raw.txt
OUT=$RESULTS/threads-$DATE.md
WWW=$ROOT/examples/www
BOTH=$SERVER_CPU,$LOAD_CPU
LOADGEN_TIMEOUT=$((SECS + WARMUP + 60))

need taskset timeout
case " $LOADS " in *" http "*) need wrk curl ;; esac
[ "$SERVER_CPU" != "$LOAD_CPU" ] || die "SERVER_CPU and LOAD_CPU must differ"
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
SERVER_PID= # set by start_server / start_http, read by stop_server (lib.sh)
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

log "building echo_server, http_server and loadgen (release) in $TARGET"
(cd "$ROOT" && cargo build --release --quiet --example echo_server --example http_server \
    --example loadgen) || die "cargo build of the examples failed"

# config NAME: sets THREADS, the server's CPU list and the load's CPU list
# ("" = not pinned beyond the two CPUs).
config() {
    case $1 in
        t1) THREADS=1 SRV_CPUS=$SERVER_CPU LG_CPUS=$LOAD_CPU ;;
        t2) THREADS=2 SRV_CPUS=$BOTH LG_CPUS=$LOAD_CPU ;;
        t2u) THREADS=2 SRV_CPUS=$BOTH LG_CPUS=$BOTH ;;
        *) die "unknown configuration $1 (t1, t2, t2u)" ;;
    esac
}

# Busy and total jiffies of CPU N (/proc/stat: idle and iowait count as
# idle).
cpu_jiffies() {
    awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat
}

# busy_pct "BUSY0 TOTAL0" "BUSY1 TOTAL1"
busy_pct() {
    awk -v a="$1" -v b="$2" 'BEGIN {split(a, x, " "); split(b, y, " ");
        printf "%.0f", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0}'
}

# On-CPU ns of each thread of PID, one "TID NS" line per thread.
thread_ns() {
    local f
    for f in /proc/"$1"/task/*/schedstat; do
        [ -r "$f" ] || continue
        echo "$(basename "$(dirname "$f")") $(cut -d' ' -f1 "$f")"
    done
}

# thread_split BEFORE AFTER: the two busiest threads' share of the server's
# CPU time over the run, in percent ("58/42"); "100" with one thread.
thread_split() {
    awk 'NR == FNR {before[$1] = $2; next} {d = $2 - before[$1]; if (d > 0) print d}' "$1" "$2" |
        sort -rn | head -2 |
        awk '{v[NR] = $1; s += $1} END {
            if (NR < 2 || s == 0) print 100; else printf "%.0f/%.0f\n", 100 * v[1] / s, 100 * v[2] / s}'
}

# Starts http_server with THREADS threads on SRV_CPUS; sets SERVER_PID and
# SERVER_ADDR once it answers.
start_http() {
    : >"$WORK/http.out"
    (cd "$ROOT" && RUST_LOG=warn exec taskset -c "$SRV_CPUS" "$REL/examples/http_server" \
        --addr 127.0.0.1:0 --root "$WWW" --threads "$THREADS" \
        >"$WORK/http.out" 2>>"$WORK/http.err") &
    SERVER_PID=$!
    for _ in $(seq 200); do
        grep -q '^listening on ' "$WORK/http.out" && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "http_server exited at start (see $WORK/http.err)"
        sleep 0.05
    done
    SERVER_ADDR=$(sed -n 's/^listening on //p' "$WORK/http.out" | head -1)
    [ -n "$SERVER_ADDR" ] || die "http_server did not print its listening line"
    for _ in $(seq 100); do
        curl -fs -o /dev/null "http://$SERVER_ADDR/" && return 0
        sleep 0.05
    done
    die "http_server does not answer on $SERVER_ADDR"
}

# run_one LOAD DEPTH CONFIG REP: one fresh server, one load, one raw line.
run_one() {
    local load=$1 depth=$2 cfg=$3 rep=$4
    config "$cfg"
    if [ "$load" = echo ]; then
        SERVER_CMD[echo_threads]="$REL/examples/echo_server --threads $THREADS"
        SERVER_CPU=$SRV_CPUS start_server echo_threads
    else
        start_http
    fi
    local pid=$SERVER_PID cpu0 cpu1 j0a j0b j1a j1b status=0 line count
    thread_ns "$pid" >"$WORK/threads.before"
    j0a=$(cpu_jiffies "$SERVER_CPU")
    j1a=$(cpu_jiffies "$LOAD_CPU")
    cpu0=$(cpu_ns "$pid")
    if [ "$load" = echo ]; then
        LOADGEN_LOG=$WORK/loadgen.log
        LOAD_CPU=$LG_CPUS loadgen --conns "$CONNS" --size 64 --depth "$depth" \
            --secs "$SECS" --warmup "$WARMUP" >"$WORK/line" || status=$?
        line=$(cat "$WORK/line")
        count=$(sed -n 's/.*total_msgs=\([0-9]*\).*/\1/p' <<<"$line")
    else
        # wrk's own CPU time: `times` in a subshell reports its children's.
        local t0 t1
        t0=$(date +%s%N)
        (
            taskset -c "$LG_CPUS" timeout -s KILL $((SECS + 30)) \
                wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" --latency "http://$SERVER_ADDR/" \
                >"$WORK/wrk.out" 2>&1 || echo $? >"$WORK/wrk.status"
            times >"$WORK/wrk.times"
        )
        t1=$(date +%s%N)
        [ -s "$WORK/wrk.status" ] && status=$(cat "$WORK/wrk.status") && rm -f "$WORK/wrk.status"
        count=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
        line="rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out") requests=${count:-0}"
        line="$line p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")"
        line="$line p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")"
        line="$line errors=$(awk '/Non-2xx|Socket errors/ {n++} END {print n + 0}' "$WORK/wrk.out")"
        line="$line loadgen_cpu_pct=$(awk -v w=$((t1 - t0)) 'NR == 2 {
            for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] }
            printf "%.1f", 100 * s / (w / 1e9) }' "$WORK/wrk.times")"
    fi
    cpu1=$(cpu_ns "$pid")
    j0b=$(cpu_jiffies "$SERVER_CPU")
    j1b=$(cpu_jiffies "$LOAD_CPU")
    thread_ns "$pid" >"$WORK/threads.after"
    stop_server
    local per=0
    [ -n "$count" ] && [ "$count" -gt 0 ] && per=$(((cpu1 - cpu0) / count))
    local out="load=$load depth=$depth config=$cfg threads=$THREADS server_cpus=$SRV_CPUS"
    out="$out load_cpus=$LG_CPUS rep=$rep status=$status $line server_cpu_ns=$((cpu1 - cpu0))"
    out="$out server_cpu_ns_per_msg=$per thread_split=$(thread_split "$WORK/threads.before" "$WORK/threads.after")"
    out="$out cpu${SERVER_CPU}_busy_pct=$(busy_pct "$j0a" "$j0b") cpu${LOAD_CPU}_busy_pct=$(busy_pct "$j1a" "$j1b")"
    [ "$status" -eq 0 ] || log "$load $cfg rep $rep: load generator exit status $status"
    echo "$out" >>"$RAW"
    log "$out"
}

{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: nproc=$(nproc) cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) kernel=$(uname -r)"
    echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# commit: $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD -- src examples 2>/dev/null || echo ' (modified)')"
    echo "# settings: REPS=$REPS SECS=$SECS WARMUP=$WARMUP CONNS=$CONNS DEPTHS=$DEPTHS CONFIGS=$CONFIGS cpus=$SERVER_CPU,$LOAD_CPU"
    echo "# echo: loadgen --conns $CONNS --size 64 --depth D --secs $SECS --warmup $WARMUP"
    echo "# http: wrk -t$WRK_THREADS -c$CONNS -d${SECS}s --latency (examples/www/index.html)"
} >"$RAW"

started=$(date +%s)
for rep in $(seq "$REPS"); do
    for load in $LOADS; do
        depths=$DEPTHS
        [ "$load" = http ] && depths=1
        for depth in $depths; do
            for cfg in $CONFIGS; do
                run_one "$load" "$depth" "$cfg" "$rep"
            done
        done
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); took $(($(date +%s) - started)) s" >>"$RAW"

# Medians [min–max] per load and configuration, and the ratio to t1.
"$PYTHON" - "$RAW" "$OUT" "$SERVER_CPU" "$LOAD_CPU" "$CONNS" "$WRK_THREADS" <<'EOF'
import statistics, sys
raw, out, c0, c1, conns, wrk_threads = sys.argv[1:7]
meta, runs = [], []
for line in open(raw):
    if line.startswith("#"):
        meta.append(line[1:].strip())
    elif line.strip():
        runs.append(dict(w.split("=", 1) for w in line.split() if "=" in w))

def num(r, key):
    try:
        return float(r.get(key, "nan"))
    except ValueError:
        return float("nan")

def cell(values, fmt="{:,.0f}"):
    values = [v for v in values if v == v]
    if not values:
        return "–", None
    m = statistics.median(values)
    if len(values) == 1:
        return fmt.format(m), m
    return f"{fmt.format(m)} [{fmt.format(min(values))}–{fmt.format(max(values))}]", m

lines = ["# One reactor thread versus two (Workers, SO_REUSEPORT)", ""]
lines += [f"- {m}" for m in meta]
lines += ["", "Configurations: t1 = `--threads 1` on CPU " + c0 + ", load generator on CPU " + c1
          + "; t2 = `--threads 2` on CPUs " + c0 + "," + c1 + ", load generator pinned to CPU " + c1
          + "; t2u = the same with the load generator on either CPU.",
          "Medians over the reps [min–max]; ÷ t1: ratio of the medians; split: the two server",
          "threads' shares of its CPU time (how SO_REUSEPORT spread the connections);",
          f"CPU busy: each CPU's busy share over the run (cpu{c0} / cpu{c1}).", ""]
groups = []
for r in runs:
    key = (r["load"], r["depth"])
    if key not in groups:
        groups.append(key)
for load, depth in groups:
    if load == "echo":
        title = f"echo_server, loadgen --conns {conns} --size 64 --depth {depth}"
        unit, per, gen = "msgs/s", "server CPU ns/msg", "loadgen CPU %"
    else:
        title = f"http_server, wrk -t{wrk_threads} -c{conns}"
        unit, per, gen = "requests/s", "server CPU ns/request", "wrk CPU %"
    lines += [f"## {title}", "",
              f"| config | {unit} | ÷ t1 | {per} | p99 | {gen} | split | CPU busy % |",
              "|---|---:|---:|---:|---:|---:|---|---|"]
    base = None
    configs = []
    for r in runs:
        if (r["load"], r["depth"]) == (load, depth) and r["config"] not in configs:
            configs.append(r["config"])
    for cfg in configs:
        rs = [r for r in runs if (r["load"], r["depth"], r["config"]) == (load, depth, cfg)]
        rate_key = "msgs_per_sec" if load == "echo" else "rps"
        rate, m = cell([num(r, rate_key) for r in rs])
        if cfg == "t1":
            base = m
        ratio = f"{m / base:.2f}" if base and m else "–"
        cpu, _ = cell([num(r, "server_cpu_ns_per_msg") for r in rs])
        if load == "echo":
            p99, _ = cell([num(r, "p99_us") for r in rs], "{:,.0f} µs")
        else:
            p99 = " ".join(r.get("p99", "?") for r in rs)
        gen_pct, _ = cell([num(r, "loadgen_cpu_pct") for r in rs])
        split = " ".join(r.get("thread_split", "?") for r in rs)
        busy = " ".join(f"{r.get('cpu' + c0 + '_busy_pct', '?')}/{r.get('cpu' + c1 + '_busy_pct', '?')}"
                        for r in rs)
        lines.append(f"| {cfg} | {rate} | {ratio} | {cpu} | {p99} | {gen_pct} | {split} | {busy} |")
    lines.append("")
open(out, "w").write("\n".join(lines))
print("\n".join(lines))
EOF
log "wrote $OUT and $RAW"
