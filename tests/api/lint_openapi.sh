#!/usr/bin/env bash
# tests/api/lint_openapi.sh - validate schemas/openapi.json.
#
# Usage: tests/api/lint_openapi.sh VENV_DIR [OPENAPI_JSON]
#
# Creates VENV_DIR once (python3 -m venv) and installs a pinned OpenAPI 3.1
# validator from PyPI into it; a change of the pins below reinstalls. Then
# runs openapi-spec-validator (the OpenAPI 3.1 meta-schema and reference
# checks) and tests/api/check_openapi.py (the project's rules: envelope,
# security, api.md paths, ...). Prints one OK line and exits 0, or prints
# what is wrong and exits 1. Needs python3 with venv, and PyPI the first
# time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${1:?usage: lint_openapi.sh VENV_DIR [OPENAPI_JSON]}
doc=${2:-$root/schemas/openapi.json}

# The validator and everything it pulls in, pinned (pip freeze of a clean
# install on Python 3.11), so the lint gives the same verdict everywhere.
pins=(
        openapi-spec-validator==0.9.0
        openapi-schema-validator==0.9.0
        annotated-types==0.8.0
        attrs==26.1.0
        jsonschema==4.26.0
        jsonschema-path==0.5.0
        jsonschema-specifications==2025.9.1
        lazy-object-proxy==1.13.0
        pathable==0.6.0
        pydantic==2.14.4
        pydantic-settings==2.16.3
        pydantic_core==2.50.5
        python-dotenv==1.2.4
        PyYAML==6.0.4
        referencing==0.37.0
        rfc3339-validator==0.1.4
        rpds-py==2026.9.1
        six==1.17.0
        typing-inspection==0.4.5
        typing_extensions==4.16.0
)
stamp="$venv/.sr-openapi-lint.$(printf '%s\n' "${pins[@]}" | cksum | cut -d' ' -f1)"

setup() {
        if [[ ! -x $venv/bin/python ]]; then
                python3 -m venv "$venv" || {
                        echo "lint_openapi: cannot create venv $venv" >&2
                        return 1
                }
        fi
        if [[ ! -e $stamp ]]; then
                if ! log=$("$venv/bin/python" -m pip install --quiet \
                        --disable-pip-version-check --no-input \
                        "${pins[@]}" 2>&1); then
                        echo "lint_openapi: pip install failed:" >&2
                        echo "$log" >&2
                        return 1
                fi
                touch "$stamp"
        fi
}

mkdir -p "$(dirname "$venv")"
# Other tests may share the venv: one installer at a time.
if command -v flock >/dev/null; then
        exec 9>"$venv.lock"
        flock 9
fi
setup

[[ -r $doc ]] || { echo "lint_openapi: cannot read $doc" >&2; exit 1; }

if ! out=$("$venv/bin/openapi-spec-validator" --schema 3.1 "$doc" 2>&1); then
        echo "lint_openapi: openapi-spec-validator rejects $doc:"
        # Some messages quote the whole document: keep each line short.
        printf '%s\n' "$out" | cut -c1-400
        exit 1
fi
if ! out=$("$venv/bin/python" "$here/check_openapi.py" "$doc" 2>&1); then
        echo "lint_openapi: project rules broken:"
        echo "$out"
        exit 1
fi
echo "OK: $(basename "$doc") is valid OpenAPI 3.1 and follows the project rules (openapi-spec-validator 0.9.0, check_openapi.py)"
