#!/usr/bin/env bash
# Build and run the whole fleet on the embedded broker (sr-dev).
# Arguments go to sr-dev, e.g. ./dev.sh --workers 3 --agent off, or
# ./dev.sh --demo (rollouts that start and move on their own)
# stdout carries only sr-dev's bootstrap.servers=, http=, token= and ready
# lines (scripts read them); installation and build output go to stderr.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh >&2
scripts/build.sh >&2
exec "${SR_BUILD:-build}/sr-dev" "$@"
