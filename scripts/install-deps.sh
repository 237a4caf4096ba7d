#!/usr/bin/env bash
# Install the Debian 12 packages the project builds and tests with.
# Idempotent: does nothing when everything is already installed.
# Everything it prints goes to stderr: ./dev.sh's stdout carries only the
# lines scripts read (bootstrap.servers=, http=, token=, ready).
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config
      librdkafka-dev libavro-dev liblmdb-dev lmdb-utils libcriterion-dev
      libpq-dev postgresql-15
      libjansson-dev uuid-dev libssl-dev openssl python3 python3-venv curl
      wrk valgrind clang libclang-rt-14-dev
      openjdk-17-jdk-headless maven
      systemd prometheus strace nodejs
      chromium fonts-liberation)
# chromium, fonts-liberation: the console's browser test (tests/ui/run.sh),
# headless, and the text of its screenshots
# npm (tests/asyncapi/run.sh): Debian's package, unless the nodejs
# installed already carries its own (NodeSource's does).
command -v npm >/dev/null || pkgs+=(npm)
# Go (tests/deploy/deploy_tools.sh builds Helm from its Go module): a Go
# already installed (on PATH or /usr/local/go) is used; else Debian's
# golang-go (1.19), which fetches the Go toolchain Helm needs from the Go
# module proxy.
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || pkgs+=(golang-go)

missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
                grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >&2
