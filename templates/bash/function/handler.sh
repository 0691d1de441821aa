#!/bin/bash
# Handles one request: the body is on stdin, what you print is the answer.
# Request headers are in Http_* variables (Http_Method, Http_Query, ...).
set -euo pipefail

printf 'Hello! You said: '
cat
