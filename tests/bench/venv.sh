#!/usr/bin/env bash
# tests/bench/venv.sh BUILD - make the bench venv BUILD/venv once (pinned
# from PyPI: tests/bench/requirements.txt, confluent-kafka and matplotlib
# with what they pull in; one installer at a time, reinstalled when the
# file changes) and print its python. Used by soak_retention.sh and
# harness.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: venv.sh BUILD}" && pwd)
venv=$build/venv
req=$here/requirements.txt
stamp="$venv/.sr-soak.$(grep -v '^#' "$req" | cksum | cut -d' ' -f1)"
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null; then
        exec 9>"$venv.lock"
        flock 9
fi
[[ -x $venv/bin/python ]] || python3 -m venv "$venv" >&2
if [[ ! -e $stamp ]]; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                --no-input -r "$req" >&2
        touch "$stamp"
fi
exec 9>&-
echo "$venv/bin/python"
