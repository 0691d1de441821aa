#!/bin/sh
# Handler: async_flaky.sh DIR N
# Fails (exit 1, so the watchdog answers 500) on the first N runs of each
# call id, then succeeds. Every run appends the call id to DIR/runs.
cat >/dev/null
echo "$Http_X_Call_Id" >> "$1/runs"
echo x >> "$1/count.$Http_X_Call_Id"
n=$(wc -l < "$1/count.$Http_X_Call_Id")
if [ "$n" -le "$2" ]; then
    echo "failing run $n"
    exit 1
fi
echo "ok after $n runs"
