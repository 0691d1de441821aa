#!/bin/sh
# Handler: async_echo.sh DIR
# Appends the call id to DIR/runs (one line per run), then answers with what
# it was called with (method, path, query, a custom header) and the body.
echo "$Http_X_Call_Id" >> "$1/runs"
echo "method=$Http_Method path=$Http_Path query=$Http_Query custom=$Http_X_Custom"
cat
