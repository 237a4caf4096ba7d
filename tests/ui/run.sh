#!/usr/bin/env bash
# tests/ui/run.sh - the console (/ui/) in a real browser: Debian's Chromium
# (scripts/install-deps.sh) driven by playwright-core from npm (pinned by
# tests/ui/package-lock.json) against sr-dev; see console.mjs.
#
# Usage: tests/ui/run.sh BUILD_DIR
#
# Installs the package once into BUILD_DIR/node-ui with `npm ci` (no
# browser download: --ignore-scripts, the system's /usr/bin/chromium is
# used); a change of the lock reinstalls. Screenshots go to BUILD_DIR/ui-test/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
dir=$build/node-ui
for tool in node npm /usr/bin/chromium; do
        command -v "$tool" >/dev/null || {
                echo "run.sh: $tool not found (scripts/install-deps.sh)" >&2
                exit 2
        }
done
stamp="$dir/.sr-ui.$(cksum <"$here/package-lock.json" | cut -d' ' -f1)"
(
        mkdir -p "$dir"
        if command -v flock >/dev/null; then
                exec 9>"$dir.lock"
                flock 9
        fi
        if [[ ! -e $stamp ]]; then
                cp "$here/package.json" "$here/package-lock.json" "$dir/"
                PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
                npm ci --prefix "$dir" --ignore-scripts --no-audit \
                        --no-fund --loglevel=error >&2
                touch "$stamp"
        fi
) || { echo "run.sh: npm ci failed" >&2; exit 2; }
cp "$here/console.mjs" "$dir/console.mjs"
exec node "$dir/console.mjs" "$build" "$(cd "$here/../.." && pwd)"
