#!/usr/bin/env bash
# tests/bench/soak_retention.sh - run tests/bench/soak_retention.py in the
# bench venv (BUILD/venv, tests/bench/venv.sh: matplotlib and confluent-kafka,
# pinned in tests/bench/requirements.txt, from PyPI, installed once).
#
#   tests/bench/soak_retention.sh BUILD [soak_retention.py args...]
#
# The short CI version (ctest kafka.soak_retention, scripts/test-kafka.sh)
# passes --kafka-state BUILD/kafka-state and a few tens of thousands of runs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: soak_retention.sh BUILD [args...]}" && pwd)
shift
py=$("$here/venv.sh" "$build")
exec "$py" "$here/soak_retention.py" --build "$build" "$@"
