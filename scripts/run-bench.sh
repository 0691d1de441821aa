#!/usr/bin/env bash
# run-bench.sh O BINDIR - the cfaas benchmarks, each figure next to its baseline.
#
#   O       build folder holding bench/loadgen and bench/spawn_baseline
#   BINDIR  folder holding the cfaas binaries (cfaas-watchdog, ...)
#
# Each section is a function named section_<name>; BENCH_SECTIONS picks which
# run (default: all of them, in order). Knobs, all optional:
#   BENCH_SECTIONS     "watchdog gateway async docker" (the default: all of them)
#   BENCH_DURATION     seconds per measured run (default 5)
#   BENCH_WARMUP       warmup requests before each run (default 200)
#   BENCH_CONCURRENCY  concurrency levels (default "1 10 50")
#   BENCH_BODY_SIZE    request body in bytes (default 256)
#   BENCH_COLD_STARTS  calls from zero replicas per function (default 5)
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
SECTIONS=${BENCH_SECTIONS:-watchdog gateway async docker}
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-200}
LEVELS=${BENCH_CONCURRENCY:-1 10 50}
BODY_SIZE=${BENCH_BODY_SIZE:-256}
COLD_STARTS=${BENCH_COLD_STARTS:-5}
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

# proc_kb PID FIELD: a /proc/PID/status figure in kB (VmRSS, VmHWM,
# RssFile).
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

# ---- gateway helpers ---------------------------------------------------------

# Set by section_gateway for the helpers below.
GW_URL=
GW_PASS=
GW_PID=

# gw_api METHOD PATH [JSON]: an authenticated API call; the body goes to
# $WORK/api.out and the status code to stdout (000 when there was none).
gw_api() {
    local args=(-s -m 10 -o "$WORK/api.out" -w '%{http_code}' -u "admin:$GW_PASS" -X "$1")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    curl "${args[@]}" "$GW_URL$2" 2>/dev/null || true
}

# available NAME: the function's availableReplicas (0 when absent).
available() {
    local n
    gw_api GET "/system/function/$1" >/dev/null
    n=$(grep -o '"availableReplicas":[0-9]*' "$WORK/api.out" 2>/dev/null | cut -d: -f2)
    echo "${n:-0}"
}

# wait_available NAME SECONDS: waits until NAME has a ready replica.
wait_available() {
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$GW_PID" 2>/dev/null || return 1
        [ "$(available "$1")" -ge 1 ] && return 0
        sleep 0.1
    done
    return 1
}

# replicas_running: how many watchdogs the gateway has as children now.
replicas_running() {
    pgrep -P "$GW_PID" -x cfaas-watchdog 2>/dev/null | wc -l
}

# wait_no_replica NAME SECONDS: waits until no watchdog runs and NAME
# reports no ready replica.
wait_no_replica() {
    local deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if [ "$(replicas_running)" -eq 0 ] && [ "$(available "$1")" -eq 0 ]; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# scale NAME N: asks for N replicas. 0 when the gateway took it.
scale() {
    local code
    code=$(gw_api POST "/system/scale-function/$1" "{\"serviceName\":\"$1\",\"replicas\":$2}")
    [ "${code:0:1}" = 2 ]
}

# wd_port NAME: the port of NAME's newest replica (its watchdog logs
# "Listening on 127.0.0.1:PORT"), empty when there is none.
wd_port() {
    gw_api GET "/system/logs?name=$1&tail=200" >/dev/null
    grep -o 'Listening on 127\.0\.0\.1:[0-9]*' "$WORK/api.out" 2>/dev/null | tail -n 1 |
        cut -d: -f2
}

# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

# us_per TICKS N: CPU microseconds per request.
us_per() {
    awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (n > 0) printf "%dus", t * 1e6 / hz / n; else printf "-" }'
}

# added A B: B - A microseconds as "+123us" or "+1.23ms" ("-" when one
# is missing).
added() {
    if [ -z "$1" ] || [ -z "$2" ]; then
        echo "-"
        return
    fi
    awk -v a="$1" -v b="$2" 'BEGIN {
        d = b - a; s = d < 0 ? "-" : "+"; if (d < 0) d = -d
        if (d < 1000) printf "%s%dus", s, d; else printf "%s%.2fms", s, d / 1000 }'
}

