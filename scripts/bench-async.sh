#!/usr/bin/env bash
# bench-async.sh O BINDIR - the async benchmarks (DESIGN.md section 6).
#
#   O       build folder holding bench/loadgen and bench/js_publish
#   BINDIR  folder holding cfaas-gateway, cfaas-queue-worker, cfaas-watchdog
#
# Two figures, each next to its baseline, all in one run against one
# nats-server started here (JetStream, store in a temporary folder):
#
#   accept  durable 202s per second from POST /async-function/echo (each
#           call recorded in SQLite and acknowledged by JetStream), against
#           bench/js_publish: the raw JetStream publish rate of the same
#           queue message from a small cnats program, at the same
#           concurrency. Goal: accept/raw >= 0.70. Each level runs
#           BENCH_ASYNC_ROUNDS pairs (raw, then 202s, back to back) and
#           prints the medians and the median of the pairs' ratios with
#           their range: on a shared VM one run can be 20% off the next.
#   e2e     calls completed per second through cfaas-queue-worker
#           (max_inflight 10): BENCH_ASYNC_CALLS calls are queued with the
#           worker off, then the worker starts and the clock runs until no
#           call is pending. Baseline: sync POST /function/echo at
#           concurrency 10 (what the worker's 10 slots could at best get).
#
# The function is fprocess=cat. Knobs (all optional): BENCH_DURATION
# (seconds per run, 5), BENCH_WARMUP (200), BENCH_CONCURRENCY ("1 10 50"),
# BENCH_BODY_SIZE (256), BENCH_ASYNC_CALLS (2000), BENCH_ASYNC_ROUNDS (3). The raw
# key=value lines
# are appended to $O/bench/results.txt. Everything started here is stopped
# at exit. Exit status: 0 when every run produced figures, 1 if not, 2 on a
# usage error.
#
# shellcheck disable=SC2317
set -uo pipefail

if [ $# -ne 2 ]; then
    echo "usage: scripts/bench-async.sh O BINDIR (e.g. build bin)" >&2
    exit 2
fi
O=$1
BINDIR=$2
LOADGEN=$O/bench/loadgen
JSPUB=$O/bench/js_publish
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-200}
LEVELS=${BENCH_CONCURRENCY:-1 10 50}
BODY_SIZE=${BENCH_BODY_SIZE:-256}
CALLS=${BENCH_ASYNC_CALLS:-2000}
ROUNDS=${BENCH_ASYNC_ROUNDS:-3}
PYTHON=/usr/bin/python3

NATS=$(command -v nats-server || true)
[ -z "$NATS" ] && [ -x /usr/sbin/nats-server ] && NATS=/usr/sbin/nats-server
for b in "$LOADGEN" "$JSPUB" "$BINDIR/cfaas-gateway" "$BINDIR/cfaas-queue-worker" \
    "$BINDIR/cfaas-watchdog" "$NATS"; do
    if [ ! -x "$b" ]; then
        echo "bench-async: '$b' is missing (run 'make all bench-bins'; install nats-server)" >&2
        exit 2
    fi
done
mkdir -p "$O/bench"
RESULTS=$O/bench/results.txt
touch "$RESULTS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cfaas-bench-async.XXXXXX")
PIDS=()
FAILED=0
BG_PID=

cleanup() {
    local pid _
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    PIDS=()
    rm -rf "$WORK"
    [ -n "$WORK_SHM" ] && rm -rf "$WORK_SHM"
}
WORK_SHM=
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers -------------------------------------------------------------

kv() {
    local pair
    for pair in $1; do
        if [ "${pair%%=*}" = "$2" ]; then
            echo "${pair#*=}"
            return
        fi
    done
}

free_port() {
    "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

lat() {
    [ -n "$1" ] || { echo "-"; return; }
    awk -v u="$1" 'BEGIN { if (u < 1000) printf "%dus", u; else printf "%.2fms", u / 1000 }'
}

ratio() {
    awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "n/a" }'
}

