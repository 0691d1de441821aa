"""Handler for the gateway tests (run as /usr/bin/python3 gw_handler.py).

Reads the whole body from stdin, then answers by Http_Path:
  /secret/NAME   the exact bytes of $secret_mount_path/NAME (exit 1 if unreadable)
  /sleep/SECS    sleeps SECS seconds, then prints "slept SECS"
  anything else  JSON: method, query, path (Http_Method, Http_Query,
                 Http_Path), every Http_* variable, the body's length and
                 sha256, the replica's watchdog port, uid and
                 secret_mount_path.
"""
import hashlib
import json
import os
import sys
import time

body = sys.stdin.buffer.read()
path = os.environ.get("Http_Path", "")
out = sys.stdout.buffer

if path.startswith("/secret/"):
    name = path[len("/secret/"):]
    base = os.environ.get("secret_mount_path", "/var/openfaas/secrets")
    try:
        with open(os.path.join(base, name), "rb") as f:
            out.write(f.read())
    except OSError as e:
        sys.stderr.write(f"cannot read secret {name}: {e}\n")
        sys.exit(1)
elif path.startswith("/sleep/"):
    secs = path[len("/sleep/"):]
    time.sleep(float(secs))
    out.write(f"slept {secs}".encode())
else:
    doc = {
        "method": os.environ.get("Http_Method"),
        "query": os.environ.get("Http_Query"),
        "path": os.environ.get("Http_Path"),
        "env": {k: v for k, v in os.environ.items() if k.startswith("Http_")},
        "body_len": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "port": os.environ.get("port"),
        "uid": os.getuid(),
        "secret_mount_path": os.environ.get("secret_mount_path"),
    }
    out.write(json.dumps(doc, sort_keys=True).encode())
out.flush()
