#!/usr/bin/env bash
# Installs cargo-fuzz if needed and runs each fuzz target for a while.
#
#   fuzz/run.sh                      # every target, 600 s each, one after another
#   SECS=60 fuzz/run.sh line_framing # one target, one minute
#   JOBS=2 fuzz/run.sh               # two targets at a time
#
# Works on the stable toolchain: cargo-fuzz needs nightly-only flags
# (-Zsanitizer), which RUSTC_BOOTSTRAP=1 unlocks on stable. Set SANITIZER=none
# to build without AddressSanitizer (faster, catches less).
#
# Crashes do not stop a run: libFuzzer runs in fork mode and keeps going;
# each crashing input is saved under fuzz/artifacts/<target>/ and listed at
# the end, and the script exits 1 if there is any. Reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target> fuzz/artifacts/<target>/<file>
# New inputs that reach new code land in fuzz/corpus/<target>/; shrink it
# before committing with MINIMIZE=1 (cargo fuzz cmin, edges only).
#
# Logs go to fuzz/logs/<target>.log; the last stats line of each (runs,
# coverage, corpus size) is printed at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

SECS="${SECS:-600}"
JOBS="${JOBS:-1}"
SANITIZER="${SANITIZER:-address}"
ALL_TARGETS=(line_framing length_prefixed upload_header cmd_session http_request resp_request messages_framing)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=("${ALL_TARGETS[@]}")
fi

export RUSTC_BOOTSTRAP=1
# Out of the crate's own target directory unless told otherwise.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

echo "building ${targets[*]} (sanitizer: $SANITIZER)" >&2
cargo fuzz build -O --sanitizer "$SANITIZER"

mkdir -p logs
run_one() {
    local target="$1"
    mkdir -p "corpus/$target" "artifacts/$target"
    echo "fuzzing $target for $SECS s" >&2
    # -fork=1: a crash is recorded and fuzzing goes on. -rss_limit_mb: an
    # input that makes the code under test allocate wildly is a finding too.
    nice -n 19 cargo fuzz run -O --sanitizer "$SANITIZER" "$target" "corpus/$target" -- \
        -max_total_time="$SECS" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
        -ignore_ooms=1 -rss_limit_mb=2048 -timeout=10 -max_len=8192 \
        -artifact_prefix="artifacts/$target/" >"logs/$target.log" 2>&1 || true
    if [ "${MINIMIZE:-0}" = 1 ]; then
        # Keep the inputs that cover every edge (not every counter value):
        # a corpus of a few hundred small files that fits in the repository.
        cargo fuzz cmin -O --sanitizer "$SANITIZER" "$target" "corpus/$target" \
            -- -use_counters=0 >"logs/$target.cmin.log" 2>&1 || true
    fi
}

# The upload and HTTP targets keep scratch directories (one per fuzzing
# process, in /dev/shm or the temp directory); remove them when done.
trap 'rm -rf /dev/shm/sockloop-fuzz-* "${TMPDIR:-/tmp}"/sockloop-fuzz-*' EXIT

running=0
for target in "${targets[@]}"; do
    run_one "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

status=0
for target in "${targets[@]}"; do
    stats="$(grep -E '^#[0-9]+' "logs/$target.log" | tail -n 1 || true)"
    echo "$target: ${stats:-no stats (see fuzz/logs/$target.log)}"
    crashes="$(find "artifacts/$target" -type f 2>/dev/null | sort || true)"
    if [ -n "$crashes" ]; then
        echo "  crashing inputs:"
        echo "$crashes" | sed 's/^/    /'
        status=1
    fi
done
exit "$status"
