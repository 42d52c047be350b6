#!/usr/bin/env bash
# HTTP rows: wrk against sockloop's examples/http_server and against nginx
# with one worker, both serving the same small examples/www/index.html.
#
#   bench/http.sh                 # REPS=3, 5 s each
#   REPS=1 SECS=2 bench/http.sh
#   SCENARIO=big bench/http.sh    # a 100 MB file, 4 connections
#
# SCENARIO=big serves a 100 MB file of random bytes (made in a scratch
# directory and read once, so both servers send it from the page cache)
# to `wrk -t1 -c4`: the rows are throughput (bytes wrk read per second) and
# the server's CPU time per GB sent. Files that size go out with sendfile
# in both servers. Writes http-big-DATE.md and http-big-DATE-raw.txt.
# It also reports the server's core busy per GB (/proc/stat): on loopback
# the kernel delivers a sender's segments in softirqs on the sender's core,
# and those that run in ksoftirqd or interrupt an idle core are charged to
# no server process.
#
# Servers are pinned to CPU $SERVER_CPU (0), wrk to CPU $LOAD_CPU (1), and
# they take turns (http_server nginx http_server nginx ...). wrk runs
# `-t1 -c100 -d${SECS}s --latency`. nginx gets a config written here: one
# worker, access log off, sendfile, keep-alive requests unlimited (wrk
# keeps its 100 connections open), everything else default. http_server
# runs with RUST_LOG=warn, its equivalent of `access_log off`: no access log
# line is formatted or written. The server's
# CPU time (all its processes, from /proc) over the run divided by the
# requests wrk completed gives the server CPU per request.
#
# http_server is built if it can be; if it cannot (or does not answer),
# its rows are skipped with a message and nginx is still measured.
# Writes bench/results/http-DATE.md and http-DATE-raw.txt. For counts that
# do not depend on a quiet machine (instructions and system calls per
# request), see bench/http_callgrind.sh.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
SECS=${SECS:-5}
RESULTS=${RESULTS:-$BENCH_DIR/results}
DATE=${DATE:-$(date +%Y-%m-%d)}
SCENARIO=${SCENARIO:-small}
WWW=$ROOT/examples/www
ASK=/
FILE=index.html
CONNS=100
# wrk's default; a 100 MB response on a busy machine can take longer.
TIMEOUT=2s
NAME=http

need wrk nginx taskset curl
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -f "$WWW/index.html" ] || die "$WWW/index.html is missing"
case $SCENARIO in
    small) ;;
    big)
        mkdir -p "$WORK/www"
        cp "$WWW/index.html" "$WORK/www/"
        head -c 100000000 /dev/urandom >"$WORK/www/big.bin"
        cat "$WORK/www/big.bin" >/dev/null
        WWW=$WORK/www
        ASK=/big.bin
        FILE=big.bin
        CONNS=4
        TIMEOUT=30s
        NAME=http-big
        ;;
    *) die "SCENARIO is small or big, not $SCENARIO" ;;
esac
RAW=$RESULTS/$NAME-$DATE-raw.txt

HTTP_OK=1
log "building examples/http_server (release)"
if ! (cd "$ROOT" && cargo build --release --quiet --example http_server) 2>"$WORK/build.err"; then
    log "http_server does not build yet: skipping its rows ($(tail -1 "$WORK/build.err"))"
    HTTP_OK=
elif [ ! -x "$REL/examples/http_server" ]; then
    log "$REL/examples/http_server does not exist: skipping its rows"
    HTTP_OK=
fi

# Starts server NAME on CPU $SERVER_CPU; sets SERVER_PID and SERVER_ADDR.
start_http() {
    case $1 in
        http_server)
            start_http_server || return 1
            ;;
        nginx)
            write_nginx_conf "$(free_port)"
            start_nginx
            ;;
    esac
    for _ in $(seq 100); do
        curl -fs -o /dev/null "http://$SERVER_ADDR/" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

SERVERS="http_server nginx"
[ -n "$HTTP_OK" ] || SERVERS="nginx"
{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: nproc=$(nproc) cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) kernel=$(uname -r)"
    echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# nginx: $(nginx -v 2>&1); wrk: $(wrk -v 2>&1 | head -1)"
    echo "# file: $FILE, $(stat -c %s "$WWW/$FILE") bytes"
    echo "# command: taskset -c $LOAD_CPU wrk -t1 -c$CONNS -d${SECS}s --timeout $TIMEOUT --latency http://ADDR$ASK"
} >"$RAW"

