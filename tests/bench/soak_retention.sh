#!/usr/bin/env bash
# tests/bench/soak_retention.sh - run tests/bench/soak_retention.py in the
# test venv (BUILD/venv; matplotlib and confluent-kafka, pinned, from PyPI,
# installed once, one installer at a time).
#
#   tests/bench/soak_retention.sh BUILD [soak_retention.py args...]
#
# The short CI version (ctest kafka.soak_retention, scripts/test-kafka.sh)
# passes --kafka-state BUILD/kafka-state and a few tens of thousands of runs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: soak_retention.sh BUILD [args...]}" && pwd)
shift
venv=$build/venv
pins=(
        confluent-kafka==2.16.1
        matplotlib==3.11.2
        contourpy==1.3.3
        cycler==0.12.1
        fonttools==4.68.0
        kiwisolver==1.5.1
        numpy==2.4.6
        packaging==26.4
        pillow==13.0.0
        pyparsing==3.3.3
        python-dateutil==4.0.0
        six==1.17.0
)
stamp="$venv/.sr-soak.$(printf '%s\n' "${pins[@]}" | cksum | cut -d' ' -f1)"
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
        exec 9>"$venv.lock"
        flock 9
fi
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
if [[ ! -e $stamp ]]; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                --no-input "${pins[@]}"
        touch "$stamp"
fi
exec 9>&-
exec "$venv/bin/python" "$here/soak_retention.py" --build "$build" "$@"
