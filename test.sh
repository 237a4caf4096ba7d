#!/usr/bin/env bash
# Build and run every test. CI runs exactly this (.ci/run).
#
#   1. unit, integration (embedded broker, the kill -9 guarantee test),
#      api (OpenAPI lint, schemathesis), model (differential test), docs
#   2. kafka: the end-to-end suites on a real Apache Kafka broker (started
#      and always stopped by the suite; jars from Maven Central, cached)
#   3. chaos: the fault-injection scenario on a broker of its own
#   4. unit + integration again under AddressSanitizer + UBSan
#   5. libFuzzer: seeds and regressions replayed, each target fuzzed for
#      SR_FUZZ_SECONDS (default 30)
#   6. the workers under valgrind on the happy path
#
# Every step runs even if an earlier one failed; the summary at the end
# names the failed ones and the exit status is non-zero if any failed.
# Extra arguments go to step 1's ctest (e.g. -R fsm). SR_STEPS="1 2" runs
# only the listed steps. Steps 1 and 4 run two tests at a time (ctest -j2):
# integration tests hold one lock (tests/CMakeLists.txt, embedded_fleet), so
# one of them runs beside a unit, api, model or deploy test, never beside
# another (step 1 went from 1,194 s to 724 s, 2026-12-06).
set -uo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh || exit 1
build=${SR_BUILD:-build}
SR_BUILD=$build scripts/build.sh -DSR_WERROR=ON || exit 1

steps=${SR_STEPS:-1 2 3 4 5 6}
failed=()

step() {
        local n=$1 name=$2 t0
        shift 2
        [[ " $steps " == *" $n "* ]] || return 0
        echo "=== step $n: $name" >&2
        t0=$(date +%s)
        if "$@"; then
                echo "=== step $n: $name: passed ($(($(date +%s) - t0)) s)" >&2
        else
                echo "=== step $n: $name: FAILED ($(($(date +%s) - t0)) s)" >&2
                failed+=("$n $name")
        fi
}

step 1 "unit, integration, api, model, docs" \
        ctest --test-dir "$build" -j2 --output-on-failure --timeout 1200 \
        -LE 'kafka|chaos|manual' "$@"
step 2 "real Apache Kafka: end to end" scripts/test-kafka.sh "$build"
step 3 "real Apache Kafka: chaos" \
        ctest --test-dir "$build" --output-on-failure -L '^chaos$'
step 4 "ASan + UBSan" scripts/test-sanitize.sh "$build-asan"
step 5 "libFuzzer" scripts/test-fuzz.sh "$build-fuzz" "${SR_FUZZ_SECONDS:-30}"
step 6 "valgrind" scripts/test-valgrind.sh "$build-vg"

if ((${#failed[@]})); then
        printf '=== FAILED: %s\n' "${failed[@]}" >&2
        exit 1
fi
echo "=== all steps passed" >&2
