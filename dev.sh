#!/usr/bin/env bash
# Build and run the whole fleet on the embedded broker (sr-dev).
# Arguments go to sr-dev, e.g. ./dev.sh --workers 3 --agent off
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
scripts/build.sh >&2
exec "${SR_BUILD:-build}/sr-dev" "$@"
