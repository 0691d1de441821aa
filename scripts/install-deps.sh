#!/usr/bin/env bash
# Installs what cfaas needs on Debian 12, and nothing that is already there.
# Usage: scripts/install-deps.sh [build|run|test]
#   build  compiler and libraries (what `make` needs)
#   run    build + nats-server (what `make run` starts for async calls)
#   test   run + what the test suites need: pytest, curl, chromium, nodejs
#          and npm for the admin UI's browser test, podman and what makes
#          its base images for the container suite
# Idempotent and quiet when everything is present.
set -euo pipefail

group=${1:-build}

build_pkgs=(gcc make pkg-config libc6-dev
    libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
    libnats-dev libyaml-dev check)
run_pkgs=(nats-server)
test_pkgs=(python3 python3-pytest curl procps chromium nodejs npm
    podman runc busybox-static debootstrap)

want=("${build_pkgs[@]}")
case "$group" in
build) ;;
run) want+=("${run_pkgs[@]}") ;;
test) want+=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
*) echo "install-deps: unknown group '$group' (build, run or test)" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    # Node.js from another source (NodeSource) ships npm inside its nodejs
    # package and conflicts with Debian's npm: a working command is enough.
    case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
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
