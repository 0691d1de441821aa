"""Handler: prints a JSON object of the Http_* environment variables and
the number of stdin bytes it read. With argv[1] == "all" prints every
environment variable instead."""
import json
import os
import sys

data = sys.stdin.buffer.read()
if len(sys.argv) > 1 and sys.argv[1] == "all":
    env = dict(os.environ)
else:
    env = {k: v for k, v in os.environ.items() if k.startswith("Http_")}
json.dump({"env": env, "stdin_len": len(data)}, sys.stdout, sort_keys=True)
