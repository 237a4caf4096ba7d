#!/usr/bin/env bash
# Build and run every test: unit, integration on the mock cluster, and the
# guarantee (kill -9) test. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
SR_BUILD=${SR_BUILD:-build} scripts/build.sh -DSR_WERROR=ON
ctest --test-dir "${SR_BUILD:-build}" --output-on-failure --timeout 1200 "$@"
