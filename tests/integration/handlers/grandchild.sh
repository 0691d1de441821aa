#!/bin/sh
# Handler: grandchild.sh PIDFILE [ignore-term]
# Starts a grandchild (sleep 60, holding the stdout pipe), writes
# "<handler pid> <grandchild pid>" to PIDFILE, then sleeps. With
# "ignore-term" both ignore SIGTERM, so only SIGKILL ends them.
if [ "$2" = "ignore-term" ]; then
	trap '' TERM
fi
sleep 60 &
echo "$$ $!" > "$1.tmp"
mv "$1.tmp" "$1"
sleep 60
