#!/usr/bin/env bash
# TLS rows: sockloop's examples/http_server --tls-cert/--tls-key against
# nginx with one worker over HTTPS, and the TLS echo server against the
# plaintext one, all with the same certificate (made by examples/make_cert:
# ECDSA P-256) and the same cipher suite (TLS 1.3, TLS_AES_256_GCM_SHA384,
# key exchange X25519, checked with openssl s_client before each server's
# runs and written into the raw file).
#
#   bench/tls.sh                  # REPS=3, 5 s each
#   REPS=1 SECS=2 bench/tls.sh
#
# Scenarios, each run in turn for each server (http_server nginx
# http_server nginx ..., then echo plain/tls interleaved):
#   keepalive  wrk -t1 -c100 -d${SECS}s https://ADDR/   (examples/www/index.html)
#   newconn    wrk -t1 -c50 -d${SECS}s -H 'Connection: close' https://ADDR/
#              (every request on a new TLS connection, so each costs a handshake:
#              whatever resumption wrk and the server agree on is used by both)
#   echo       loadgen --conns 10 --size 16384 --depth 1, plaintext and TLS
# Servers are pinned to CPU $SERVER_CPU (0), the load to CPU $LOAD_CPU (1).
# Server CPU comes from /proc (schedstat of every thread of the server and
# its children) over the run: divided by the requests completed, or by the
# bytes echoed. nginx: one worker, access log off, ssl_protocols TLSv1.3,
# ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384; http_server runs
# with RUST_LOG=warn (its `access_log off`).
#
# Writes bench/results/tls-DATE.md and tls-DATE-raw.txt.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
SECS=${SECS:-5}
RESULTS=${RESULTS:-$BENCH_DIR/results}
DATE=${DATE:-$(date +%Y-%m-%d)}
WWW=$ROOT/examples/www
RAW=$RESULTS/tls-$DATE-raw.txt
SUITE=TLS_AES_256_GCM_SHA384

need wrk nginx taskset curl openssl
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
SERVER_PID=
trap 'stop_server; rm -rf "$WORK"' EXIT

log "building (release): http_server echo_server loadgen make_cert"
(cd "$ROOT" && cargo build --release --quiet --example http_server --example echo_server \
    --example loadgen --example make_cert) || die "cargo build failed"
CERTS=$WORK/certs
"$REL/examples/make_cert" --dir "$CERTS" >/dev/null || die "make_cert failed"
TLS_FLAGS="--tls-cert $CERTS/cert.pem --tls-key $CERTS/key.pem"

# start_https NAME: starts http_server or nginx on CPU $SERVER_CPU serving
# HTTPS; sets SERVER_PID and SERVER_ADDR once it answers.
start_https() {
    local port
    case $1 in
        http_server)
            # shellcheck disable=SC2086  # TLS_FLAGS is words on purpose
            start_http_server $TLS_FLAGS || return 1
            ;;
        nginx)
            port=$(free_port)
            write_nginx_conf "$port"
            # The same listener over TLS, with the same certificate and suite.
            sed -i "s|listen 127.0.0.1:$port;|listen 127.0.0.1:$port ssl;\n\
        ssl_certificate $CERTS/cert.pem;\n\
        ssl_certificate_key $CERTS/key.pem;\n\
        ssl_protocols TLSv1.3;\n\
        ssl_conf_command Ciphersuites $SUITE;|" "$WORK/nginx/nginx.conf"
            start_nginx
            ;;
    esac
    for _ in $(seq 100); do
        curl -fs -o /dev/null --cacert "$CERTS/ca.pem" --resolve "localhost:${SERVER_ADDR#*:}:127.0.0.1" \
            "https://localhost:${SERVER_ADDR#*:}/" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# What a default OpenSSL client (wrk's library) negotiates with the server.
negotiated() {
    openssl s_client -connect "$SERVER_ADDR" -CAfile "$CERTS/ca.pem" -servername localhost \
        </dev/null 2>/dev/null | awk '/^New, / {print $2, $NF} /Server Temp Key/ {print $4 $5}' |
        tr '\n' ' '
}

{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "# machine: nproc=$(nproc) cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) kernel=$(uname -r)"
    echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# nginx: $(nginx -v 2>&1); wrk: $(wrk -v 2>&1 | head -1); $(openssl version)"
    echo "# certificate: ECDSA P-256 from examples/make_cert; file: examples/www/index.html, $(stat -c %s "$WWW/index.html") bytes"
} >"$RAW"

for server in http_server nginx; do
    start_https "$server" || die "$server does not answer over HTTPS (see $WORK)"
    echo "# $server negotiates: $(negotiated)" >>"$RAW"
    stop_server
done

