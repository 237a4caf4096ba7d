#!/usr/bin/env bash
# tests/api/schemathesis.sh - property-based tests of sr-gateway against the
# OpenAPI document it serves.
#
# Usage: tests/api/schemathesis.sh BUILD_DIR
#
# Creates BUILD_DIR/venv-st once (python3 -m venv) and installs a pinned
# schemathesis from PyPI into it; a change of the pins below reinstalls.
# Starts BUILD_DIR/sr-dev (agent on, ephemeral port, temporary data dir),
# seeds a pipeline run before each pass (tests/api/schemathesis_seed.py)
# so that by-id requests find real entities, then runs schemathesis against
# http://127.0.0.1:PORT/openapi.json in three passes:
#   1. server "/": every operation; phases examples, coverage, fuzzing;
#   2. server "/": the stateful phase alone (about 15 s), which chains
#      the document's links (createRun -> getRun, updateRun,
#      getPipelineRun, listStageRuns, deleteRun, deletePipelineRun)
#      through real run ids; run together with the other phases it
#      once followed 1 of 4 links, alone every one;
#   3. server "/api/pipelines": the /v0/ operations (the operations
#      endpoints override servers with "/" only); no stateful phase.
# Checks: no 5xx, status
# code, content type, headers and body as documented, invalid input
# refused, required headers and auth enforced, 405 with Allow.
# positive_data_acceptance is off: a schema-valid PUT is refused by the
# state machine (400 illegal_transition, documented) whenever the entity's
# status does not allow it, which random data hits all the time.
#
# Bounded: --max-examples per operation, each pass under a hard timeout;
# about 3-4 minutes on 2 cores once the venv exists. sr-dev is always
# stopped. Prints a summary; exits 0 when no pass found anything, 1
# otherwise (2 on a setup failure). Needs python3 with venv, and PyPI the
# first time.
#
# Environment (not SR_*: sr-dev takes those for config keys): API_ST_SEED
# (default 20240501) the Hypothesis seed, or "random"; API_ST_EXAMPLES
# (default 60; 100 until 2026-12-07, when pass 1 took 198 s and pass 2
# 80 s of a test command over its 60-minute budget) max examples per
# operation in pass 1, half of it in pass 2;
# API_ST_PASSES (default "pass1 stateful pass2") the passes to run, in
# that order (the https run takes pass1 alone: the transport is what it
# adds, the other passes check the same routes again over it);
# API_ST_KEEP=1 keeps the work dir (logs, reports); API_ST_HTTPS=1 runs
# the gateway over https (a key and self-signed certificate made with
# openssl req -x509 in the work dir, gateway.tls.cert.file and
# gateway.tls.key.file; schemathesis verifies against that certificate).
#
# The API token is a random one (SR_API_TOKENS), and the run fails when it
# appears anywhere in sr-dev's log (every worker's and the gateway's):
# tokens are never logged.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:?usage: schemathesis.sh BUILD_DIR}" && pwd)
venv=$build/venv-st
seed=${API_ST_SEED:-20240501}
examples=${API_ST_EXAMPLES:-60}
passes=" ${API_ST_PASSES:-pass1 stateful pass2} "
for p in $passes; do
        case $p in
        pass1|stateful|pass2) ;;
        *) echo "schemathesis.sh: API_ST_PASSES: unknown pass '$p'" \
                "(pass1, stateful, pass2)" >&2; exit 2 ;;
        esac
done
# The stateful phase's scenarios: the stored definitions' links chain four
# deep (pipeline -> stage -> list or operation list -> targets or
# operations), which 100 scenarios did not all reach (19 of 36 links).
# At least 500 (15 s: 42 of 43 links; 300 reached 41).
stateful_examples=${API_ST_STATEFUL_EXAMPLES:-$((examples * 5 > 500 ? examples * 5 : 500))}
# pass1 took 130-150 s on this machine (2026-12-07, with the stored
# pipelines' runs), 206 s alone once POST .../targetruns/ was added, and
# pass2 83 s; beside the integration tests of the test command (ctest
# -j2) pass2 ran over its 110 s. The limits leave room for that.
pass1_limit_s=330
stateful_limit_s=90
pass2_limit_s=180

