#!/usr/bin/env bash
# tests/bench/harness.sh BUILD [harness.py args...] - the side-by-side
# benchmark of issue 14 (tests/bench/README.md "The harness") in the bench
# venv (tests/bench/venv.sh).
#
#   tests/bench/harness.sh build               3 repeats, the full table
#   tests/bench/harness.sh build --quick --check   1 repeat, small load,
#                                               exit 1 unless every row has
#                                               non-zero figures (ctest
#                                               bench.harness_quick)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: harness.sh BUILD [args...]}" && pwd)
shift
py=$("$here/venv.sh" "$build")
exec "$py" "$here/harness.py" --build "$build" "$@"
