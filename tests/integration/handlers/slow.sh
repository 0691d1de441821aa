#!/bin/sh
# Handler: slow.sh MARKER_DIR SECONDS
# Reads stdin, creates MARKER_DIR/started.<pid>, prints "begin", sleeps,
# prints "end after SECONDS". Used for max_inflight, draining and load.
cat >/dev/null
: > "$1/started.$$"
echo "begin"
sleep "$2"
echo "end after $2"