for rep in $(seq "$REPS"); do
    for server in $SERVERS; do
        if ! start_http "$server"; then
            log "$server did not start or does not answer: skipping this run (see $WORK)"
            stop_server
            [ "$server" = http_server ] && HTTP_OK=
            continue
        fi
        cpu0=$(tree_cpu_ns "$SERVER_PID")
        core0=$(core_busy_ns "$SERVER_CPU")
        # bash's `time` gives wrk's own CPU (user and system seconds): on
        # loopback the kernel's TCP work falls partly on the client's CPU,
        # partly on the server's, depending on who sends when.
        {
            TIMEFORMAT='%U %S'
            time taskset -c "$LOAD_CPU" timeout -s KILL $((SECS + 30)) \
                wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout "$TIMEOUT" --latency "http://$SERVER_ADDR$ASK" >"$WORK/wrk.out" 2>&1 || true
        } 2>"$WORK/wrk.time"
        cpu1=$(tree_cpu_ns "$SERVER_PID")
        core1=$(core_busy_ns "$SERVER_CPU")
        client_ns=$(awk '{printf "%.0f", ($1 + $2) * 1e9}' "$WORK/wrk.time")
        stop_server
        rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out")
        reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
        p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")
        p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")
        errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$WORK/wrk.out")
        # "N requests in 5.00s, 1.23GB read": every byte wrk read, the
        # responses still under way at the end included.
        bytes=$(awk '/requests in/ {
            v = $(NF - 1); n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
            m = 1; if (u == "KB") m = 1024; if (u == "MB") m = 1024^2
            if (u == "GB") m = 1024^3; if (u == "TB") m = 1024^4
            printf "%.0f", n * m }' "$WORK/wrk.out")
        per=0
        [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && per=$(((cpu1 - cpu0) / reqs))
        line="server=$server rep=$rep rps=${rps:-0} requests=${reqs:-0} bytes=${bytes:-0} p50=${p50:-?} p99=${p99:-?} server_cpu_ns=$((cpu1 - cpu0)) server_cpu_ns_per_req=$per server_core_ns=$((core1 - core0)) client_cpu_ns=${client_ns:-0} errors=\"${errs:-none}\""
        echo "$line" >>"$RAW"
        log "$line"
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"
[ -n "$HTTP_OK" ] || log "http_server rows skipped (not built or not answering)"

# Medians [min-max] and the ratio http_server / nginx.
"$PYTHON" - "$RAW" "$RESULTS/$NAME-$DATE.md" "$SCENARIO" "$SECS" <<'EOF'
import statistics, sys
raw, out, scenario, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
meta, runs = [], []
for line in open(raw):
    if line.startswith("#"):
        meta.append(line[1:].strip())
    elif line.strip():
        runs.append(dict(w.split("=", 1) for w in line.split() if "=" in w))
def col(server, key):
    return [float(r[key]) for r in runs if r["server"] == server and r.get(key, "0") not in ("0", "?")]
if scenario == "big":
    # Throughput in MB/s (10^6 bytes) and server CPU per GB (10^9 bytes).
    for r in runs:
        b = float(r.get("bytes", "0"))
        r["mbps"] = str(b / secs / 1e6) if b else "0"
        r["cpu_ms_per_gb"] = str(float(r["server_cpu_ns"]) / b * 1e9 / 1e6) if b else "0"
        both = float(r["server_cpu_ns"]) + float(r.get("client_cpu_ns", "0"))
        r["both_ms_per_gb"] = str(both / b * 1e9 / 1e6) if b and r.get("client_cpu_ns", "0") != "0" else "0"
        r["core_ms_per_gb"] = str(float(r.get("server_core_ns", "0")) / b * 1e9 / 1e6) if b else "0"
    lines = ["# HTTP: a 100 MB file to 4 connections, http_server vs nginx (one worker, sendfile on)", ""]
    lines += [f"- {m}" for m in meta]
    lines += ["", "| server | MB/s | server CPU ms/GB | http_server ÷ nginx (MB/s) | http_server ÷ nginx (CPU/GB) |",
              "|---|---:|---:|---:|---:|"]
    med = {s: (statistics.median(col(s, "mbps")), statistics.median(col(s, "cpu_ms_per_gb")))
           for s in ("http_server", "nginx") if col(s, "mbps")}
    for s in ("http_server", "nginx"):
        if s not in med:
            lines.append(f"| {s} | skipped | – | – | – |")
            continue
        mb, cpu = col(s, "mbps"), col(s, "cpu_ms_per_gb")
        r1 = r2 = "–"
        if s == "http_server" and "nginx" in med:
            r1, r2 = f"{med[s][0] / med['nginx'][0]:.2f}", f"{med[s][1] / med['nginx'][1]:.2f}"
        lines.append(f"| {s} | {med[s][0]:,.0f} [{min(mb):,.0f}–{max(mb):,.0f}] | "
                     f"{med[s][1]:,.1f} [{min(cpu):,.1f}–{max(cpu):,.1f}] | {r1} | {r2} |")
    def spread(key, text):
        """Appends `text` with each server's median [min-max] of `key`,
        if both servers have it; returns whether they had."""
        values = {s: col(s, key) for s in ("http_server", "nginx")}
        if all(values.values()):
            lines.append(f"\n{text}: " + "; ".join(
                f"{s} {statistics.median(v):,.1f} [{min(v):,.1f}–{max(v):,.1f}]"
                for s, v in values.items()))
        return all(values.values())
    both = spread("both_ms_per_gb", "Server and wrk together, CPU ms/GB (on loopback "
                  "the kernel's TCP work is shared between the two)")
    core = spread("core_ms_per_gb", "The server's core busy, ms/GB (everything that ran "
                  "on it, the softirqs charged to nobody or to ksoftirqd included)")
    # The same ratios taken repetition by repetition (each http_server run
    # against the nginx run beside it), which cancels the drift of a busy
    # machine better than a ratio of medians.
    pairs = [(a, b) for a in runs for b in runs if a["server"] == "http_server"
             and b["server"] == "nginx" and a["rep"] == b["rep"] and float(a["mbps"]) and float(b["mbps"])]
    if pairs:
        keys = [("mbps", "MB/s"), ("cpu_ms_per_gb", "CPU/GB")]
        if both:
            keys.append(("both_ms_per_gb", "server and wrk CPU/GB"))
        if core:
            keys.append(("core_ms_per_gb", "server's core busy/GB"))
        for key, label in keys:
            r = sorted(float(a[key]) / float(b[key]) for a, b in pairs if float(b[key]))
            lines.append(f"\nhttp_server ÷ nginx, {label}, repetition by repetition: median "
                         f"{statistics.median(r):.2f} [{r[0]:.2f}–{r[-1]:.2f}] over {len(r)}")
    open(out, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(0)
lines = ["# HTTP: sockloop http_server vs nginx (one worker)", ""]
lines += [f"- {m}" for m in meta]
lines += ["", "| server | requests/s | server CPU ns/request | http_server ÷ nginx (req/s) | http_server ÷ nginx (CPU/req) |",
          "|---|---:|---:|---:|---:|"]
med = {}
for s in ("http_server", "nginx"):
    rps, cpu = col(s, "rps"), col(s, "server_cpu_ns_per_req")
    if rps:
        med[s] = (statistics.median(rps), statistics.median(cpu) if cpu else 0)
for s in ("http_server", "nginx"):
    rps, cpu = col(s, "rps"), col(s, "server_cpu_ns_per_req")
    if not rps:
        lines.append(f"| {s} | skipped | – | – | – |")
        continue
    r1 = r2 = "–"
    if s == "http_server" and "nginx" in med:
        r1 = f"{med[s][0] / med['nginx'][0]:.2f}"
        r2 = f"{med[s][1] / med['nginx'][1]:.2f}" if med["nginx"][1] else "–"
    lines.append(f"| {s} | {statistics.median(rps):,.0f} [{min(rps):,.0f}–{max(rps):,.0f}] | "
                 f"{statistics.median(cpu):,.0f} [{min(cpu):,.0f}–{max(cpu):,.0f}] | {r1} | {r2} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