# median V...: the middle value (the lower middle of an even count).
median() {
    printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

start_bg() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

stop_bg() {
    local _
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 150); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# wait_http URL CODE SECONDS PID
wait_http() {
    local deadline=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$4" 2>/dev/null || return 1
        [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# measure NAME CMD...: sets MEASURED to the key=value line, records it.
measure() {
    local name=$1 rc
    shift
    MEASURED=$("$@" 2>"$WORK/run.err")
    rc=$?
    echo "async $name $MEASURED" >>"$RESULTS"
    if [ "$rc" -ne 0 ] || [ -z "$MEASURED" ]; then
        FAILED=1
        {
            echo "bench-async: $name failed (exit $rc): $*"
            sed 's/^/    /' "$WORK/run.err"
        } >&2
    fi
}

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

# errs_sum "LINES": errs() over the key=value lines of several runs, summed.
errs_sum() {
    local pair e=0 n=0 x=0
    for pair in $1; do
        case $pair in
        errors=*) e=$((e + ${pair#*=})) ;;
        requests=*) n=$((n + ${pair#*=})) ;;
        non2xx=*) x=$((x + ${pair#*=})) ;;
        esac
    done
    errs "errors=$e requests=$n non2xx=$x"
}

# start_nats NAME: a nats-server with its own store; sets NATS_URL, NATS_PID.
start_nats() {
    local dir=$WORK/$1 port
    mkdir -p "$dir/store"
    port=$(free_port)
    printf 'listen: "127.0.0.1:%s"\nmax_payload: 8MB\njetstream { store_dir: "%s" }\n' \
        "$port" "$dir/store" >"$dir/nats.conf"
    start_bg "$dir/nats.log" "$NATS" -c "$dir/nats.conf"
    NATS_PID=$BG_PID
    NATS_URL=nats://127.0.0.1:$port
    local _
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench-async: nats-server did not start; its log:" >&2
    tail -n 20 "$dir/nats.log" >&2
    return 1
}

# start_gateway NAME ARGS...: sets GW_URL, GW_PID, AUTH; deploys echo (cat).
start_gateway() {
    local name=$1 dir=$WORK/$1 port
    shift
    port=$(free_port)
    mkdir -p "$dir"
    start_bg "$dir/gateway.log" "$BINDIR/cfaas-gateway" --port "$port" --bind 127.0.0.1 \
        --data-dir "$dir/data" --nats-url "$NATS_URL" "$@"
    GW_PID=$BG_PID
    GW_URL=http://127.0.0.1:$port
    if ! wait_http "$GW_URL/healthz" 200 30 "$GW_PID"; then
        echo "bench-async: the gateway ($name) did not start; its log:" >&2
        tail -n 20 "$dir/gateway.log" >&2
        return 1
    fi
    local data=$dir/data arg prev=
    for arg in "$@"; do
        [ "$prev" = --data-dir ] && data=$arg
        prev=$arg
    done
    AUTH="$(cat "$data/basic-auth-user"):$(cat "$data/basic-auth-password")"
    curl -s -o /dev/null -u "$AUTH" -X POST "$GW_URL/system/functions" \
        -d '{"service":"echo","image":"bench/echo","envProcess":"cat"}'
    local _
    for _ in $(seq 300); do
        curl -s -u "$AUTH" "$GW_URL/system/function/echo" | grep -q '"availableReplicas":[1-9]' &&
            break
        sleep 0.1
    done
    for _ in $(seq 300); do
        grep -q "async calls ready" "$dir/gateway.log" && return 0
        sleep 0.1
    done
    echo "bench-async: async calls never became ready; the gateway's log:" >&2
    tail -n 20 "$dir/gateway.log" >&2
    return 1
}

pending() {
    curl -s -m 5 "$GW_URL/metrics" | awk '/^cfaas_async_pending / { print $2 }'
}

# ---- accept rate against raw publishes -------------------------------------

section_accept() {
    local c r raw acc rr ra rp50 rp99 ap50 ap99 ratios errs_raw errs_acc
    echo "== async accept (durable 202s) vs raw JetStream publish =="
    echo "   POST /async-function/echo, $BODY_SIZE B body, ${DURATION}s per run after $WARMUP warmup;"
    echo "   raw: bench/js_publish, the same queue message ($BODY_SIZE B body in base64), sync acks;"
    echo "   $ROUNDS pairs of runs (raw, then 202s) per level: medians, and the pairs' ratios"
    start_nats accept || { FAILED=1; return; }
    start_gateway accept --no-queue-worker || { FAILED=1; return; }
    printf '\n   %5s  %10s %9s %9s  %10s %9s %9s  %9s  %-11s  %s\n' conc "raw rps" "raw p50" \
        "raw p99" "202 rps" "202 p50" "202 p99" "202/raw" "pairs" "errors raw | 202"
    for c in $LEVELS; do
        rr=() ra=() rp50=() rp99=() ap50=() ap99=() ratios=() errs_raw="" errs_acc=""
        for r in $(seq "$ROUNDS"); do
            measure "raw c=$c" "$JSPUB" --url "$NATS_URL" -c "$c" -d "$DURATION" \
                --warmup "$WARMUP" --body-size "$BODY_SIZE"
            raw=$MEASURED
            measure "accept c=$c" "$LOADGEN" --url "$GW_URL/async-function/echo" -m POST \
                -c "$c" -d "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE" \
                --timeout 10 -H 'Content-Type: text/plain'
            acc=$MEASURED
            rr+=("$(kv "$raw" rps)") ra+=("$(kv "$acc" rps)")
            rp50+=("$(kv "$raw" p50_us)") rp99+=("$(kv "$raw" p99_us)")
            ap50+=("$(kv "$acc" p50_us)") ap99+=("$(kv "$acc" p99_us)")
            ratios+=("$(awk -v a="$(kv "$acc" rps)" -v b="$(kv "$raw" rps)" \
                'BEGIN { if (b > 0) printf "%.2f", a / b }')")
            errs_raw="$errs_raw $raw" errs_acc="$errs_acc $acc"
        done
        echo "async accept-median c=$c raw_rps=$(median "${rr[@]}") rps=$(median "${ra[@]}")" \
            "ratio=$(median "${ratios[@]}")" >>"$RESULTS"
        printf '   %5s  %10s %9s %9s  %10s %9s %9s  %8sx  %-11s %s | %s\n' "$c" \
            "$(median "${rr[@]}")" "$(lat "$(median "${rp50[@]}")")" "$(lat "$(median "${rp99[@]}")")" \
            "$(median "${ra[@]}")" "$(lat "$(median "${ap50[@]}")")" "$(lat "$(median "${ap99[@]}")")" \
            "$(median "${ratios[@]}")" \
            "$(printf '%s\n' "${ratios[@]}" | sort -g | sed -n '1p;$p' | paste -sd- -)" \
            "$(errs_sum "$errs_raw")" "$(errs_sum "$errs_acc")"
        eval "RAW_MEDIAN_$c=$(median "${rr[@]}")"
    done
    echo "   queue message: $(kv "$raw" bytes) bytes; goal 202/raw >= 0.70 (the median of the pairs)"
    stop_bg "$GW_PID"
    # The same with the gateway's state in memory (/dev/shm), where fsync is
    # free: the difference is what the durable SQLite insert costs.
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        local shm mem base
        shm=$(mktemp -d /dev/shm/cfaas-bench-async.XXXXXX)
        WORK_SHM=$shm
        if start_gateway accept-mem --no-queue-worker --data-dir "$shm/data"; then
            printf '\n   state in memory (no fsync), one run, against the median raw rate above:\n'
            printf '   %5s  %10s %9s %9s  %9s\n' conc "202 rps" "202 p50" "202 p99" "202/raw"
            for c in $LEVELS; do
                measure "accept-mem c=$c" "$LOADGEN" --url "$GW_URL/async-function/echo" -m POST \
                    -c "$c" -d "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE" \
                    --timeout 10 -H 'Content-Type: text/plain'
                mem=$MEASURED
                base=RAW_MEDIAN_$c
                printf '   %5s  %10s %9s %9s  %9s\n' "$c" \
                    "$(kv "$mem" rps)" "$(lat "$(kv "$mem" p50_us)")" \
                    "$(lat "$(kv "$mem" p99_us)")" "$(ratio "$(kv "$mem" rps)" "${!base}")"
            done
            stop_bg "$GW_PID"
        fi
        rm -rf "$shm"
        WORK_SHM=
    fi
    stop_bg "$NATS_PID"
}

# ---- end-to-end through the worker ----------------------------------------------

section_e2e() {
    local sync t0 t1 p left secs rate w_pid
    echo "== async end to end: completed calls per second through cfaas-queue-worker =="
    echo "   $CALLS calls queued with no worker, then one worker (max_inflight 10) runs them;"
    echo "   baseline: sync POST /function/echo at concurrency 10"
    start_nats e2e || { FAILED=1; return; }
    start_gateway e2e --no-queue-worker || { FAILED=1; return; }
    measure "e2e queue" "$LOADGEN" --url "$GW_URL/async-function/echo" -m POST -c 10 \
        -n "$CALLS" --warmup 0 --body-size "$BODY_SIZE" --timeout 10 \
        -H 'Content-Type: text/plain'
    p=$(pending)
    if [ "${p:-0}" -lt "$CALLS" ]; then
        echo "   failed: only ${p:-0} of $CALLS calls queued"
        FAILED=1
        return
    fi
    t0=$(date +%s.%N)
    start_bg "$WORK/e2e/worker.log" "$BINDIR/cfaas-queue-worker" --nats-url "$NATS_URL" \
        --gateway-url "$GW_URL" --max-inflight 10
    w_pid=$BG_PID
    left=$p
    for _ in $(seq 6000); do
        left=$(pending)
        [ "${left:-1}" = 0 ] && break
        kill -0 "$w_pid" 2>/dev/null || break
        sleep 0.1
    done
    t1=$(date +%s.%N)
    if [ "${left:-1}" != 0 ]; then
        echo "   failed: $left calls still pending; the worker's log:"
        tail -n 10 "$WORK/e2e/worker.log" | sed 's/^/     /'
        FAILED=1
        return
    fi
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    rate=$(awk -v n="$p" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
    stop_bg "$w_pid"
    measure "e2e sync c=10" "$LOADGEN" --url "$GW_URL/function/echo" -m POST -c 10 \
        -d "$DURATION" --warmup "$WARMUP" --body-size "$BODY_SIZE" --timeout 10 \
        -H 'Content-Type: text/plain'
    sync=$MEASURED
    echo "async e2e calls=$p seconds=$secs rps=$rate" >>"$RESULTS"
    printf '\n   %10s %10s %10s %9s\n' calls seconds "e2e rps" "sync rps"
    printf '   %10s %10s %10s %9s   e2e/sync %s\n' "$p" "$secs" "$rate" "$(kv "$sync" rps)" \
        "$(ratio "$rate" "$(kv "$sync" rps)")"
    stop_bg "$GW_PID"
    stop_bg "$NATS_PID"
}

echo "cfaas async benchmarks: $(nproc) CPUs, $(uname -sr), nats-server $("$NATS" --version 2>&1 | awk '{print $2}')"
echo
section_accept
echo
section_e2e
echo
exit $FAILED
