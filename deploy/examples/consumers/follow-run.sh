#!/bin/sh
# deploy/examples/consumers/follow-run.sh - follow one pipeline run over
# Server-Sent Events: one JSON status-change event per line, from the
# run's first event (or after seq $3) until the run is final and every
# event was sent; then curl ends.
#   SR=http://127.0.0.1:8080 TOKEN=dev-token follow-run.sh RUN_ID [LAST_SEQ]
# The one-liner inside:
#   curl -sN -H "Authorization: Bearer $TOKEN" "$SR/v0/runs/$RUN/events/" | sed -n 's/^data: \({.*"seq".*\)/\1/p'
set -eu
run=$1
curl -sN -H "Authorization: Bearer ${TOKEN:?}" -H "Last-Event-ID: ${2:-0}" \
     "${SR:?}/v0/runs/$run/events/" | sed -n 's/^data: \({.*"seq".*\)/\1/p'
