#!/usr/bin/env bash
# Build the benchmarks (RelWithDebInfo, into build/bench unless SR_BENCH_BUILD
# says otherwise) and run them, echoing each command.
#
#   tests/bench/run.sh                  bench_worker --repeat 5, bench_store, bench_page,
#                                       bench_stage (1k, 10k, 100k targets, median of 3)
#   tests/bench/run.sh --mock-nagle     extra arguments go to bench_worker
#
# The machine may be shared and noisy: bench_worker prints the median of
# its repeats on its last line ("median: ..."); its cpu_us/r column (CPU
# time of the worker's thread per result) is the steadiest figure.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${SR_BENCH_BUILD:-build/bench}

run() {
        echo "+ $*" >&2
        "$@"
}

if [[ ! -f "$build/build.ninja" ]]; then
        run cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
run cmake --build "$build" --target bench_worker bench_store bench_page bench_stage
run "$build/tests/bench_worker" --repeat 5 "$@"
run "$build/tests/bench_store"
run "$build/tests/bench_page"
run "$build/tests/bench_stage"