run_wrk() {
    local scenario=$1 server=$2 rep=$3
    local args=(-t1 -c100 -d"${SECS}s")
    [ "$scenario" = newconn ] && args=(-t1 -c50 -d"${SECS}s" -H "Connection: close")
    start_https "$server" || { log "$server did not start: skipping"; stop_server; return; }
    local cpu0 cpu1
    cpu0=$(tree_cpu_ns "$SERVER_PID")
    taskset -c "$LOAD_CPU" timeout -s KILL $((SECS + 30)) \
        wrk "${args[@]}" "https://$SERVER_ADDR/" >"$WORK/wrk.out" 2>&1 || true
    cpu1=$(tree_cpu_ns "$SERVER_PID")
    stop_server
    local rps reqs errs per=0
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out")
    reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
    errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$WORK/wrk.out")
    [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && per=$(((cpu1 - cpu0) / reqs))
    local line="scenario=$scenario server=$server rep=$rep rps=${rps:-0} requests=${reqs:-0} server_cpu_ns=$((cpu1 - cpu0)) server_cpu_ns_per_req=$per errors=\"${errs:-none}\""
    echo "$line" >>"$RAW"
    log "$line"
}

SERVER_CMD[echo_plain]="$REL/examples/echo_server"
SERVER_CMD[echo_tls]="$REL/examples/echo_server $TLS_FLAGS"
LOADGEN_LOG=$WORK/loadgen.log
run_echo() {
    local mode=$1 rep=$2 extra=() out cpu0 cpu1
    [ "$mode" = tls ] && extra=(--tls-ca "$CERTS/ca.pem")
    start_server "echo_$mode"
    cpu0=$(cpu_ns "$SERVER_PID")
    out=$(loadgen "${extra[@]}" --conns 10 --size 16384 --depth 1 --secs "$SECS" || true)
    cpu1=$(cpu_ns "$SERVER_PID")
    stop_server
    local msgs mbps bytes per_kib=0
    msgs=$(sed -n 's/.*total_msgs=\([0-9]*\).*/\1/p' <<<"$out")
    mbps=$(sed -n 's/.*MBps=\([0-9.]*\).*/\1/p' <<<"$out")
    bytes=$((${msgs:-0} * 16384))
    [ "$bytes" -gt 0 ] && per_kib=$(((cpu1 - cpu0) * 1024 / bytes))
    local line="scenario=echo server=$mode rep=$rep MBps=${mbps:-0} messages=${msgs:-0} server_cpu_ns=$((cpu1 - cpu0)) server_cpu_ns_per_kib=$per_kib loadgen=\"${out//\"/}\""
    echo "$line" >>"$RAW"
    log "$line"
}

for rep in $(seq "$REPS"); do
    for scenario in keepalive newconn; do
        for server in http_server nginx; do
            run_wrk "$scenario" "$server" "$rep"
        done
    done
    for mode in plain tls; do
        run_echo "$mode" "$rep"
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW"

"$PYTHON" - "$RAW" "$RESULTS/tls-$DATE.md" <<'EOF'
import shlex, statistics, sys
raw, out = sys.argv[1], sys.argv[2]
meta, runs = [], []
for line in open(raw):
    if line.startswith("#"):
        meta.append(line[1:].strip())
    elif line.strip():
        runs.append(dict(w.split("=", 1) for w in shlex.split(line) if "=" in w))
def col(scenario, server, key):
    return [float(r[key]) for r in runs
            if r["scenario"] == scenario and r["server"] == server and float(r.get(key, 0)) > 0]
def cell(values, fmt="{:,.0f}"):
    if not values:
        return "–"
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}–{fmt.format(max(values))}]"
def ratio(a, b):
    return f"{statistics.median(a) / statistics.median(b):.2f}" if a and b else "–"
lines = ["# TLS: http_server vs nginx (one worker) over HTTPS; echo over TLS vs plaintext", ""]
lines += [f"- {m}" for m in meta]
lines += ["", "medians [min–max] of the runs", "",
          "| scenario | server | requests/s | server CPU ns/request | http_server ÷ nginx (req/s) | http_server ÷ nginx (CPU/req) |",
          "|---|---|---:|---:|---:|---:|"]
for scenario in ("keepalive", "newconn"):
    h_rps, h_cpu = col(scenario, "http_server", "rps"), col(scenario, "http_server", "server_cpu_ns_per_req")
    n_rps, n_cpu = col(scenario, "nginx", "rps"), col(scenario, "nginx", "server_cpu_ns_per_req")
    lines.append(f"| {scenario} | http_server | {cell(h_rps)} | {cell(h_cpu)} | {ratio(h_rps, n_rps)} | {ratio(h_cpu, n_cpu)} |")
    lines.append(f"| {scenario} | nginx | {cell(n_rps)} | {cell(n_cpu)} | | |")
lines += ["", "| echo, 16 KiB messages, 10 connections | MB/s | server CPU ns/KiB | TLS ÷ plaintext (CPU/KiB) |",
          "|---|---:|---:|---:|"]
p_cpu, t_cpu = col("echo", "plain", "server_cpu_ns_per_kib"), col("echo", "tls", "server_cpu_ns_per_kib")
lines.append(f"| plaintext | {cell(col('echo', 'plain', 'MBps'))} | {cell(p_cpu)} | |")
lines.append(f"| TLS | {cell(col('echo', 'tls', 'MBps'))} | {cell(t_cpu)} | {ratio(t_cpu, p_cpu)} |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
