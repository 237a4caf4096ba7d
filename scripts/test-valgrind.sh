#!/usr/bin/env bash
# The workers under valgrind on the happy path.
#   scripts/test-valgrind.sh [BUILD_DIR]        (default build-vg)
# Builds the workers (gcc, no sanitizers) into BUILD_DIR, starts sr-dev
# (mock broker in-process, 1 status worker, the agent, the gateway) with
# SR_TEST_DEV_WRAP so that every child (sr-status, sr-agent, sr-gateway) runs
# under valgrind --leak-check=full --errors-for-leak-kinds=definite, starts
# two runs through the gateway (one auto-promoted to success, one promoted
# by hand with a PUT, plus lists and reads), waits until the agent made them
# succeed, stops sr-dev with SIGTERM (it stops its children with SIGTERM)
# and fails unless every child's valgrind log ends with 0 errors.
# sr-dev itself (librdkafka's mock cluster) is not under valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build-vg}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSR_WERROR=ON >/dev/null
ninja -C "$build" -j "${SR_JOBS:-2}" sr-dev sr-status sr-agent sr-gateway

tmp=$(mktemp -d /tmp/sr-vg.XXXXXX)
dev_pid=
cleanup() {
        if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then
                kill -TERM "$dev_pid" 2>/dev/null || true
                wait "$dev_pid" 2>/dev/null || true
        fi
        [ -n "${SR_TEST_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
        echo "test-valgrind: $*" >&2
        echo "---- sr-dev output (tail)" >&2
        tail -n 40 "$tmp/dev.err" >&2 || true
        exit 1
}

export SR_TEST_DEV_WRAP="valgrind --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite --show-leak-kinds=definite \
--num-callers=40 --suppressions=$src/tests/fuzz/valgrind.supp \
--log-file=$tmp/vg.%p.log"
export SR_API_TOKENS=vg-token:vg
"$build/sr-dev" --workers 1 --agent on --partitions 2 --http-port 0 \
        --data-dir "$tmp/data" >"$tmp/dev.out" 2>"$tmp/dev.err" &
dev_pid=$!
for _ in $(seq 600); do
        grep -q '^ready ' "$tmp/dev.out" && break
        kill -0 "$dev_pid" 2>/dev/null || fail "sr-dev exited before ready"
        sleep 0.5
done
grep -q '^ready ' "$tmp/dev.out" || fail "sr-dev not ready in 300 s"
base=$(sed -n 's/^http=//p' "$tmp/dev.out" | head -n1)
[ -n "$base" ] || fail "no http= line"
auth="Authorization: Bearer vg-token"
ct="Content-Type: application/json"

api() { # METHOD PATH [BODY] -> body on stdout; fails on non-2xx
        local out code
        out=$(curl -sS -m 60 -X "$1" -H "$auth" ${3:+-H "$ct" --data "$3"} \
                   -w '\n%{http_code}' "$base$2") || fail "curl $1 $2"
        code=${out##*$'\n'}
        case $code in 2??) printf '%s\n' "${out%$'\n'*}" ;;
        *) fail "$1 $2 -> $code: ${out%$'\n'*}" ;; esac
}
pid=$(jq -r .pipeline_id "$src/deploy/examples/canary.json")
status_of() { api GET "/v0/pipelines/$pid/runs/$1/" | jq -r .content.status; }
wait_status() { # RUN_ID STATUS
        local s=
        for _ in $(seq 300); do
                s=$(status_of "$1")
                [ "$s" = "$2" ] && return 0
                sleep 1
        done
        fail "run $1 is $s, not $2, after 300 s"
}

# Run 1: auto promoted, every device answers success through the agent.
spec=$(jq -c '.auto_promote = true' "$src/deploy/examples/canary.json")
run1=$(api POST /v0/runs/ "$spec" | jq -r .content.id)
wait_status "$run1" success
api GET "/v0/runs/$run1/stageruns/" >/dev/null
stage=$(api GET "/v0/runs/$run1/stageruns/" | jq -r '.content.results[0].id')
api GET "/v0/stageruns/$stage/targetruns/?ordering=-status" >/dev/null
api GET "/v0/stageruns/$stage/operations/" >/dev/null

# Run 2: waits for a promotion, promoted with PUT, then succeeds.
run2=$(api POST /v0/runs/ "$(cat "$src/deploy/examples/canary.json")" |
       jq -r .content.id)
wait_status "$run2" waiting
stage2=$(api GET "/v0/runs/$run2/stageruns/" |
         jq -r '.content.results[] | select(.status == "pending") | .id' |
         head -n1)
api PUT "/v0/runs/$run2/stageruns/$stage2/" '{"status":"queued"}' >/dev/null
wait_status "$run2" success
api GET "/v0/runs/?status=success&ordering=-run_number" >/dev/null
api GET "/v0/pipelines/$pid/runs/?limit=1&offset=1" >/dev/null

# Stop: sr-dev sends SIGTERM to each child and waits for it.
kill -TERM "$dev_pid"
wait "$dev_pid" || fail "sr-dev exited with $?"
dev_pid=
grep -q "did not stop in time" "$tmp/dev.err" &&
        fail "a child did not stop in time (SIGKILL: no valgrind summary)"

rc=0
n=0
for log in "$tmp"/vg.*.log; do
        [ -e "$log" ] || fail "no valgrind logs"
        cmd=$(sed -n 's/^==[0-9]*== Command: \([^ ]*\).*/\1/p' "$log" |
              head -n1)
        n=$((n + 1))
        if grep -q "ERROR SUMMARY: 0 errors" "$log"; then
                echo "test-valgrind: $(basename "$cmd"): 0 errors," \
                     "$(grep -o 'definitely lost: [0-9,]* bytes' "$log" |
                        head -n1 || echo 'no leaks')"
        else
                echo "test-valgrind: $(basename "$cmd") ($log):" >&2
                sed -n '/^==[0-9]*== [^ ]/,$p' "$log" | tail -n 120 >&2
                rc=1
        fi
done
[ "$n" -ge 3 ] || fail "expected 3 valgrind logs, got $n"
[ $rc -eq 0 ] && echo "test-valgrind: OK ($n processes)"
exit $rc
