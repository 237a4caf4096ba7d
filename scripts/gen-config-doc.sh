#!/usr/bin/env bash
# Regenerate README.md's configuration table from the config table itself:
#   scripts/gen-config-doc.sh build/sr-status          (rewrite README.md)
#   scripts/gen-config-doc.sh build/sr-status --check  (fail if it differs)
set -euo pipefail
bin=$1
mode=${2:-write}
readme="$(dirname "$0")/../README.md"
table=$("$bin" --list-config-md)
new=$(awk -v table="$table" '
        /<!-- config:begin -->/ { print; print table; skip = 1; next }
        /<!-- config:end -->/ { skip = 0 }
        !skip { print }' "$readme")
if [ "$mode" = "--check" ]; then
        if [ "$new" != "$(cat "$readme")" ]; then
                echo "README.md configuration table is stale: run scripts/gen-config-doc.sh $bin" >&2
                exit 1
        fi
        echo "README.md configuration table matches $bin --list-config-md"
        exit 0
fi
printf '%s\n' "$new" > "$readme"
