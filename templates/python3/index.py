#!/usr/bin/env python3
"""cfaas python3 template entry point.

The watchdog starts this program once per request with the request body on
stdin; what it writes to stdout is the answer. Request headers are in the
environment as Http_* variables (Http_Method, Http_Path, Http_Query, ...).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python_modules"))
sys.path.insert(0, HERE)

from function import handler  # noqa: E402


def main():
    data = sys.stdin.buffer.read()
    try:
        req = data.decode("utf-8")
    except UnicodeDecodeError:
        req = data.decode("latin-1")
    ret = handler.handle(req)
    if ret is None:
        return
    if isinstance(ret, (bytes, bytearray)):
        sys.stdout.buffer.write(ret)
    else:
        sys.stdout.write(str(ret))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
