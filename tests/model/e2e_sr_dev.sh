#!/bin/sh
# A few runs on a running sr-dev (agent on), then dump and check:
#   tests/model/e2e_sr_dev.sh BUILD_DIR BOOTSTRAP OUT_DIR
set -eu
B=$1; BOOT=$2; OUT=$3
HERE=$(dirname "$0")
C="$B/sr-cli -b $BOOT"
SPEC="$HERE/../../deploy/examples/canary.json"
mkdir -p "$OUT"
R1=$($C run "$SPEC" | cut -d= -f2)
R2=$($C run "$SPEC" | cut -d= -f2)
R3=$($C run "$SPEC" | cut -d= -f2)
sleep 3                                  # stage 1 runs, the runs wait
stage2() { python3 -c "import sys; sys.path.insert(0, '$HERE'); import srmodel; print(srmodel.v5('$1/stage/1'))"; }
PIPE=$(python3 -c "import json; print(json.load(open('$SPEC'))['pipeline_id'])")
$C delete "$R1" "$PIPE"                  # refused: R1 waits, not finished
$C promote "$R1" "$(stage2 "$R1")"       # promote: stage 2 runs to success
$C cancel "$R2"                          # cancel a waiting run
$C cancel "$R3" "$(stage2 "$R3")"        # cancel a pending stage: run fails
$C promote "$R3" "$(stage2 "$R3")"       # refused: stage 2 is cancelled
sleep 4
$C delete "$R2" "$PIPE"                  # R2 cancelled, all final: deleted
$C delete "$R3" "$R1"                    # refused: not R3's pipeline
sleep 2
for t in commands events dlq; do $C dump $t > "$OUT/$t.jsonl"; done
python3 "$HERE/check_stream.py" --commands "$OUT/commands.jsonl" \
        --events "$OUT/events.jsonl" --dlq "$OUT/dlq.jsonl"
