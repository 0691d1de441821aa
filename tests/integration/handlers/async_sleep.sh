#!/bin/sh
# Handler: async_sleep.sh DIR SECONDS
# Appends the call id to DIR/runs, sleeps, answers "slept SECONDS".
cat >/dev/null
echo "$Http_X_Call_Id" >> "$1/runs"
sleep "$2"
echo "slept $2"