# compare_table LABEL NAME PORT: direct-to-watchdog and through-gateway runs
# of function NAME (watchdog on PORT) at every concurrency level. Records
# the http function's figures at 10 and 50 for the goals line.
GOAL_P50=
GOAL_RATIO=
compare_table() {
    local label=$1 name=$2 port=$3 c direct thru t0 t1 n r a
    local hdr=(-H 'Content-Type: text/plain')

    printf '\n   %5s  %10s %9s %9s  %10s %9s %9s  %9s %9s %9s  %8s  %s\n' \
        conc "dir rps" "dir p50" "dir p99" "gw rps" "gw p50" "gw p99" gw/dir "+p50" \
        "+p99" "gw cpu" "errors direct | gw"
    for c in $LEVELS; do
        measure "$label direct c=$c" "$LOADGEN" --url "http://127.0.0.1:$port/" -m POST \
            -c "$c" -d "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE" \
            --timeout 10 "${hdr[@]}"
        direct=$MEASURED
        t0=$(cpu_ticks "$GW_PID")
        measure "$label gateway c=$c" "$LOADGEN" --url "$GW_URL/function/$name" -m POST \
            -c "$c" -d "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE" \
            --timeout 10 "${hdr[@]}"
        thru=$MEASURED
        t1=$(cpu_ticks "$GW_PID")
        n=$(($(kv "$thru" requests) + WARMUP))
        r=$(ratio "$(kv "$thru" rps)" "$(kv "$direct" rps)")
        a=$(added "$(kv "$direct" p50_us)" "$(kv "$thru" p50_us)")
        printf '   %5s  %10s %9s %9s  %10s %9s %9s  %9s %9s %9s  %8s  %s | %s\n' "$c" \
            "$(kv "$direct" rps)" "$(lat "$(kv "$direct" p50_us)")" \
            "$(lat "$(kv "$direct" p99_us)")" \
            "$(kv "$thru" rps)" "$(lat "$(kv "$thru" p50_us)")" \
            "$(lat "$(kv "$thru" p99_us)")" "$r" "$a" \
            "$(added "$(kv "$direct" p99_us)" "$(kv "$thru" p99_us)")" \
            "$(us_per $((t1 - t0)) "$n")" "$(errs "$direct")" "$(errs "$thru")"
        echo "$label c=$c gw_cpu_ticks=$((t1 - t0)) calls=$n clk_tck=$(getconf CLK_TCK)" \
            >>"$RESULTS"
        if [ "$label" = gateway-http ] && { [ "$c" = 10 ] || [ "$c" = 50 ]; }; then
            GOAL_P50+="${GOAL_P50:+, }c=$c $a"
            GOAL_RATIO+="${GOAL_RATIO:+, }c=$c $r"
        fi
        if ! kill -0 "$GW_PID" 2>/dev/null; then
            echo "   failed: the gateway died under load"
            FAILED=1
            return 1
        fi
    done
}

