#!/usr/bin/env bash
# Runs every test: the libcheck unit tests in $1/tests, then the integration
# suites (pytest) against the binaries in $2. Ends with one closing line,
#   "N passed, M failed"
# counting individual checks and test cases, and exits non-zero if anything
# failed. Extra arguments go to pytest (e.g. -k watchdog).
set -u
O=${1:-build}
BINDIR=${2:-bin}
shift 2 2>/dev/null || true
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

passed=0
failed=0
failed_names=()

echo "== unit tests ($O/tests)"
for t in "$O"/tests/check_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out=$(CK_DEFAULT_TIMEOUT=60 "$t" 2>&1)
    rc=$?
    summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks' | tail -1)
    checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$summary")
    bad=$(sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1+\2/' <<<"$summary")
    checks=${checks:-0}
    bad=$((${bad:-0}))
    if [ $rc -eq 0 ] && [ "$bad" -eq 0 ] && [ -n "$summary" ]; then
        passed=$((passed + checks))
        printf '  ok    %-22s %s\n' "$name" "$summary"
    else
        failed=$((failed + (bad > 0 ? bad : 1)))
        passed=$((passed + checks - bad))
        failed_names+=("$name")
        printf '  FAIL  %s (exit %d)\n' "$name" "$rc"
        printf '%s\n' "$out" | grep -vE '^[^:]+:[0-9]+:P:' | sed 's/^/        /' | tail -40
    fi
done

if ls tests/integration/test_*.py >/dev/null 2>&1; then
    echo "== integration tests ($BINDIR)"
    log=$(mktemp)
    CFAAS_BIN_DIR="$root/$BINDIR" /usr/bin/python3 -m pytest tests/integration \
        -q -p no:cacheprovider -rfE "$@" 2>&1 | tee "$log"
    line=$(grep -E '^=*\s*[0-9]+ (passed|failed)|^=*\s*(no tests ran|[0-9]+ error)' "$log" | tail -1)
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
    e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+')
    passed=$((passed + ${p:-0}))
    nf=$((${f:-0} + ${e:-0}))
    if [ -z "$line" ]; then nf=1; fi
    if [ "$nf" -gt 0 ]; then
        failed=$((failed + nf))
        failed_names+=("integration")
    fi
    rm -f "$log"
fi

echo
[ "$failed" -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