# schemathesis and everything it pulls in, pinned (pip freeze of a clean
# install on Python 3.11), so every run tests with the same generator.
pins=(
        schemathesis==4.32.5
        anyio==4.16.0
        certifi==2026.10.19.post1
        charset-normalizer==3.5.3
        click==8.5.1
        graphql-core==3.3.2
        harfile==0.6.0
        hypothesis==6.170.17
        hypothesis-graphql==0.13.5
        idna==3.20
        iniconfig==2.3.1
        jsonschema_rs==0.60.3
        markdown-it-py==4.3.0
        MarkupSafe==3.0.4
        mdurl==0.1.2
        packaging==26.4
        pluggy==1.7.0
        Pygments==2.21.0
        pyrate-limiter==4.5.1
        pytest==9.2.0
        PyYAML==6.0.4
        requests==2.34.2
        rich==15.0.0
        sortedcontainers==2.4.0
        typing_extensions==4.16.0
        urllib3==2.8.0
        Werkzeug==3.1.9
)
pins_sum=$(printf '%s\n' "${pins[@]}" | cksum | cut -d' ' -f1)
stamp=$venv/.sr-schemathesis.$pins_sum

checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_schema_conformance,response_headers_conformance
checks+=,negative_data_rejection,missing_required_header,ignored_auth
checks+=,unsupported_method,allow_header_conformance
checks+=,use_after_free,ensure_resource_availability

say() { printf 'schemathesis.sh: %s\n' "$*"; }

setup() {
        if [[ ! -x $venv/bin/python ]]; then
                python3 -m venv "$venv" || {
                        say "cannot create venv $venv" >&2
                        return 1
                }
        fi
        if [[ ! -e $stamp ]]; then
                if ! log=$("$venv/bin/python" -m pip install --quiet \
                        --disable-pip-version-check --no-input \
                        "${pins[@]}" 2>&1); then
                        say "pip install failed:" >&2
                        echo "$log" >&2
                        return 1
                fi
                touch "$stamp"
        fi
}

if [[ ! -x $build/sr-dev ]]; then
        say "no $build/sr-dev: build it first" >&2
        exit 2
fi
t_start=$SECONDS
(
        # Other runs may share the venv: one installer at a time.
        if command -v flock >/dev/null; then
                exec 9>"$venv.lock"
                flock 9
        fi
        setup
) || exit 2
t_setup=$((SECONDS - t_start))

work=$(mktemp -d "${TMPDIR:-/tmp}/sr-schemathesis.XXXXXX")
dev_pid=

stop_dev() {
        [[ -n $dev_pid ]] || return 0
        kill -TERM "$dev_pid" 2>/dev/null || true
        for _ in $(seq 100); do
                kill -0 "$dev_pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$dev_pid" 2>/dev/null; then
                say "sr-dev did not stop on SIGTERM; killing it" >&2
                kill -KILL "$dev_pid" 2>/dev/null || true
        fi
        wait "$dev_pid" 2>/dev/null || true
        dev_pid=
}

