#!/usr/bin/env bash
# tests/chaos/broken_worker.sh BUILD_DIR - build a deliberately broken
# sr-status into BUILD_DIR/chaos-broken/sr-status, to show that the chaos
# checker catches a broken protocol:
#   chaos.py --build BUILD_DIR --status-bin BUILD_DIR/chaos-broken/sr-status
# The bug: on assignment the worker trusts any local snapshot it has,
# without comparing the changelog end offset it recorded with the
# changelog's real end (docs/guarantee.md, "Assignment and restore"). A
# worker that gets a partition back after another worker worked on it then
# continues from stale state. Nothing in the source tree is changed.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
out="$build/chaos-broken"
mkdir -p "$out"
# the file of the worker that decides trust-or-restore (assign_one())
sed 's/if ((have \&\& pm.changelog_end == high) || (!have \&\& high == 0)) {/if (have || high == 0) { \/* CHAOS: deliberately broken *\//' \
        "$src/common/status/sr_worker_restore.c" >"$out/sr_worker_restore.c"
grep -q "CHAOS: deliberately broken" "$out/sr_worker_restore.c" ||
        { echo "broken_worker.sh: the patch no longer applies" >&2; exit 1; }
incs=()
for d in "$src"/common/*/; do incs+=(-I"$d"); done
cc -D_GNU_SOURCE "${incs[@]}" -I"$build/generated" -isystem /usr/include/uuid \
        -O2 -g -std=c11 -c "$out/sr_worker_restore.c" \
        -o "$out/sr_worker_restore.o"
# the patched object wins over the archive's copy
cc -o "$out/sr-status" "$build/CMakeFiles/sr-status.dir/workers/status/main.c.o" \
        "$out/sr_worker_restore.o" "$build"/common/libsr_status.a \
        "$build"/common/libsr_io.a "$build"/common/libsr_codec.a \
        "$build"/common/libsr_domain.a "$build"/common/libsr_base.a \
        -lrdkafka -llmdb -lavro -luuid -ljansson -lm -lpthread
echo "$out/sr-status"
