#!/bin/sh
# Handler: count.sh DIR
# Creates DIR/ran.<pid> so a test can tell whether the handler ran at all.
cat >/dev/null
: > "$1/ran.$$"
echo "ran"
