#!/bin/bash
# Prints the variables the stack file set.
printf '%s|%s|%s' "$GREETING" "$FROM_FILE" "$OVERRIDE"
