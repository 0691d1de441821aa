#!/bin/sh
# Handler: background.sh PIDFILE
# Starts a detached-from-stdio background process (sleep 60), writes its pid
# to PIDFILE and exits 0 at once, leaving it behind in its process group.
cat >/dev/null
sleep 60 </dev/null >/dev/null 2>&1 &
echo "$!" > "$1.tmp"
mv "$1.tmp" "$1"
echo "started"
