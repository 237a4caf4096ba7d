#!/usr/bin/env bash
# tests/asyncapi/run.sh - validate schemas/asyncapi.yaml with the AsyncAPI
# parser from npm (@asyncapi/parser + @asyncapi/avro-schema-parser, pinned
# by tests/asyncapi/package-lock.json) and check it against the topic list
# and schemas/registry.tsv (check.mjs).
#
# Usage: tests/asyncapi/run.sh BUILD_DIR
#
# Installs the packages once into BUILD_DIR/node-asyncapi with `npm ci`
# (tests/lib/npm_ci.sh; node and npm: scripts/install-deps.sh); a change
# of the lock reinstalls.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
dir=$build/node-asyncapi
"$here/../lib/npm_ci.sh" "$here" "$dir"
cp "$here/check.mjs" "$dir/check.mjs"
exec node "$dir/check.mjs" "$(cd "$here/../.." && pwd)"
