#!/usr/bin/env bash
# tests/bench/bench_restore.sh BUILD [bench_restore.py args...] - the
# worker's restore of a ~1M-record changelog partition on the real broker
# (tests/bench/README.md "Restore on the real broker"), in the bench venv
# (tests/bench/venv.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: bench_restore.sh BUILD [args...]}" && pwd)
shift
py=$("$here/venv.sh" "$build")
exec "$py" "$here/bench_restore.py" --build "$build" "$@"
