#!/bin/sh
# Handler: one line on stdout, one on stderr.
cat >/dev/null
echo "to-stdout"
echo "to-stderr" >&2
