#!/usr/bin/env bash
# The unit and integration suites under AddressSanitizer + UBSan (gcc).
#   scripts/test-sanitize.sh [BUILD_DIR] [extra ctest args...]
# Configures BUILD_DIR (default build-asan) with -DSR_SANITIZE=address,undefined
# (the CMake option adds -fno-sanitize-recover=all, so UBSan aborts on the
# first finding), builds, and runs ctest -L 'unit|integration'.
#
# Criterion forks a child per test. abort_on_error=1 turns a sanitizer
# report during a test into SIGABRT, a crashed (failed) test. A leak found
# by LeakSanitizer when the child exits, after it sent its result, is only
# a warning for Criterion: tests/CMakeLists.txt makes that warning fail the
# test under SR_SANITIZE, and every report also goes to a log file that
# fails this script (below). Workers that the integration tests spawn
# inherit the same options. See tests/fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}
shift || true

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSR_WERROR=ON -DSR_SANITIZE=address,undefined >/dev/null
ninja -C "$build" -j "${SR_JOBS:-2}"

supp=$PWD/tests/fuzz/lsan.supp
# Every report also goes to a file per process (log_path), so a finding in
# a worker an integration test spawned, or a leak reported after a
# Criterion child has already sent its result, still fails this script.
logs=$PWD/$build/sanitizer-logs
rm -rf "$logs" && mkdir -p "$logs"
export ASAN_OPTIONS="log_path=$logs/asan:halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:detect_invalid_pointer_pairs=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$logs/ubsan:halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# use_unaligned=1: avro-c stores a union's branch right after its int
# discriminant, so pointers inside union values sit on 4-byte boundaries
# that LeakSanitizer skips by default (false "direct leak" reports).
export LSAN_OPTIONS="use_unaligned=1:suppressions=$supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Fewer SIGKILLs in integration.test_guarantee under sanitizers (it reads
# SR_TEST_GUARANTEE_KILLS); the test still runs in full otherwise.
export SR_TEST_GUARANTEE_KILLS=${SR_TEST_GUARANTEE_KILLS:-8}

rc=0
ctest --test-dir "$build" -j2 -L 'unit|integration' --output-on-failure \
      --timeout 1800 "$@" || rc=$?
if compgen -G "$logs/*" >/dev/null; then
        echo "test-sanitize: sanitizer reports:" >&2
        for f in "$logs"/*; do
                echo "==== $f" >&2
                cat "$f" >&2
        done
        rc=1
fi
exit $rc