# cold_starts NAME: COLD_STARTS calls to NAME from zero replicas, each timed
# from the request to the whole answer. Prints the median and the max. No
# other function may have a replica: "zero" is checked as no watchdog child
# of the gateway at all. NAME is left at zero replicas.
cold_starts() {
    local name=$1 _ out code secs ms list=() bad=0 sorted

    for _ in $(seq "$COLD_STARTS"); do
        if ! scale "$name" 0 || ! wait_no_replica "$name" 15; then
            echo "   $name: could not scale to zero"
            FAILED=1
            return 1
        fi
        # Let the gateway finish with the old replica (directories, pipes).
        sleep 0.2
        out=$(curl -s -m 40 -o "$WORK/cold.out" -w '%{http_code} %{time_total}' \
            -H 'Content-Type: text/plain' --data-binary 'cold' "$GW_URL/function/$name" \
            2>/dev/null) || true
        code=${out%% *}
        secs=${out#* }
        if [ "$code" != 200 ]; then
            bad=$((bad + 1))
            continue
        fi
        ms=$(awk -v s="$secs" 'BEGIN { printf "%.1f", s * 1000 }')
        list+=("$ms")
    done
    echo "cold-start $name ms=${list[*]:-} failed=$bad" >>"$RESULTS"
    # Leave no replica behind for the next function's calls from zero.
    if ! scale "$name" 0 || ! wait_no_replica "$name" 15; then
        echo "   $name: could not scale to zero"
        FAILED=1
    fi
    if [ "${#list[@]}" -eq 0 ]; then
        printf '   %-14s failed: no call from zero answered 200\n' "$name"
        FAILED=1
        return 1
    fi
    sorted=$(printf '%s\n' "${list[@]}" | sort -n)
    printf '   %-14s median %s ms, max %s ms over %d call(s)%s  (all: %s)\n' "$name" \
        "$(sed -n "$(((${#list[@]} + 1) / 2))p" <<<"$sorted")" "$(tail -n 1 <<<"$sorted")" \
        "${#list[@]}" "$([ "$bad" -gt 0 ] && echo ", $bad failed")" "${list[*]}"
    COLD_MEDIAN=$(sed -n "$(((${#list[@]} + 1) / 2))p" <<<"$sorted")
}

# The gateway in front of a function against the same function's watchdog
# called directly, in the same run: a mode=http function backed by
# bench/echo_upstream (the figures the goals are about), then a fork-mode
# `cat` function for information. Then the gateway's idle RSS and calls
# from zero replicas.
section_gateway() {
    local gw=$BINDIR/cfaas-gateway wd=$BINDIR/cfaas-watchdog echo_up=$O/bench/echo_upstream
    local port uport data log http=bench-http fork=bench-cat hport fport _
    local rss_start rss_deployed rss_after hwm spec file_start file_after
    COLD_MEDIAN=
    GOAL_P50=
    GOAL_RATIO=

    echo "== gateway vs the same function's watchdog called directly =="
    echo "   POST $BODY_SIZE B, ${DURATION}s per run after $WARMUP warmup requests;" \
        "+p50/+p99: latency the gateway adds;"
    echo "   gw cpu: the gateway process's CPU time per call (its own threads only)"
    for b in "$gw" "$wd" "$echo_up"; do
        if [ ! -x "$b" ]; then
            echo "   skipped: '$b' is not built (run 'make bin/cfaas-gateway" \
                "bin/cfaas-watchdog bench-bins')"
            FAILED=1
            return
        fi
    done
    gw=$(realpath "$gw")
    wd=$(realpath "$wd")
    echo_up=$(realpath "$echo_up")
    port=$(free_port)
    data=$WORK/gateway-data
    log=$WORK/gateway.log
    start_bg "$log" "$gw" --port "$port" --bind 127.0.0.1 --data-dir "$data" \
        --watchdog "$wd" --no-queue-worker
    GW_PID=$BG_PID
    GW_URL=http://127.0.0.1:$port
    if ! wait_status "$GW_URL/healthz" 200 20 "$GW_PID" ||
        [ ! -s "$data/basic-auth-password" ]; then
        echo "   failed: the gateway did not come up; its log:"
        tail -n 20 "$log" | sed 's/^/     /'
        FAILED=1
        stop_bg "$GW_PID"
        return
    fi
    GW_PASS=$(cat "$data/basic-auth-password")
    sleep 0.5
    rss_start=$(proc_kb "$GW_PID" VmRSS)
    file_start=$(proc_kb "$GW_PID" RssFile)

    # The upstream gets a port of its own; every replica of the function
    # binds it, so the function keeps one replica.
    uport=$(free_port)
    spec="{\"service\":\"$http\",\"image\":\"bench\",\"envProcess\":\"$echo_up --port $uport"
    spec+=" --max-seconds 900\",\"envVars\":{\"mode\":\"http\","
    spec+="\"upstream_url\":\"http://127.0.0.1:$uport\"}}"
    _=$(gw_api POST /system/functions "$spec")
    _=$(gw_api POST /system/functions \
        "{\"service\":\"$fork\",\"image\":\"bench\",\"envProcess\":\"cat\"}")
    if ! wait_available "$http" 20 || ! wait_available "$fork" 20; then
        echo "   failed: the functions did not become ready; the gateway's log:"
        tail -n 20 "$log" | sed 's/^/     /'
        FAILED=1
        stop_bg "$GW_PID"
        return
    fi
    hport=$(wd_port "$http")
    fport=$(wd_port "$fork")
    if [ -z "$hport" ] || [ -z "$fport" ]; then
        echo "   failed: no 'Listening on' line in the replicas' logs"
        FAILED=1
        stop_bg "$GW_PID"
        return
    fi
    sleep 0.5
    rss_deployed=$(proc_kb "$GW_PID" VmRSS)

    echo
    echo "   $http: mode=http, bench/echo_upstream behind the watchdog (direct: 127.0.0.1:$hport)"
    compare_table gateway-http "$http" "$hport" || { stop_bg "$GW_PID"; return; }
    echo
    echo "   $fork: fprocess=cat, one process per call (direct: 127.0.0.1:$fport)"
    compare_table gateway-fork "$fork" "$fport" || { stop_bg "$GW_PID"; return; }

    # Let the connections close and the request threads end.
    sleep 1
    rss_after=$(proc_kb "$GW_PID" VmRSS)
    file_after=$(proc_kb "$GW_PID" RssFile)
    hwm=$(proc_kb "$GW_PID" VmHWM)

    echo
    echo "   calls to a function at 0 replicas, request to whole answer (goal: under 50 ms):"
    if scale "$http" 0 && scale "$fork" 0 && wait_no_replica "$http" 15 &&
        wait_no_replica "$fork" 15; then
        cold_starts "$fork"
        cold_starts "$http"
    else
        echo "   failed: could not scale the functions to zero"
        FAILED=1
    fi

    echo
    echo "   gateway RSS (the gateway process alone; goal: idle under 10 MiB):"
    echo "     $(mib "$rss_start") idle after start, $(mib "$rss_deployed") idle with" \
        "2 functions deployed, $(mib "$rss_after") idle after the load" \
        "(peak $(mib "$hwm"))"
    echo "     of which shared library pages (RssFile): $(mib "$file_start") after start," \
        "$(mib "$file_after") after the load; the rest is the gateway's own memory"
    echo "gateway rss_start_kb=$rss_start rss_deployed_kb=$rss_deployed" \
        "rss_after_kb=$rss_after hwm_kb=$hwm file_start_kb=$file_start" \
        "file_after_kb=$file_after" >>"$RESULTS"
    echo
    echo "   goals for $http: +p50 under 100us: ${GOAL_P50:-not measured};" \
        "gw/dir at least 0.90x: ${GOAL_RATIO:-not measured};"
    echo "     idle RSS under 10 MiB: $(mib "$rss_start") after start," \
        "$(mib "$rss_after") after the load;" \
        "from zero under 50 ms: ${COLD_MEDIAN:-n/a} ms median"
    stop_bg "$GW_PID"
}

# ---- docker provider -----------------------------------------------------------

# docker_cold_start URL NAME SPEC: deploys SPEC through the gateway at URL
# (auth admin:$GW_PASS) and prints the milliseconds from the deploy request
# to the first 200 answer of NAME, then removes NAME. Empty on failure.
docker_cold_start() {
    local url=$1 name=$2 spec=$3 t0 t1 code _
    t0=$(date +%s%N)
    code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -u "admin:$GW_PASS" \
        -H 'Content-Type: application/json' --data-binary "$spec" \
        "$url/system/functions" 2>/dev/null) || true
    if [ "${code:0:1}" = 2 ]; then
        for _ in $(seq 600); do
            code=$(curl -s -m 40 -o /dev/null -w '%{http_code}' --data-binary cold \
                "$url/function/$name" 2>/dev/null) || true
            [ "$code" = 200 ] && break
            sleep 0.05
        done
        t1=$(date +%s%N)
        [ "$code" = 200 ] && awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'
    fi
    curl -s -m 60 -o /dev/null -u "admin:$GW_PASS" -X DELETE \
        -H 'Content-Type: application/json' --data-binary "{\"functionName\":\"$name\"}" \
        "$url/system/functions" 2>/dev/null || true
}

# median LIST...: the middle value of numbers (empty when none).
median() {
    [ $# -gt 0 ] || return 0
    printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"
}

# The docker provider (containers through Podman's Docker Engine API)
# against the process provider, in the same run, with the same function
# (fprocess=cat): deploy to the first answer (the cold start of a new
# replica), then requests per second through each gateway.
section_docker() {
    local gw=$BINDIR/cfaas-gateway wd sock dport pport ddata pdata dlog plog dpid ppid
    local spid image ctx code c d p i dcold=() pcold=() ms name _
    local setup=scripts/podman-setup.sh

    echo "== docker provider (Podman) vs process provider, same function (fprocess=cat) =="
    echo "   cold start: deploy request to the first 200 answer; then POST $BODY_SIZE B" \
        "through the gateway, ${DURATION}s per run"
    # Images need a static watchdog: the sanitizer build's is dynamic.
    wd=bin/cfaas-watchdog
    if [ ! -x "$gw" ] || [ ! -x "$wd" ]; then
        echo "   skipped: '$gw' or '$wd' is not built (run 'make')"
        FAILED=1
        return
    fi
    gw=$(realpath "$gw")
    sock=$WORK/podman.sock
    if ! spid=$("$setup" "$sock" "$WORK/podman-setup.log"); then
        echo "   skipped: podman cannot run here (scripts/podman-setup.sh failed):"
        tail -n 5 "$WORK/podman-setup.log" | sed 's/^/     /'
        return
    fi
    [ -n "$spid" ] && PIDS+=("$spid")

    image=cfaas-bench-$$/cat:latest
    ctx=$WORK/docker-ctx
    mkdir -p "$ctx"
    cp "$wd" "$ctx/cfaas-watchdog"
    printf '%s\n' 'FROM cfaas/busybox:latest' 'COPY cfaas-watchdog /usr/bin/cfaas-watchdog' \
        'ENV fprocess=cat' 'CMD ["/usr/bin/cfaas-watchdog"]' >"$ctx/Dockerfile"
    code=$(tar -C "$ctx" -cf - . | curl -s -m 300 -o "$WORK/build.out" -w '%{http_code}' \
        --unix-socket "$sock" -H 'Content-Type: application/x-tar' --data-binary @- \
        "http://d/build?rm=1&t=$image" 2>/dev/null) || true
    if [ "$code" != 200 ] || grep -q '"error"' "$WORK/build.out"; then
        echo "   failed: cannot build the image '$image':"
        tail -c 600 "$WORK/build.out" | sed 's/^/     /'
        FAILED=1
        return
    fi

    dport=$(free_port)
    ddata=$WORK/docker-gw-data
    dlog=$WORK/docker-gw.log
    start_bg "$dlog" "$gw" --port "$dport" --bind 127.0.0.1 --data-dir "$ddata" \
        --provider docker --docker-socket "$sock" --no-queue-worker
    dpid=$BG_PID
    pport=$(free_port)
    pdata=$WORK/process-gw-data
    plog=$WORK/process-gw.log
    start_bg "$plog" "$gw" --port "$pport" --bind 127.0.0.1 --data-dir "$pdata" \
        --watchdog "$(realpath "$wd")" --no-queue-worker
    ppid=$BG_PID
    if ! wait_status "http://127.0.0.1:$dport/healthz" 200 20 "$dpid" ||
        ! wait_status "http://127.0.0.1:$pport/healthz" 200 20 "$ppid"; then
        echo "   failed: a gateway did not come up; their logs:"
        tail -n 10 "$dlog" "$plog" | sed 's/^/     /'
        FAILED=1
        stop_bg "$dpid"
        stop_bg "$ppid"
        curl -s -o /dev/null --unix-socket "$sock" -X DELETE "http://d/images/$image?force=1"
        return
    fi

    echo
    for i in $(seq "$COLD_STARTS"); do
        GW_PASS=$(cat "$ddata/basic-auth-password")
        name=bench-docker-$i
        ms=$(docker_cold_start "http://127.0.0.1:$dport" "$name" \
            "{\"service\":\"$name\",\"image\":\"$image\"}")
        [ -n "$ms" ] && dcold+=("$ms")
        GW_PASS=$(cat "$pdata/basic-auth-password")
        name=bench-process-$i
        ms=$(docker_cold_start "http://127.0.0.1:$pport" "$name" \
            "{\"service\":\"$name\",\"image\":\"bench\",\"envProcess\":\"cat\"}")
        [ -n "$ms" ] && pcold+=("$ms")
    done
    echo "docker cold_start_ms=${dcold[*]:-} process_cold_start_ms=${pcold[*]:-}" >>"$RESULTS"
    printf '   cold start, docker:  median %s ms over %d deploy(s)  (all: %s)\n' \
        "$(median "${dcold[@]}")" "${#dcold[@]}" "${dcold[*]:-}"
    printf '   cold start, process: median %s ms over %d deploy(s)  (all: %s)\n' \
        "$(median "${pcold[@]}")" "${#pcold[@]}" "${pcold[*]:-}"
    if [ "${#dcold[@]}" -eq 0 ] || [ "${#pcold[@]}" -eq 0 ]; then
        FAILED=1
    fi

    # One replica of each, then the load.
    GW_PASS=$(cat "$ddata/basic-auth-password")
    GW_URL=http://127.0.0.1:$dport
    GW_PID=$dpid
    _=$(gw_api POST /system/functions "{\"service\":\"bench-cat\",\"image\":\"$image\"}")
    wait_available bench-cat 60 || { echo "   failed: no docker replica"; FAILED=1; }
    GW_PASS=$(cat "$pdata/basic-auth-password")
    GW_URL=http://127.0.0.1:$pport
    GW_PID=$ppid
    _=$(gw_api POST /system/functions \
        '{"service":"bench-cat","image":"bench","envProcess":"cat"}')
    wait_available bench-cat 20 || { echo "   failed: no process replica"; FAILED=1; }

    printf '\n   %5s  %10s %9s %9s  %10s %9s %9s  %8s  %s\n' \
        conc "proc rps" "proc p50" "proc p99" "dock rps" "dock p50" "dock p99" "dock/proc" \
        "errors process | docker"
    for c in $LEVELS; do
        measure "docker-process c=$c" "$LOADGEN" --url "http://127.0.0.1:$pport/function/bench-cat" \
            -m POST -c "$c" -d "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE" \
            --timeout 10 -H 'Content-Type: text/plain'
        p=$MEASURED
        measure "docker-container c=$c" "$LOADGEN" --url "http://127.0.0.1:$dport/function/bench-cat" \
            -m POST -c "$c" -d "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE" \
            --timeout 10 -H 'Content-Type: text/plain'
        d=$MEASURED
        printf '   %5s  %10s %9s %9s  %10s %9s %9s  %8s  %s | %s\n' "$c" \
            "$(kv "$p" rps)" "$(lat "$(kv "$p" p50_us)")" "$(lat "$(kv "$p" p99_us)")" \
            "$(kv "$d" rps)" "$(lat "$(kv "$d" p50_us)")" "$(lat "$(kv "$d" p99_us)")" \
            "$(ratio "$(kv "$d" rps)" "$(kv "$p" rps)")" "$(errs "$p")" "$(errs "$d")"
    done

    # Remove the containers, then stop the gateways and drop the image.
    GW_PASS=$(cat "$ddata/basic-auth-password")
    GW_URL=http://127.0.0.1:$dport
    GW_PID=$dpid
    _=$(gw_api DELETE /system/functions '{"functionName":"bench-cat"}')
    stop_bg "$dpid"
    stop_bg "$ppid"
    curl -s -o /dev/null -m 60 --unix-socket "$sock" -X DELETE "http://d/images/$image?force=1"
}

# Async accept rate against raw JetStream publishes, and calls completed
# end to end through the queue worker (scripts/bench-async.sh).
section_async() {
    if ! "$(dirname "$0")/bench-async.sh" "$O" "$BINDIR"; then
        FAILED=1
    fi
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
