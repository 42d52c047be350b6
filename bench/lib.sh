# shellcheck shell=bash
# Shared by the benchmark scripts (sourced, not run): paths, tools, builds,
# and starting, measuring and stopping one server at a time. Loopback only.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
REL=$TARGET/release
LOADGEN=$REL/examples/loadgen
C_ECHO=$TARGET/bench-c/epoll_echo
SERVER_CPU=${SERVER_CPU:-0}
# The real interpreter, not a version manager's shim script in front of it.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
LOAD_CPU=${LOAD_CPU:-1}

# name -> command (each takes --addr and prints `listening on ADDR` first)
declare -A SERVER_CMD=(
    [sockloop]="$REL/examples/echo_server"
    [sockloop_timed]="$REL/examples/echo_server"
    [c_epoll]="$C_ECHO"
    [mio]="$REL/mio_echo"
    [tokio]="$REL/tokio_echo"
    [python]="$PYTHON $BENCH_DIR/py/selectors_echo.py"
)
# name -> environment it runs with: sockloop_timed is echo_server with
# Config::timing on (the statistics' clock readings and the slow-callback
# detector), to measure what they cost against plain sockloop.
declare -A SERVER_ENV=(
    [sockloop_timed]="SOCKLOOP_TIMING=1"
)
# More servers for one run, as NAME=PATH pairs separated by spaces, e.g. an
# earlier build of echo_server to compare against:
#   EXTRA_SERVERS="before=/tmp/old/echo_server" SERVERS="before sockloop" bench/run.sh
for extra in ${EXTRA_SERVERS:-}; do
    SERVER_CMD[${extra%%=*}]=${extra#*=}
done

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Installs the Debian packages that provide the given commands, if missing.
APT_UPDATED=
need() {
    local missing=()
    local cmd pkg
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 && continue
        case $cmd in
            taskset) pkg=util-linux ;;
            callgrind_annotate) pkg=valgrind ;;
            *) pkg=$cmd ;;
        esac
        missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then
        apt-get update -qq >&2 || die "apt-get update failed"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
        die "cannot install ${missing[*]}"
}

# Debian's redis-server, and redis-cli and redis-benchmark (redis-tools),
# if missing.
need_redis() {
    local pkg
    for pkg in redis-server:redis-server redis-benchmark:redis-tools redis-cli:redis-tools; do
        command -v "${pkg%%:*}" >/dev/null 2>&1 && continue
        log "installing ${pkg#*:}"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkg#*:}"; } >&2; then
            die "cannot install ${pkg#*:}"
        fi
    done
}

# For the redis scripts: $RESULTS made, a $WORK directory, an exit trap
# that stops the server in $PID and removes $WORK, and a release build of
# examples/resp_server.
prepare_redis_run() {
    mkdir -p "$RESULTS"
    WORK=$(mktemp -d)
    PID=
    trap stop_redis_run EXIT
    log "building examples/resp_server (release)"
    (cd "$ROOT" && cargo build --release --quiet --example resp_server) ||
        die "cargo build of resp_server failed"
}

stop_redis_run() {
    stop_redis_server
    rm -rf "$WORK"
}

# await_pong NAME TRIES: waits (TRIES times 50 ms at most) until the server
# started as $PID answers PING on $PORT.
await_pong() {
    local name=$1 tries=$2 _
    for _ in $(seq "$tries"); do
        [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && return 0
        kill -0 "$PID" 2>/dev/null || die "$name exited at start (see $WORK)"
        sleep 0.05
    done
    die "$name does not answer PING on port $PORT"
}

# stop_redis_server: stops the server started as $PID, if any.
stop_redis_server() {
    if [ -n "${PID:-}" ]; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    PID=
}

# A TCP port on 127.0.0.1 that is free now.
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# write_nginx_conf PORT [DIRECTIVES]: $WORK/nginx/nginx.conf serving $WWW on
# 127.0.0.1:PORT with one worker, access log off, sendfile on; DIRECTIVES
# (e.g. "master_process off;") go into the main context.
write_nginx_conf() {
    local port=$1 extra=${2:-}
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
$extra
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events {
    worker_connections 1024;
}
http {
    access_log off;
    default_type text/html;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000000;
    keepalive_timeout 65;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
        root $WWW;
        index index.html;
    }
}
EOF
}

# start_http_server [FLAGS...]: examples/http_server (release) serving $WWW
# on CPU $SERVER_CPU with RUST_LOG=warn (its `access_log off`) and FLAGS;
# sets SERVER_PID and SERVER_ADDR once it printed its listening line.
start_http_server() {
    : >"$WORK/http.out"
    (cd "$ROOT" && RUST_LOG=warn exec taskset -c "$SERVER_CPU" "$REL/examples/http_server" \
        --addr 127.0.0.1:0 --root "$WWW" "$@" >"$WORK/http.out" 2>>"$WORK/http.err") &
    SERVER_PID=$!
    for _ in $(seq 200); do
        grep -q '^listening on ' "$WORK/http.out" && break
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    SERVER_ADDR=$(sed -n 's/^listening on //p' "$WORK/http.out" | head -1)
    [ -n "$SERVER_ADDR" ]
}

