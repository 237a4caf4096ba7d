#!/usr/bin/env bash
# Configure and build into ${SR_BUILD:-build} (extra args go to cmake).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SR_BUILD:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${SR_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build"