cleanup() {
        stop_dev
        if [[ ${API_ST_KEEP:-0} == 1 ]]; then
                say "work dir kept: $work"
        else
                rm -rf "$work"
        fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dev_failed() {
        say "$1; sr-dev's last log lines:" >&2
        tail -n 30 "$work/dev.err" >&2 || true
        exit 2
}

# A token of our own, unguessable, so that the grep below finds only it.
token=st-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
tls_args=() tls_verify=() seed_env=()
if [[ ${API_ST_HTTPS:-0} == 1 ]]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
                -nodes -days 1 -subj /CN=localhost \
                -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
                -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null ||
                { say "openssl req failed" >&2; exit 2; }
        tls_args=(-D "gateway.tls.cert.file=$work/cert.pem"
                  -D "gateway.tls.key.file=$work/key.pem")
        tls_verify=(--tls-verify "$work/cert.pem")
        seed_env=("SSL_CERT_FILE=$work/cert.pem")
fi
mkdir "$work/data"
SR_API_TOKENS="$token:dev" "$build/sr-dev" --data-dir "$work/data" \
        --workers 1 --partitions 4 --agent on --http-port 0 \
        "${tls_args[@]}" >"$work/dev.out" 2>"$work/dev.err" &
dev_pid=$!
for _ in $(seq 600); do
        grep -q '^ready' "$work/dev.out" && break
        kill -0 "$dev_pid" 2>/dev/null || dev_failed "sr-dev exited"
        sleep 0.1
done
grep -q '^ready' "$work/dev.out" || dev_failed "sr-dev not ready in 60 s"
base=$(sed -n 's/^http=//p' "$work/dev.out")
[[ -n $base ]] || dev_failed "no http= line"
if [[ ${API_ST_HTTPS:-0} == 1 && $base != https://* ]]; then
        dev_failed "gateway.tls.* given but sr-dev announced $base"
fi
say "sr-dev ready: $base"

# The configuration with a freshly seeded run (ids bound to the path
# parameters), written before each pass: a pass may cancel and then
# delete the seed run (the bindings give the DELETEs a run of their own,
# but a run's id also comes back in answers), which left the next pass
# with 15 operations answering only 404 (6 without the DELETEs).
write_config() {
        {
                cat <<'EOF'
# Written by tests/api/schemathesis.sh.
# Links come from the document and Location headers only: the dependency
# analysis took the schema id that the Schema Registry's POST
# /subjects/{s}/versions answers (as Confluent's does) for a {version}
# of GET .../versions/{version} and reported it "not available".
[phases.stateful.inference]
algorithms = ["location-headers"]

# A scenario's steps: the stored definitions' links chain up to seven
# deep (create pipeline -> stage -> operation list -> operation -> read ->
# update -> delete), and a stored pipeline's run adds its own; the
# default of 6 left links untaken, 16 left six of 39 (2026-12-07: 33 or
# 34 covered at seeds 20240501, 2, 3), 32 three (36), in 16-18 s.
[phases.stateful]
max-steps = 32
[phases.stateful.generation]
max-examples = 2000

EOF
                env "${seed_env[@]}" "$venv/bin/python" \
                        "$here/schemathesis_seed.py" "$base" "$token"
        } >"$work/schemathesis.toml" || dev_failed "seeding failed"
        # Stored definitions are tested once the workers apply their
        # commands (the seed could create a pipeline); until then their
        # operations are left out (tests/api/schemathesis_seed.py).
        def_excludes=()
        if grep -q '^# definitions: unavailable' "$work/schemathesis.toml"
        then
                def_excludes=(--exclude-tag Pipelines --exclude-tag Stages
                        --exclude-tag "Target Lists"
                        --exclude-tag "Operation Lists"
                        --exclude-tag "Pipeline Operations"
                        --exclude-tag Targets
                        --exclude-tag "Device Groups")
                say "stored definitions not applied by the workers: $(
                        sed -n 's/^# definitions: unavailable //p' \
                                "$work/schemathesis.toml"); their operations are left out"
        fi
}

# --workers 1: Python 3.11 before 3.11.8 can raise a spurious SystemError
# ("AST constructor recursion depth mismatch", CPython gh-106905) when
# Hypothesis parses lambdas in two threads at once.
# --output-sanitize false: the token is sr-dev's public dev-token, and a
# failure must show the Idempotency-Key it was sent to be reproducible.
run_pass() { # LOG NAME LIMIT_S ARGS...
        local log=$work/$1.log name=$2 limit=$3 rc=0 t0=$SECONDS
        shift 3
        (cd "$work" && timeout --kill-after=10 "$limit" \
                "$venv/bin/schemathesis" \
                --config-file "$work/schemathesis.toml" run \
                "$base/openapi.json" \
                --header "Authorization: Bearer $token" \
                --checks "$checks" --workers 1 --no-color \
                --output-sanitize false --generation-database none \
                "${tls_verify[@]}" "$@") >"$log" 2>&1 || rc=$?
        case $rc in
        0) ;;
        124|137) echo "(killed after $limit s)" >>"$log" ;;
        esac
        # A pass killed by its limit printed no summary: the grep finds
        # nothing, which must not end the script (set -e) before it says
        # so and shows the pass's output.
        results+=("$name: $(pass_verdict "$rc") in $((SECONDS - t0)) s; $(
                { grep -E '^ *([0-9]+ generated|Scenarios:|API Links:)' \
                        "$log" || true; } | sed 's/^ *//; s/  */ /g' |
                tail -n 2 | paste -sd ';' - | sed 's/;/; /g')")
        if [[ $rc != 0 ]]; then
                failed=1
                echo "=== $name: schemathesis output"
                cat "$log"
        fi
}

