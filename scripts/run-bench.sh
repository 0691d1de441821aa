#!/usr/bin/env bash
# run-bench.sh O BINDIR - the cfaas benchmarks, each figure next to its baseline.
#
#   O       build folder holding bench/loadgen and bench/spawn_baseline
#   BINDIR  folder holding the cfaas binaries (cfaas-watchdog, ...)
#
# Each section is a function named section_<name>; BENCH_SECTIONS picks which
# run (default: all of them, in order). Knobs, all optional:
#   BENCH_SECTIONS     "watchdog"
#   BENCH_DURATION     seconds per measured run (default 5)
#   BENCH_WARMUP       warmup requests before each run (default 200)
#   BENCH_CONCURRENCY  concurrency levels (default "1 10 50")
#   BENCH_BODY_SIZE    request body in bytes (default 256)
# The raw key=value lines of every run go to $O/bench/results.txt. See
# docs/benchmarks.md for what each figure means. Everything started here is
# stopped at exit. Exit status: 0 when every run produced figures, 1 if not,
# 2 on a usage error.
#
# Functions run through traps and section_<name> look unreachable to shellcheck.
# shellcheck disable=SC2317
set -uo pipefail

if [ $# -ne 2 ]; then
    echo "usage: scripts/run-bench.sh O BINDIR (e.g. build bin)" >&2
    exit 2
fi
O=$1
BINDIR=$2
LOADGEN=$O/bench/loadgen
BASELINE=$O/bench/spawn_baseline
SECTIONS=${BENCH_SECTIONS:-watchdog}
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-200}
LEVELS=${BENCH_CONCURRENCY:-1 10 50}
BODY_SIZE=${BENCH_BODY_SIZE:-256}
PYTHON=/usr/bin/python3

for b in "$LOADGEN" "$BASELINE"; do
    if [ ! -x "$b" ]; then
        echo "run-bench: '$b' is missing: run 'make bench-bins' first" >&2
        exit 2
    fi
done
mkdir -p "$O/bench"
RESULTS=$O/bench/results.txt
: >"$RESULTS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cfaas-bench.XXXXXX")
PIDS=()
MEASURED=
BG_PID=
FAILED=0

