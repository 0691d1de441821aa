"""Upstream for the watchdog's mode=http: upstream.py PORT

A small threaded HTTP/1.1 server on 127.0.0.1:PORT. Routes:
  /pid            -> 200, body: this process's pid
  /redirect       -> 302, Location: /elsewhere?x=1, X-Upstream: yes, body "moved"
  /status/<code>  -> <code>, X-Custom: teapot, body "status <code>"
  /slow?s=<sec>   -> sleeps, then 200 "slept <sec>"
  /inspect...     -> 200 JSON {method, path, headers, body_len}
  anything else   -> 200, echoes the body with the request's Content-Type
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        body = self._body()
        url = urlsplit(self.path)
        if url.path == "/pid":
            return self._send(200, str(os.getpid()).encode(), [("Content-Type", "text/plain")])
        if url.path == "/redirect":
            return self._send(302, b"moved", [("Location", "/elsewhere?x=1"), ("X-Upstream", "yes")])
        if url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            return self._send(code, f"status {code}".encode(), [("X-Custom", "teapot")])
        if url.path == "/slow":
            s = float(parse_qs(url.query).get("s", ["5"])[0])
            time.sleep(s)
            return self._send(200, f"slept {s}".encode())
        if url.path.startswith("/inspect"):
            out = {"method": self.command, "path": self.path,
                   "headers": {k: v for k, v in self.headers.items()},
                   "body_len": len(body)}
            return self._send(200, json.dumps(out).encode(), [("Content-Type", "application/json")])
        ct = self.headers.get("Content-Type", "application/octet-stream")
        return self._send(200, body, [("Content-Type", ct), ("X-Upstream-Pid", str(os.getpid()))])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def main():
    port = int(sys.argv[1])
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.serve_forever()


if __name__ == "__main__":
    main()
