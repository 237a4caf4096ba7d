#!/usr/bin/env bash
# tests/registry/run.sh - run a Python test of tests/registry/ in
# BUILD_DIR/venv-registry: stock_consumer.py (a stock confluent-kafka
# consumer decoding sr.events through the gateway's schema registry read
# API), evolution.py (schema evolution through fastavro),
# cloudevents_check.py (the CloudEvents SDK's Kafka binding reads sr.events)
# or tests/codec/digest_check.py (chunk digests against fastavro + hashlib).
#
# Usage: tests/registry/run.sh BUILD_DIR SCRIPT.py
#
# Creates the venv once and installs confluent-kafka with its Avro extra,
# pinned (pip freeze of a clean install of confluent-kafka[avro]==2.16.1 on
# Python 3.11) and the CloudEvents SDK (cloudevents==2.2.0 and what it
# pulls in), from PyPI; a change of the pins reinstalls.
set -euo pipefail

build=$(cd "${1:?usage: run.sh BUILD_DIR SCRIPT.py}" && pwd)
script=${2:?usage: run.sh BUILD_DIR SCRIPT.py}
venv=$build/venv-registry
pins=(
        confluent-kafka==2.16.1
        fastavro==1.13.1
        attrs==26.1.0
        cachetools==8.0.2
        requests==2.34.2
        certifi==2026.10.19.post1
        charset-normalizer==3.5.3
        idna==3.20
        urllib3==2.8.0
        httpx2==2.16.2
        httpcore2==2.16.2
        h11==0.16.0
        anyio==4.16.0
        typing_extensions==4.16.0
        truststore==0.10.5
        avro==1.12.2
        Authlib==1.9.10
        joserfc==1.8.0
        cryptography==50.0.2
        cffi==2.1.1
        pycparser==3.12
        cloudevents==2.2.0
        deprecation==2.1.0
        packaging==26.4
        python-dateutil==4.0.0
        tzdata==2026.6
)
stamp="$venv/.sr-registry.$(printf '%s\n' "${pins[@]}" | cksum | cut -d' ' -f1)"
(
        if command -v flock >/dev/null; then
                exec 9>"$venv.lock"
                flock 9
        fi
        [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
        if [[ ! -e $stamp ]]; then
                "$venv/bin/python" -m pip install --quiet \
                        --disable-pip-version-check --no-input "${pins[@]}"
                touch "$stamp"
        fi
) || { echo "run.sh: venv setup failed" >&2; exit 2; }
exec "$venv/bin/python" "$script" "$build"
