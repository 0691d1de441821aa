#!/bin/sh
# Handles one request: the body is on stdin, what you print is the answer.
printf 'Hello! You said: '
cat
