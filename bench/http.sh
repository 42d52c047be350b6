#!/usr/bin/env bash
# HTTP rows: wrk against sockloop's examples/http_server and against nginx
# with one worker, both serving the same small examples/www/index.html.
#
#   bench/http.sh                 # REPS=3, 5 s each
#   REPS=1 SECS=2 bench/http.sh
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
WWW=$ROOT/examples/www
RAW=$RESULTS/http-$DATE-raw.txt

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
    echo "# file: examples/www/index.html, $(stat -c %s "$WWW/index.html") bytes"
    echo "# command: taskset -c $LOAD_CPU wrk -t1 -c100 -d${SECS}s --latency http://ADDR/"
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
        taskset -c "$LOAD_CPU" timeout -s KILL $((SECS + 30)) \
            wrk -t1 -c100 -d"${SECS}s" --latency "http://$SERVER_ADDR/" >"$WORK/wrk.out" 2>&1 || true
        cpu1=$(tree_cpu_ns "$SERVER_PID")
        stop_server
        rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out")
        reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
        p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")
        p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")
        errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$WORK/wrk.out")
        per=0
        [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && per=$(((cpu1 - cpu0) / reqs))
        line="server=$server rep=$rep rps=${rps:-0} requests=${reqs:-0} p50=${p50:-?} p99=${p99:-?} server_cpu_ns=$((cpu1 - cpu0)) server_cpu_ns_per_req=$per errors=\"${errs:-none}\""
        echo "$line" >>"$RAW"
        log "$line"
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"
[ -n "$HTTP_OK" ] || log "http_server rows skipped (not built or not answering)"

# Medians [min-max] and the ratio http_server / nginx.
"$PYTHON" - "$RAW" "$RESULTS/http-$DATE.md" <<'EOF'
import statistics, sys
raw, out = sys.argv[1], sys.argv[2]
meta, runs = [], []
for line in open(raw):
    if line.startswith("#"):
        meta.append(line[1:].strip())
    elif line.strip():
        runs.append(dict(w.split("=", 1) for w in line.split() if "=" in w))
def col(server, key):
    return [float(r[key]) for r in runs if r["server"] == server and r.get(key, "0") not in ("0", "?")]
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
