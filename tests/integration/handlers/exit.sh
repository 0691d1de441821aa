#!/bin/sh
# Handler: reads stdin, prints a line and exits with status $1 (default 3).
cat >/dev/null
echo "partial output"
exit "${1:-3}"
