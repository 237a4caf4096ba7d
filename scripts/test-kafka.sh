#!/usr/bin/env bash
# The end-to-end suites on a real Apache Kafka broker: ctest's `kafka` label
# (tests/CMakeLists.txt). The broker is started once by the kafka.broker_start
# fixture (scripts/kafka.sh start BUILD_DIR/kafka-state) and always stopped
# by kafka.broker_stop. Needs Java 17 and Maven (scripts/install-deps.sh);
# the first run fetches the broker's jars from Maven Central.
#   scripts/test-kafka.sh BUILD_DIR [ctest args...]
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BUILD_DIR [ctest args...]" >&2; exit 2; }
build=$1
shift
exec ctest --test-dir "$build" -L kafka --output-on-failure "$@"
