#!/usr/bin/env bash
# Prepares Podman for the docker provider's tests and benchmarks.
# Usage: scripts/podman-setup.sh SOCKET_PATH [LOG_FILE]
#
# Idempotent: installs podman, runc, busybox-static and debootstrap when
# missing, writes /etc/containers/containers.conf only when it differs,
# starts `podman system service` on unix://SOCKET_PATH unless something
# already answers /_ping there, and creates the base images the templates
# use when they are absent (podman's own storage keeps them between runs):
#   cfaas/busybox:latest  busybox-static with its applets (bash template)
#   cfaas/python3:latest  a debootstrap --variant=minbase root with python3
# Prints the service's pid on stdout when it started one (the caller stops
# it, e.g. kill -TERM -- -PID: it leads its own session), nothing when the
# service was already there. Exit 0 on success; 3 when the packages cannot
# be installed, 4 when the service does not answer, 5 when a base image
# cannot be made, 6 when no container can run here.
set -euo pipefail

sock=${1:?usage: podman-setup.sh SOCKET_PATH [LOG_FILE]}
log=${2:-/dev/null}
mirror=${CFAAS_DEBIAN_MIRROR:-}

say() { echo "podman-setup: $*" >&2; }

# ---- packages ----------------------------------------------------------
need=()
for p in podman runc busybox-static debootstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    [ "$(id -u)" -eq 0 ] || { say "not root: cannot install ${need[*]}"; exit 3; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 &&
            apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; } ||
        { say "cannot install ${need[*]} with apt-get"; exit 3; }
fi

# ---- containers.conf ---------------------------------------------------
conf=/etc/containers/containers.conf
want=$(cat <<'CONF'
# Written by cfaas scripts/podman-setup.sh: runc, cgroupfs and file events
# work inside an unprivileged container as well as on a plain host.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
)
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    mkdir -p /etc/containers
    printf '%s\n' "$want" > "$conf"
    say "wrote $conf"
fi

# ---- the API service ---------------------------------------------------
ping() { curl -fsS --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }
pid=""
if ! ping; then
    mkdir -p "$(dirname "$sock")"
    rm -f "$sock"
    setsid podman system service --time=0 "unix://$sock" >>"$log" 2>&1 < /dev/null &
    pid=$!
    for _ in $(seq 1 150); do
        ping && break
        kill -0 "$pid" 2>/dev/null || { say "podman system service exited (see $log)"; exit 4; }
        sleep 0.1
    done
    ping || { say "no answer on $sock"; kill "$pid" 2>/dev/null; exit 4; }
fi

# ---- base images ---------------------------------------------------------
# An image made by an older version of this script is made again.
base_version=2
have() {
    [ "$(podman image inspect -f '{{index .Config.Labels "cfaas.base"}}' "$1" 2>/dev/null)" = \
        "$base_version" ]
}
work=$(mktemp -d /tmp/cfaas-podman-setup.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! have cfaas/busybox:latest; then
    say "creating cfaas/busybox:latest"
    mkdir -p "$work/bb/bin" "$work/bb/tmp" "$work/bb/etc" "$work/bb/home/app"
    chmod 1777 "$work/bb/tmp"
    cp /bin/busybox "$work/bb/bin/busybox"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -sf busybox "$work/bb/bin/$a"
    done
    # The bash template runs `bash function/handler.sh`: busybox's ash
    # serves (busybox has no `bash` applet of its own).
    printf '#!/bin/sh\nexec /bin/sh "$@"\n' > "$work/bb/bin/bash"
    chmod 755 "$work/bb/bin/bash"
    mkdir -p "$work/bb/usr/bin"
    ln -sf ../../bin/env "$work/bb/usr/bin/env"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n' > "$work/bb/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n' > "$work/bb/etc/group"
    tar -C "$work/bb" -cf "$work/bb.tar" .
    podman import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
        --change "LABEL cfaas.base=$base_version" \
        "$work/bb.tar" cfaas/busybox:latest >>"$log" 2>&1
fi

if ! have cfaas/python3:latest; then
    say "creating cfaas/python3:latest (debootstrap, about a minute)"
    mirror=${mirror:-http://deb.debian.org/debian}
    debootstrap --variant=minbase --include=python3-minimal,libpython3.11-stdlib \
        bookworm "$work/py" "$mirror" >>"$log" 2>&1 ||
        { say "debootstrap failed (see $log)"; exit 5; }
    chroot "$work/py" /bin/sh -c 'id app >/dev/null 2>&1 || useradd --create-home --uid 1000 app' >>"$log" 2>&1 || true
    rm -rf "$work/py/var/cache/apt/archives/"*.deb "$work/py/var/lib/apt/lists/"* "$work/py/usr/share/doc" "$work/py/usr/share/man"
    tar -C "$work/py" -cf "$work/py.tar" .
    podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change "LABEL cfaas.base=$base_version" \
        "$work/py.tar" cfaas/python3:latest >>"$log" 2>&1
fi

# ---- can a container run at all? ----------------------------------------
if ! out=$(podman run --rm --network none cfaas/busybox:latest echo ok 2>&1) || [ "$out" != ok ]; then
    say "a container cannot run here: $(printf '%s' "$out" | tail -n 1)"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    exit 6
fi

[ -n "$pid" ] && echo "$pid"
exit 0
