#!/usr/bin/env bash
# Installs what cfaas needs on Debian 12, and nothing that is already there.
# Usage: scripts/install-deps.sh [build|test|all]
#   build  compiler and libraries (what `make` needs)
#   test   build + what the test suites need (nats-server, python3-pytest, curl)
#   all    test + what the container and browser suites need
# Idempotent and quiet when everything is present.
set -euo pipefail

group=${1:-build}

build_pkgs=(gcc make pkg-config libc6-dev
    libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
    libnats-dev libyaml-dev check)
test_pkgs=(nats-server python3 python3-pytest curl procps)
all_pkgs=(podman runc busybox-static debootstrap chromium nodejs npm)

want=("${build_pkgs[@]}")
case "$group" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
all) want+=("${test_pkgs[@]}" "${all_pkgs[@]}") ;;
*) echo "install-deps: unknown group '$group' (build, test or all)" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
# A stale or absent package list makes apt-get install fail; refresh it once.
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
