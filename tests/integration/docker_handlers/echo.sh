#!/bin/sh
# test_docker.py's function: answers "<VERSION> <container hostname> <body>",
# so a test sees which image and which replica served a call.
body=$(cat)
printf '%s %s %s' "$VERSION" "$(hostname)" "$body"