pass_verdict() {
        case $1 in
        0) echo "ok" ;;
        124|137) echo "TIMED OUT" ;;
        *) echo "FAILED (exit $1)" ;;
        esac
}

seed_args=()
[[ $seed == random ]] || seed_args=(--seed "$seed")
results=()
failed=0
# The watch API (tag Watch) streams until a run ends or the client leaves:
# api.watch tests it; a fuzzer waiting for whole answers cannot.
if [[ $passes == *" pass1 "* ]]; then
        write_config
        run_pass pass1 "server /" "$pass1_limit_s" --exclude-tag Watch \
                "${def_excludes[@]}" --phases examples,coverage,fuzzing \
                --max-examples "$examples" "${seed_args[@]}"
fi
if [[ $passes == *" stateful "* ]]; then
        write_config
        run_pass stateful "server /, stateful" "$stateful_limit_s" \
                --exclude-tag Watch "${def_excludes[@]}" --phases stateful \
                --max-examples "$stateful_examples" "${seed_args[@]}"
        # Every link must have been followed: one that is never taken
        # names ids the answers do not give.
        links=$(sed -n 's/^ *API Links: *\([0-9]*\) covered \/ *\([0-9]*\) selected.*/\1 \2/p' \
                "$work/stateful.log" | tail -n 1)
        # Known gap (2026-12-07): of the 39 links, the three from
        # createOperation (getOperation, updateOperation, deleteOperation)
        # stay untaken: found by listing schemathesis's covered links (its
        # output handler, patched for one run) at seeds 20240501, 2 and 3,
        # max-steps 32: every other link was taken in each. The chain to
        # them is the longest (pipeline, stage, operation list, operation,
        # then the link). Until they are reached, up to three untaken links
        # are reported, not failed; four or more fail.
        known_untaken=3
        if [[ -z $links || ${links% *} == 0 ||
              $(( ${links#* } - ${links% *} )) -gt $known_untaken ]]; then
                failed=1
                results+=("stateful links: FAILED: covered / selected = ${links:-none}")
        elif [[ ${links% *} != "${links#* }" ]]; then
                results+=("stateful links: $(( ${links#* } - ${links% *} )) not taken (the known gap: createOperation's three): covered / selected = $links")
        fi
fi
if [[ $passes == *" pass2 "* ]]; then
        write_config
        run_pass pass2 "server /api/pipelines" "$pass2_limit_s" \
                --url "$base/api/pipelines" --include-path-regex '^/v0/' \
                --exclude-tag Watch "${def_excludes[@]}" \
                --phases examples,coverage,fuzzing \
                --max-examples "$((examples / 2 > 1 ? examples / 2 : 1))" \
                "${seed_args[@]}"
fi
stop_dev

# Tokens are never logged: not ours, after every request of every pass
# (stderr: every child's log; stdout is sr-dev's announcement, which
# names the token on purpose).
if grep -q -F -- "$token" "$work/dev.err"; then
        failed=1
        results+=("token grep: FAILED: the API token is in sr-dev's log:")
        while IFS= read -r l; do
                results+=("  ${l//$token/<token>}")
        done < <(grep -n -F -- "$token" "$work/dev.err" | head -n 5)
else
        results+=("token grep: ok, the API token is in none of the $(
                wc -l <"$work/dev.err") lines of sr-dev's log")
fi

echo "schemathesis 4.32.5 against sr-gateway's /openapi.json" \
     "(seed $seed, $examples examples per operation; setup ${t_setup} s," \
     "total $((SECONDS - t_start)) s):"
printf '  %s\n' "${results[@]}"
echo "  checks: ${checks//,/, }"
if [[ $failed != 0 ]]; then
        echo "FAILED: see the schemathesis output above (API_ST_KEEP=1 keeps" \
             "$work)"
        exit 1
fi
echo "OK: no failure in any pass"
