#!/usr/bin/env bash
# tests/lib/npm_ci.sh SRC DEST - install the npm packages SRC/package.json
# and SRC/package-lock.json pin into DEST with `npm ci` (no install
# scripts), once: a stamp named after the lock's checksum skips the next
# call, a change of the lock reinstalls; concurrent calls wait on a lock
# file. For the test scripts that use npm packages (tests/asyncapi/run.sh,
# tests/ui/run.sh); node and npm come from scripts/install-deps.sh.
set -euo pipefail

src=${1:?usage: npm_ci.sh SRC DEST}
dir=${2:?usage: npm_ci.sh SRC DEST}
for tool in node npm; do
        command -v "$tool" >/dev/null || {
                echo "npm_ci.sh: $tool not found (scripts/install-deps.sh)" >&2
                exit 2
        }
done
stamp="$dir/.sr-npm.$(cksum <"$src/package-lock.json" | cut -d' ' -f1)"
(
        mkdir -p "$dir"
        if command -v flock >/dev/null; then
                exec 9>"$dir.lock"
                flock 9
        fi
        if [[ ! -e $stamp ]]; then
                cp "$src/package.json" "$src/package-lock.json" "$dir/"
                npm ci --prefix "$dir" --ignore-scripts --no-audit \
                        --no-fund --loglevel=error >&2
                touch "$stamp"
        fi
) || { echo "npm_ci.sh: npm ci in $dir failed" >&2; exit 2; }
