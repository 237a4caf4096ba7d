#!/usr/bin/env bash
# tests/asyncapi/run.sh - validate schemas/asyncapi.yaml with the AsyncAPI
# parser from npm (@asyncapi/parser + @asyncapi/avro-schema-parser, pinned
# by tests/asyncapi/package-lock.json) and check it against the topic list
# and schemas/registry.tsv (check.mjs).
#
# Usage: tests/asyncapi/run.sh BUILD_DIR
#
# Installs the packages once into BUILD_DIR/node-asyncapi with `npm ci`
# (node and npm: scripts/install-deps.sh); a change of the lock reinstalls.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
dir=$build/node-asyncapi
for tool in node npm; do
        command -v "$tool" >/dev/null || {
                echo "run.sh: $tool not found (scripts/install-deps.sh)" >&2
                exit 2
        }
done
stamp="$dir/.sr-asyncapi.$(cksum <"$here/package-lock.json" | cut -d' ' -f1)"
(
        mkdir -p "$dir"
        if command -v flock >/dev/null; then
                exec 9>"$dir.lock"
                flock 9
        fi
        if [[ ! -e $stamp ]]; then
                cp "$here/package.json" "$here/package-lock.json" "$dir/"
                npm ci --prefix "$dir" --ignore-scripts --no-audit \
                        --no-fund --loglevel=error >&2
                touch "$stamp"
        fi
) || { echo "run.sh: npm ci failed" >&2; exit 2; }
cp "$here/check.mjs" "$dir/check.mjs"
exec node "$dir/check.mjs" "$(cd "$here/../.." && pwd)"
