#!/usr/bin/env bash
# tests/ui/run.sh - the console (/ui/) in a real browser: Debian's Chromium
# (scripts/install-deps.sh) driven by playwright-core from npm (pinned by
# tests/ui/package-lock.json) against sr-dev; see console.mjs.
#
# Usage: tests/ui/run.sh BUILD_DIR
#
# Installs the package once into BUILD_DIR/node-ui with `npm ci`
# (tests/lib/npm_ci.sh: no install scripts, so no browser download; the
# system's /usr/bin/chromium is used); a change of the lock reinstalls.
# Screenshots go to BUILD_DIR/ui-test/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
dir=$build/node-ui
[[ -x /usr/bin/chromium ]] || {
        echo "run.sh: /usr/bin/chromium not found (scripts/install-deps.sh)" >&2
        exit 2
}
"$here/../lib/npm_ci.sh" "$here" "$dir"
cp "$here/console.mjs" "$dir/console.mjs"
exec node "$dir/console.mjs" "$build" "$(cd "$here/../.." && pwd)"
