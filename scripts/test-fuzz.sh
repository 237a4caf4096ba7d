#!/usr/bin/env bash
# Build the libFuzzer targets with clang and fuzz each one for a bounded time.
#   scripts/test-fuzz.sh [BUILD_DIR] [SECONDS]      (defaults: build-fuzz 30)
# 1. configures BUILD_DIR with CC=clang -DSR_FUZZ=ON and builds the targets;
# 2. replays every seed (tests/fuzz/corpus/<target>/) and every regression
#    input (tests/fuzz/regressions/<target>/) once: any failure is fatal;
# 3. fuzzes each target for SECONDS (one at a time) from a scratch copy of
#    its corpus, failing on any crash, leak, UB report or timeout (>10 s for
#    one input) or out-of-memory (>2 GB). Findings land in
#    BUILD_DIR/fuzz-out/<target>/ (crash-*, leak-*, timeout-*, oom-*).
# Extra libFuzzer flags can be passed in SR_FUZZ_FLAGS (e.g. -jobs=2).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-30}
targets="fuzz_codec fuzz_http fuzz_http1"

CC=${CC_FUZZ:-clang} cmake -S . -B "$build" -G Ninja \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSR_WERROR=ON -DSR_FUZZ=ON >/dev/null
# shellcheck disable=SC2086
ninja -C "$build" -j "${SR_JOBS:-2}" $targets

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

src=$PWD/tests/fuzz
rc=0
for t in $targets; do
        bin=$PWD/$build/tests/fuzz/$t
        out=$PWD/$build/fuzz-out/$t
        rm -rf "$out" && mkdir -p "$out/corpus"
        dirs=("$src/corpus/$t")
        [ -d "$src/regressions/$t" ] && dirs+=("$src/regressions/$t")
        echo "== $t: replaying ${dirs[*]}"
        if ! (cd "$out" && "$bin" -runs=0 "${dirs[@]}" >replay.log 2>&1); then
                tail -n 60 "$out/replay.log" >&2
                echo "test-fuzz: $t fails on the seed or regression corpus" >&2
                rc=1
                continue
        fi
        dict=()
        [ -f "$src/$t.dict" ] && dict=(-dict="$src/$t.dict")
        echo "== $t: fuzzing ${seconds}s"
        # shellcheck disable=SC2086
        if ! (cd "$out" && "$bin" "${dict[@]}" -max_total_time="$seconds" \
                -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$out/" ${SR_FUZZ_FLAGS:-} \
                corpus "${dirs[@]}" >fuzz.log 2>&1); then
                tail -n 80 "$out/fuzz.log" >&2
                echo "test-fuzz: $t found a problem; reproducer(s):" >&2
                ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* \
                   "$out"/oom-* 2>/dev/null >&2 || true
                rc=1
                continue
        fi
        grep -E "^stat::(number_of_executed_units|average_exec_per_sec)" \
                "$out/fuzz.log" | sed "s/^/   $t /"
done
if [ $rc -eq 0 ]; then
        echo "test-fuzz: OK"
fi
exit $rc
