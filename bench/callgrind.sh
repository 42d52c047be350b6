#!/usr/bin/env bash
# User-space instructions per echoed message, counted by callgrind: the
# figure this machine's timing noise cannot blur.
#
#   bench/callgrind.sh                 # C, raw mio, sockloop, tokio
#   SERVERS="sockloop python" MSGS=2000 bench/callgrind.sh
#
# Each server runs under `valgrind --tool=callgrind` (pinned to CPU 0) and
# gets the same load from loadgen (CPU 1): 10 connections, 64 B messages,
# depth 1, MSGS messages per connection. A second run with BASE messages per
# connection (start-up, 10 connects, shutdown, and almost no echoing) is
# subtracted, so what is left is the cost of the messages alone:
#
#   instructions/message = (I(MSGS) - I(BASE)) / (10 * (MSGS - BASE))
#
# Only the server's user space is counted (callgrind does not see the
# kernel). Writes bench/results/callgrind-DATE.md, the raw lines, and for
# sockloop and mio the top functions by self and inclusive cost
# (callgrind_annotate).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

MSGS=${MSGS:-5000}
BASE=${BASE:-1}
REPS=${REPS:-2}
CONNS=10
SERVERS=${SERVERS:-"c_epoll mio sockloop tokio"}
RESULTS=${RESULTS:-$BENCH_DIR/results}
DATE=$(date +%Y-%m-%d)

need valgrind callgrind_annotate taskset
build_all
WORK=$(mktemp -d)
SERVER_PID= # set by start_server, read by stop_server (lib.sh)
trap 'stop_server; rm -rf "$WORK"' EXIT
mkdir -p "$RESULTS"

# instructions NAME MSGS_PER_CONN -> total instructions of the server
instructions() {
    local name=$1 msgs=$2
    local out=$WORK/cg.$name.$msgs
    start_server "$name" valgrind --tool=callgrind --callgrind-out-file="$out"
    loadgen --conns "$CONNS" --size 64 --depth 1 --max-msgs "$msgs" --secs 600 >"$WORK/line" ||
        die "loadgen failed against $name under callgrind: $(cat "$WORK/line")"
    grep -q "total_msgs=$((CONNS * msgs)) " "$WORK/line" ||
        die "$name: not every message came back: $(cat "$WORK/line")"
    stop_server
    awk '/^summary:/ {print $2}' "$out"
}

declare -A PER_MSG
raw=$RESULTS/callgrind-$DATE-raw.txt
: >"$raw"
for rep in $(seq "$REPS"); do
    for name in $SERVERS; do
        full=$(instructions "$name" "$MSGS")
        base=$(instructions "$name" "$BASE")
        per=$(awk -v f="$full" -v b="$base" -v n=$((CONNS * (MSGS - BASE))) \
            'BEGIN {printf "%.1f", (f - b) / n}')
        log "$name rep $rep: $full - $base instructions -> $per per message"
        echo "server=$name rep=$rep msgs_per_conn=$MSGS base_per_conn=$BASE conns=$CONNS instr_full=$full instr_base=$base instr_per_msg=$per" >>"$raw"
        PER_MSG[$name]="${PER_MSG[$name]:-} $per"
        if [ "$rep" = 1 ] && { [ "$name" = sockloop ] || [ "$name" = mio ]; }; then
            profile=$RESULTS/callgrind-$DATE-$name-profile.txt
            {
                echo "# $name, $((CONNS * MSGS)) messages: divide by $((CONNS * MSGS)) for a per-message figure"
                echo "# self cost (exclusive), by file:function"
                callgrind_annotate --auto=no --threshold=99 "$WORK/cg.$name.$MSGS" | sed -n '/^Ir/,$p' | head -45
                echo
                echo "# inclusive cost"
                callgrind_annotate --auto=no --inclusive=yes --threshold=99 "$WORK/cg.$name.$MSGS" |
                    sed -n '/^Ir/,$p' | head -45
            } >"$profile" 2>/dev/null || true
        fi
    done
done

md=$RESULTS/callgrind-$DATE.md
mio_median=
{
    echo "# User-space instructions per echoed message (callgrind), $DATE"
    echo
    echo "Load: \`loadgen --conns $CONNS --size 64 --depth 1 --max-msgs $MSGS\` minus the same with \`--max-msgs $BASE\`;"
    echo "server under \`valgrind --tool=callgrind\` on CPU $SERVER_CPU, loadgen on CPU $LOAD_CPU; $REPS runs each."
    echo "sockloop at commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)$(cd "$ROOT" && git diff --quiet HEAD -- src 2>/dev/null || echo ' with src/ modified in the working tree');"
    echo "valgrind $(valgrind --version | sed 's/valgrind-//'), $(rustc --version 2>/dev/null), $(cc --version | head -1)."
    echo
    echo "| server | instructions / message (median) | runs | ÷ raw mio |"
    echo "|---|---:|---|---:|"
} >"$md"
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
[ -n "${PER_MSG[mio]:-}" ] && mio_median=$(echo "${PER_MSG[mio]}" | median)
for name in $SERVERS; do
    m=$(echo "${PER_MSG[$name]}" | median)
    ratio=-
    [ -n "$mio_median" ] && ratio=$(awk -v a="$m" -v b="$mio_median" 'BEGIN {printf "%.2f", a / b}')
    echo "| $name | $m | ${PER_MSG[$name]# } | $ratio |" >>"$md"
done
cat "$md"