# Stops what this script started: SIGTERM, a short grace, then SIGKILL.
cleanup() {
    local pid _
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    PIDS=()
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers -------------------------------------------------------------

# kv 'LINE' KEY: the value of KEY in a key=value line, empty when absent.
kv() {
    local pair
    for pair in $1; do
        if [ "${pair%%=*}" = "$2" ]; then
            echo "${pair#*=}"
            return
        fi
    done
}

# A TCP port on 127.0.0.1 that is free now.
free_port() {
    "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# http_status URL: the status code of a GET, or 000 when there is none.
http_status() {
    curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

# wait_status URL CODE SECONDS PID: waits until URL answers CODE while PID
# lives. 0 when it did.
wait_status() {
    local deadline=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$4" 2>/dev/null || return 1
        [ "$(http_status "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# proc_kb PID FIELD: a /proc/PID/status figure in kB (VmRSS, VmHWM).
proc_kb() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}

# mib KB: kB as MiB with one decimal.
mib() {
    [ -n "$1" ] || { echo "n/a"; return; }
    awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'
}

# lat US: a latency in microseconds, as us below 1 ms, as ms above.
lat() {
    [ -n "$1" ] || { echo "-"; return; }
    awk -v u="$1" 'BEGIN { if (u < 1000) printf "%dus", u; else printf "%.2fms", u / 1000 }'
}

# ratio A B: A / B as "0.87x", n/a when B is 0 or missing.
ratio() {
    awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "n/a" }'
}

# measure NAME CMD...: runs one bounded benchmark program, sets MEASURED
# to its key=value line (empty on failure) and records it in $RESULTS. A
# run with some errors or non-2xx answers still counts: the table shows them.
measure() {
    local name=$1 rc
    shift
    MEASURED=$("$@" 2>"$WORK/run.err")
    rc=$?
    echo "$name $MEASURED" >>"$RESULTS"
    if [ "$rc" -ne 0 ] || [ -z "$MEASURED" ]; then
        FAILED=1
        {
            echo "run-bench: $name failed (exit $rc): $*"
            sed 's/^/    /' "$WORK/run.err"
        } >&2
    fi
}

# errs LINE: "errors/requests", with non-2xx answers when there are any.
errs() {
    local e n x
    e=$(kv "$1" errors)
    n=$(kv "$1" requests)
    x=$(kv "$1" non2xx)
    if [ -z "$n" ]; then
        echo "failed"
    elif [ "${x:-0}" != 0 ]; then
        echo "${e}+${x}non2xx/$n"
    else
        echo "$e/$n"
    fi
}

# start_bg LOG CMD...: starts a background process with its output in LOG,
# records its pid for cleanup and sets BG_PID.
start_bg() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

# stop_bg PID: SIGTERM and wait (up to 5 s, then SIGKILL).
stop_bg() {
    local _
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# ---- sections --------------------------------------------------------------

# The watchdog (fprocess=cat) against spawn_baseline, which runs the same
# child with the same body through the same spawn code and no HTTP.
section_watchdog() {
    local wd=$BINDIR/cfaas-watchdog port tmp log pid url c base wdl
    local rss_start rss_after hwm

    echo "== watchdog vs spawn-only baseline =="
    echo "   fprocess=cat, POST $BODY_SIZE B, ${DURATION}s per run after $WARMUP warmup requests"
    if [ ! -x "$wd" ]; then
        echo "   skipped: '$wd' is not built (run 'make')"
        FAILED=1
        return
    fi
    port=$(free_port)
    tmp=$WORK/watchdog-tmp
    log=$WORK/watchdog.log
    mkdir -p "$tmp"
    start_bg "$log" env fprocess=cat port="$port" bind_address=127.0.0.1 TMPDIR="$tmp" \
        "$wd"
    pid=$BG_PID
    url=http://127.0.0.1:$port
    if ! wait_status "$url/_/health" 200 10 "$pid"; then
        echo "   failed: the watchdog did not become healthy; its log:"
        tail -n 20 "$log" | sed 's/^/     /'
        FAILED=1
        stop_bg "$pid"
        return
    fi
    sleep 0.5
    rss_start=$(proc_kb "$pid" VmRSS)

    printf '\n   %5s  %10s %9s %9s  %10s %9s %9s  %8s  %s\n' \
        conc "base rps" "base p50" "base p99" "wd rps" "wd p50" "wd p99" "wd/base" \
        "errors base | wd"
    for c in $LEVELS; do
        measure "baseline c=$c" "$BASELINE" -c "$c" -d "$DURATION" \
            --warmup "$WARMUP" --body-size "$BODY_SIZE" --cmd cat --timeout 10
        base=$MEASURED
        measure "watchdog c=$c" "$LOADGEN" --url "$url/" -m POST -c "$c" \
            -d "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE" --timeout 10 \
            -H 'Content-Type: text/plain'
        wdl=$MEASURED
        printf '   %5s  %10s %9s %9s  %10s %9s %9s  %8s  %s | %s\n' "$c" \
            "$(kv "$base" rps)" "$(lat "$(kv "$base" p50_us)")" \
            "$(lat "$(kv "$base" p99_us)")" \
            "$(kv "$wdl" rps)" "$(lat "$(kv "$wdl" p50_us)")" \
            "$(lat "$(kv "$wdl" p99_us)")" \
            "$(ratio "$(kv "$wdl" rps)" "$(kv "$base" rps)")" \
            "$(errs "$base")" "$(errs "$wdl")"
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "   failed: the watchdog died under load; its log:"
            tail -n 20 "$log" | sed 's/^/     /'
            FAILED=1
            return
        fi
    done

    # Let the last children be reaped and the connections close.
    sleep 1
    rss_after=$(proc_kb "$pid" VmRSS)
    hwm=$(proc_kb "$pid" VmHWM)
    echo
    echo "   watchdog RSS: $(mib "$rss_start") idle after start," \
        "$(mib "$rss_after") idle after the load (peak $(mib "$hwm"))"
    echo "watchdog rss_start_kb=$rss_start rss_after_kb=$rss_after hwm_kb=$hwm" >>"$RESULTS"
    stop_bg "$pid"
}

# ---- main --------------------------------------------------------------------

echo "cfaas benchmarks: $(nproc) CPUs, $(uname -sr), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "(rps: 2xx answers per second; p50/p99: latency per request; wd/base: rps ratio)"
echo
for s in $SECTIONS; do
    if ! declare -F "section_$s" >/dev/null; then
        echo "run-bench: unknown section '$s'" >&2
        FAILED=1
        continue
    fi
    "section_$s"
    echo
done
echo "raw figures: $RESULTS"
exit $FAILED
