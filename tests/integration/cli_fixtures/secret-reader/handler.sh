#!/bin/bash
# Answers with the value of the secret named in the body.
name=$(cat)
cat "${secret_mount_path:-/var/openfaas/secrets}/$name"