# start_nginx: nginx with the config write_nginx_conf wrote, on CPU
# $SERVER_CPU; sets SERVER_PID and SERVER_ADDR (its listen address).
start_nginx() {
    taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" \
        2>>"$WORK/nginx.err" &
    SERVER_PID=$!
    SERVER_ADDR=$(sed -n 's/^ *listen \([0-9.:]*\).*/\1/p' "$WORK/nginx/nginx.conf" | head -1)
}

# Release builds of sockloop's echo_server and loadgen, the Rust baselines,
# and the C server.
build_all() {
    log "building (release) in $TARGET"
    (cd "$ROOT" && cargo build --release --quiet --example echo_server --example loadgen) ||
        die "cargo build of the examples failed"
    (cd "$ROOT" && cargo build --release --quiet -p sockloop-bench) ||
        die "cargo build of sockloop-bench failed"
    mkdir -p "$(dirname "$C_ECHO")"
    cc -O2 -Wall -o "$C_ECHO" "$BENCH_DIR/c/epoll_echo.c" || die "cc failed"
}

# start_server NAME [PREFIX...]: starts it on CPU $SERVER_CPU on a free port,
# sets SERVER_PID and SERVER_ADDR. PREFIX (e.g. valgrind ...) runs it.
start_server() {
    local name=$1
    shift
    local out=$WORK/$name.stdout
    : >"$out"
    # shellcheck disable=SC2086  # the command and environment are words on purpose
    RUST_LOG=${RUST_LOG:-warn} env ${SERVER_ENV[$name]:-} taskset -c "$SERVER_CPU" "$@" \
        ${SERVER_CMD[$name]} --addr 127.0.0.1:0 >"$out" 2>>"$WORK/$name.stderr" &
    SERVER_PID=$!
    for _ in $(seq 600); do
        if grep -q '^listening on ' "$out"; then
            SERVER_ADDR=$(sed -n 's/^listening on //p' "$out" | head -1)
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited at start (see $WORK/$name.stderr)"
        sleep 0.05
    done
    die "$name did not print its listening line in 30 s"
}

# Stops the server: SIGTERM, then SIGKILL after 5 s.
stop_server() {
    [ -n "${SERVER_PID:-}" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# On-CPU time of every thread of a process, in nanoseconds
# (/proc/PID/task/*/schedstat: exact, unlike the 10 ms ticks of utime+stime).
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

# Busy time of CPU N (everything that ran there: user, system, interrupts
# and softirqs, whoever they were charged to; not idle, iowait or steal),
# in ns, from /proc/stat's 10 ms ticks.
core_busy_ns() {
    awk -v c="cpu$1" -v hz="$(getconf CLK_TCK)" \
        '$1 == c {printf "%.0f\n", ($2 + $3 + $4 + $7 + $8) * 1e9 / hz}' /proc/stat
}

# Child processes of PID, from the parent field of every /proc/N/stat.
children_of() {
    local stat
    for stat in /proc/[0-9]*/stat; do
        sed 's/.*) //' "$stat" 2>/dev/null | awk -v p="$1" -v f="$stat" '$2 == p {split(f, a, "/"); print a[3]}'
    done
}

# CPU time of a process and its children (nginx's worker), in ns.
tree_cpu_ns() {
    local pid=$1 total=0 child
    total=$(cpu_ns "$pid")
    for child in $(children_of "$pid"); do
        total=$((total + $(cpu_ns "$child")))
    done
    echo "$total"
}

# utime + stime of a process in clock ticks (/proc/PID/stat fields 14, 15).
cpu_ticks() {
    sed 's/.*) //' /proc/"$1"/stat | awk '{print $12 + $13}'
}

rss_kib() {
    awk '/^VmRSS:/ {print $2}' /proc/"$1"/status
}

# loadgen ARGS...: runs the load generator on CPU $LOAD_CPU against
# $SERVER_ADDR, killed if it overstays $LOADGEN_TIMEOUT seconds; its stdout
# line goes to stdout, its summary to $LOADGEN_LOG.
LOADGEN_TIMEOUT=${LOADGEN_TIMEOUT:-600}
loadgen() {
    timeout -s KILL "$LOADGEN_TIMEOUT" taskset -c "$LOAD_CPU" "$LOADGEN" \
        --addr "$SERVER_ADDR" "$@" 2>>"${LOADGEN_LOG:-$WORK/loadgen.log}"
}
