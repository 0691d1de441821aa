"""Integration tests for async calls (DESIGN.md section 6, docs/async.md).

Every test starts its own nats-server (JetStream, a temporary store, a free
127.0.0.1 port) and its own cfaas-gateway (and, where the test needs to
kill or configure it on its own, a standalone cfaas-queue-worker), deploys
functions whose handlers append the call id to a runs file on every run,
and receives callbacks on an HTTP server inside the test process. Runs are
counted in those files, callbacks at the receiver, attempts in the call
records: the three must agree.

Covered: a call and its callback (headers, body, method, path, query);
retries (fail twice then succeed: exactly three runs); dead letters after
the last attempt, and their re-queue; a 30-second call with ack_wait 5s
runs once and cannot be cancelled once running; a resent X-Call-Id runs
once; 404/400/413; cancel, list and retention of records; a publish whose
ack is lost (answered 503 and never run, or 202 when a worker has it
already); a callback host that refuses or hangs; a queue
message that is not a call; NATS down at start; the embedded nats-server
(restarted when killed); metrics; and durability: 2,000 calls with the
worker killed (-9) midway and the gateway and NATS restarted, none lost,
none that had completed run again.

Handler state lives under /var/tmp (replicas get a private /tmp and may run
as nobody), in a directory removed at teardown. No assertion depends on
speed; deadlines are liveness bounds.
"""

import base64
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import helpers
from helpers import handler, wait_for

NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"
SH = "/bin/sh"

pytestmark = pytest.mark.skipif(not os.access(NATS_SERVER, os.X_OK),
                                reason="nats-server is not installed")


# ---------------------------------------------------------------- helpers

class Receiver:
    """Callback receiver on 127.0.0.1 inside the test process.

    mode: "ok" answers 200; "hang" never answers (holds the connection);
    "error" answers 500."""

    def __init__(self, mode="ok"):
        self.mode = mode
        self.calls = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.calls.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                                        body))
                if outer.mode == "hang":
                    outer.release.wait(60)
                    return
                code = 500 if outer.mode == "error" else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/cb"):
        return f"http://127.0.0.1:{self.port}{path}"

    def by_id(self):
        with self.lock:
            return Counter(h.get("x-call-id") for _, h, _ in self.calls)

    def for_id(self, call_id):
        with self.lock:
            return [c for c in self.calls if c[1].get("x-call-id") == call_id]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class MiniNats:
    """Just enough of the NATS protocol to publish raw messages and make
    JetStream API requests from a test."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")
        self.f.readline()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                          b'"no_responders":true}\r\nPING\r\n')
        while self.f.readline().strip() != b"PONG":
            pass
        self.sid = 0

    def request(self, subject, payload, timeout=10):
        self.sid += 1
        inbox = f"_INBOX.{uuid.uuid4().hex}"
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.sock.sendall(f"SUB {inbox} {self.sid}\r\n".encode() +
                          f"PUB {subject} {inbox} {len(data)}\r\n".encode() + data + b"\r\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.f.readline()
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
                continue
            parts = line.split()
            if parts and parts[0] == b"MSG":
                body = self.f.read(int(parts[-1]) + 2)[:-2]
                return json.loads(body) if body else {}
            if parts and parts[0] == b"HMSG":
                total = int(parts[-1])
                raw = self.f.read(total + 2)
                hlen = int(parts[-2])
                return {"_headers": raw[:hlen].decode("latin-1"),
                        "_body": raw[hlen:total]}
        raise TimeoutError(subject)

    def close(self):
        self.f.close()
        self.sock.close()


class AckEater:
    """A TCP proxy in front of a nats-server that drops the next `eat`
    messages the server sends to the gateway's own publisher inbox
    (_CFAAS.*): JetStream stores the call, but its ack never arrives, so the
    gateway cannot know whether the call was queued. Everything else (cnats'
    traffic, PINGs) passes through."""

    def __init__(self, nats_port):
        self.nats_port = nats_port
        self.eat = 0
        self.dropped = 0
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.nats_port))
            self.socks += [c, u]
            threading.Thread(target=self._up, args=(c, u), daemon=True).start()
            threading.Thread(target=self._down, args=(u, c), daemon=True).start()

    @staticmethod
    def _hang_up(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _up(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._hang_up(src, dst)

    def _down(self, src, dst):
        f = src.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    break
                parts = line.split()
                frame = line
                if parts and parts[0] in (b"MSG", b"HMSG"):
                    frame += f.read(int(parts[-1]) + 2)
                    if self.eat > 0 and parts[1].startswith(b"_CFAAS."):
                        self.eat -= 1
                        self.dropped += 1
                        continue
                dst.sendall(frame)
        except (OSError, ValueError):
            pass
        self._hang_up(src, dst)

    def close(self):
        self.lsock.close()
        for s in self.socks:
            s.close()


class Nats:
    """One nats-server with JetStream on a fixed port (kept across
    restarts) and its store in workdir."""

    def __init__(self, reaper, workdir, port=None):
        self.reaper = reaper
        self.workdir = workdir
        self.port = port or helpers.free_port()
        self.store = workdir / "store"
        self.store.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "nats.conf"
        self.conf.write_text(f'listen: "127.0.0.1:{self.port}"\nmax_payload: 8MB\n'
                             f'jetstream {{ store_dir: "{self.store}" }}\n')
        self.srv = None
        self.runs = 0

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        self.runs += 1
        self.srv = helpers.Server(NATS_SERVER, {}, self.workdir / f"run{self.runs}", self.port,
                                  ["-c", str(self.conf)])
        self.reaper.add(self.srv)
        self.srv.start()
        self.srv.wait_listening(20)
        return self

    def stop(self):
        self.srv.signal(signal.SIGTERM)
        assert self.srv.wait_exit(20) is not None, "nats-server did not stop"


class Gateway:
    def __init__(self, reaper, workdir, nats_url=None, args=(), port=None):
        self.reaper = reaper
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = port or helpers.free_port()
        self.args = ["--port", str(self.port), "--bind", "127.0.0.1",
                     "--data-dir", str(self.data)]
        if nats_url:
            self.args += ["--nats-url", nats_url]
        self.args += list(args)
        self.srv = None
        self.runs = 0

    def start(self, wait_async=True):
        self.runs += 1
        self.srv = helpers.Server(helpers.binary("cfaas-gateway"), {},
                                  self.workdir / f"run{self.runs}", self.port, self.args)
        self.reaper.add(self.srv)
        self.srv.start()
        self.srv.wait_http("/healthz", 200, 30)
        user = (self.data / "basic-auth-user").read_text().strip()
        pw = (self.data / "basic-auth-password").read_text().strip()
        self.auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
        if wait_async:
            assert self.srv.wait_log(r"async calls ready", 30), self.srv.log()
        return self

    def stop(self):
        self.srv.signal(signal.SIGTERM)
        assert self.srv.wait_exit(60) is not None, "gateway did not stop"

    def req(self, method, path, body=None, headers=None, auth=True, timeout=60):
        h = dict(headers or {})
        if auth:
            h["Authorization"] = self.auth
        if isinstance(body, str):
            body = body.encode()
        return helpers.http_request(self.port, method, path, body, h, timeout)

    def deploy(self, name, fprocess, annotations=None, env=None):
        d = {"service": name, "image": f"test/{name}", "envProcess": fprocess}
        if annotations:
            d["annotations"] = annotations
        if env:
            d["envVars"] = env
        r = self.req("POST", "/system/functions", json.dumps(d))
        assert r.status in (200, 201, 202), r
        ok = wait_for(lambda: json.loads(self.req("GET", f"/system/function/{name}").body)
                      .get("availableReplicas", 0) >= 1, 30)
        assert ok, f"function {name} never became ready:\n{self.srv.log()}"

    def submit(self, name, body=b"", headers=None, path="", method="POST"):
        return self.req(method, f"/async-function/{name}{path}", body, headers, auth=False)

    def record(self, call_id):
        r = self.req("GET", f"/system/calls/{call_id}")
        return json.loads(r.body) if r.status == 200 else None

    def wait_record(self, call_id, pred, timeout=60):
        last = [None]

        def check():
            last[0] = self.record(call_id)
            return last[0] is not None and pred(last[0])
        assert wait_for(check, timeout, 0.1), f"record of {call_id}: {last[0]}\n{self.srv.log()}"
        return last[0]

    def metric(self, name):
        text = self.req("GET", "/metrics", auth=False).text
        m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        return float(m.group(1)) if m else None


class Worker:
    def __init__(self, reaper, workdir, nats_url, gateway_url, args=()):
        self.reaper = reaper
        self.workdir = workdir
        self.args = ["--nats-url", nats_url, "--gateway-url", gateway_url] + list(args)
        self.srv = None
        self.runs = 0

    def start(self):
        self.runs += 1
        self.srv = helpers.Server(helpers.binary("cfaas-queue-worker"), {},
                                  self.workdir / f"worker{self.runs}", None, self.args)
        self.reaper.add(self.srv)
        self.srv.start()
        assert self.srv.wait_log(r"consuming CFAAS_CALLS", 30), self.srv.log()
        return self


class Env:
    """Everything one test starts; torn down by the reaper and cleanup()."""

    def __init__(self, reaper, tmp_path):
        self.reaper = reaper
        self.tmp = tmp_path
        self.dir = tempfile.mkdtemp(prefix="cfaas-async-", dir="/var/tmp")
        os.chmod(self.dir, 0o777)
        self.receivers = []

    def marker(self, name):
        d = os.path.join(self.dir, name)
        os.mkdir(d)
        os.chmod(d, 0o777)
        return d

    def nats(self, port=None):
        return Nats(self.reaper, self.tmp / f"nats{uuid.uuid4().hex[:6]}", port).start()

    def gateway(self, nats=None, args=(), start=True, wait_async=True):
        g = Gateway(self.reaper, self.tmp / f"gw{uuid.uuid4().hex[:6]}",
                    nats.url if nats else None, args)
        return g.start(wait_async) if start else g

    def worker(self, nats, gw, args=()):
        return Worker(self.reaper, self.tmp, nats.url, f"http://127.0.0.1:{gw.port}",
                      args).start()

    def receiver(self, mode="ok"):
        r = Receiver(mode)
        self.receivers.append(r)
        return r

    def cleanup(self):
        for r in self.receivers:
            r.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def env(reaper, tmp_path):
    for exe in ("cfaas-gateway", "cfaas-queue-worker", "cfaas-watchdog"):
        if not os.access(helpers.binary(exe), os.X_OK):
            pytest.fail(f"{helpers.binary(exe)} not built (run `make`)", pytrace=False)
    e = Env(reaper, tmp_path)
    try:
        yield e
    finally:
        e.cleanup()


def runs(marker):
    """Call id -> number of runs recorded by the handlers."""
    try:
        with open(os.path.join(marker, "runs")) as f:
            return Counter(line.strip() for line in f if line.strip())
    except FileNotFoundError:
        return Counter()


def sh(script, *args):
    return " ".join([SH, handler(script)] + [str(a) for a in args])


FAST_RETRY = {"com.openfaas.retry.min_wait": "100ms", "com.openfaas.retry.max_wait": "300ms"}


# ---------------------------------------------------------------- tests

def test_call_and_callback(env):
    """One call end to end: original method, path, query and headers reach
    the function; the callback carries its body and the documented headers;
    the record says succeeded after 1 attempt with the result."""
    nats = env.nats()
    gw = env.gateway(nats)
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    rcv = env.receiver()
    body = b"hello async \x00\x01 world"
    r = gw.submit("echo", body, {"X-Callback-Url": rcv.url("/done?k=v"),
                                 "Content-Type": "application/octet-stream",
                                 "X-Custom": "yes"}, path="/sub/path?x=1&y=two", method="PUT")
    assert r.status == 202, r
    call_id = r.header("X-Call-Id")
    assert re.fullmatch(r"[0-9a-f-]{36}", call_id)
    assert wait_for(lambda: rcv.for_id(call_id), 60), gw.srv.log()
    path, h, cb_body = rcv.for_id(call_id)[0]
    assert path == "/done?k=v"
    assert h["x-function-name"] == "echo"
    assert h["x-function-status"] == "200"
    assert h["x-attempts"] == "1"
    assert float(h["x-duration-seconds"]) > 0
    assert cb_body.startswith(b"method=PUT path=/sub/path query=x=1&y=two custom=yes\n")
    assert cb_body.endswith(body)
    rec = gw.wait_record(call_id, lambda c: c["status"] == "succeeded")
    assert rec["attempts"] == 1
    assert rec["statusCode"] == 200
    assert rec["function"] == "echo" and rec["namespace"] == "openfaas-fn"
    assert rec["callbackUrl"] == rcv.url("/done?k=v")
    for k in ("queuedAt", "startedAt", "finishedAt"):
        assert re.match(r"\d{4}-\d\d-\d\dT", rec[k]), rec
    assert rec["resultEncoding"] == "base64"  # the body holds NUL bytes
    assert base64.b64decode(rec["result"]) == cb_body
    assert runs(marker) == {call_id: 1}
    assert len(rcv.calls) == 1
    # Listed, without the result.
    lst = json.loads(gw.req("GET", "/system/calls?function=echo&status=succeeded").body)
    assert [c["id"] for c in lst] == [call_id] and "result" not in lst[0]
    assert gw.metric("cfaas_async_queued_total") == 1


def test_retried_twice_then_succeeds(env):
    nats = env.nats()
    gw = env.gateway(nats)
    marker = env.marker("flaky")
    gw.deploy("flaky", sh("async_flaky.sh", marker, 2), annotations=FAST_RETRY)
    rcv = env.receiver()
    r = gw.submit("flaky", b"x", {"X-Callback-Url": rcv.url()})
    assert r.status == 202
    call_id = r.header("X-Call-Id")
    assert wait_for(lambda: rcv.for_id(call_id), 60), gw.srv.log()
    _, h, body = rcv.for_id(call_id)[0]
    assert h["x-attempts"] == "3" and h["x-function-status"] == "200"
    assert body == b"ok after 3 runs\n"
    rec = gw.wait_record(call_id, lambda c: c["status"] == "succeeded")
    assert rec["attempts"] == 3
    assert runs(marker) == {call_id: 3}
    assert wait_for(lambda: gw.metric("cfaas_async_retries_total") == 2, 10)
    time.sleep(1)
    assert len(rcv.calls) == 1 and runs(marker) == {call_id: 3}


def test_dead_letter_and_retry(env):
    """A function that always fails ends in the dead-letter stream after
    max_retry_attempts; POST /system/calls/ID/retry re-queues it from there."""
    nats = env.nats()
    gw = env.gateway(nats, ["--queue-max-retry-attempts", "3"])
    marker = env.marker("fail")
    gw.deploy("fail", sh("async_flaky.sh", marker, 1000), annotations=FAST_RETRY)
    rcv = env.receiver()
    r = gw.submit("fail", b"x", {"X-Callback-Url": rcv.url()})
    call_id = r.header("X-Call-Id")
    rec = gw.wait_record(call_id, lambda c: c["status"] == "dead-letter")
    assert rec["attempts"] == 3 and rec["statusCode"] == 500
    assert "no success after 3 attempts" in rec["error"]
    assert runs(marker) == {call_id: 3}
    assert wait_for(lambda: rcv.for_id(call_id), 30)
    _, h, _ = rcv.for_id(call_id)[0]
    assert h["x-function-status"] == "500" and h["x-attempts"] == "3"
    assert wait_for(lambda: gw.metric("cfaas_async_dead_letter_total") == 1, 10)
    # The dead letter is in CFAAS_DLQ with the reason.
    mn = MiniNats(nats.port)
    try:
        got = mn.request("$JS.API.STREAM.MSG.GET.CFAAS_DLQ", {"last_by_subj": f"cfaas.dlq.{call_id}"})
        dead = json.loads(base64.b64decode(got["message"]["data"]))
        assert dead["callId"] == call_id and dead["attempts"] == 3
        assert "no success" in dead["error"]
    finally:
        mn.close()
    # Retry only a dead letter; then the whole round runs again.
    r = gw.req("POST", f"/system/calls/{call_id}/retry")
    assert r.status == 202, r
    assert json.loads(r.body)["status"] in ("queued", "running", "dead-letter")
    assert wait_for(lambda: runs(marker)[call_id] == 6, 60)
    rec = gw.wait_record(call_id, lambda c: c["status"] == "dead-letter")
    assert rec["attempts"] == 3
    assert gw.req("POST", f"/system/calls/{uuid.uuid4()}/retry").status == 404


def test_cancel_a_requeued_call(env):
    """A re-queued dead letter waits for its next round: it can be
    cancelled (its earlier round's final report does not make it look
    finished), and then it does not run again."""
    nats = env.nats()
    gw = env.gateway(nats, ["--no-queue-worker", "--queue-max-retry-attempts", "1"])
    marker = env.marker("fail")
    gw.deploy("fail", sh("async_flaky.sh", marker, 1000))
    worker = env.worker(nats, gw, ["--max-retry-attempts", "1"])
    call_id = gw.submit("fail", b"x").header("X-Call-Id")
    gw.wait_record(call_id, lambda c: c["status"] == "dead-letter")
    assert runs(marker) == {call_id: 1}
    worker.srv.signal(signal.SIGTERM)
    assert worker.srv.wait_exit(30) is not None
    assert gw.req("POST", f"/system/calls/{call_id}/retry").status == 202
    assert gw.record(call_id)["status"] == "queued"
    r = gw.req("DELETE", f"/system/calls/{call_id}")
    assert r.status == 200, r
    assert json.loads(r.body)["status"] == "cancelled"
    env.worker(nats, gw, ["--max-retry-attempts", "1"])
    assert wait_for(lambda: calls_in_stream(nats) == 0, 30)
    assert runs(marker) == {call_id: 1}
    assert gw.record(call_id)["status"] == "cancelled"


def test_long_call_runs_once(env):
    """A 30-second call with ack_wait 5s: in-progress acks keep the message,
    so it is never redelivered while it runs."""
    nats = env.nats()
    gw = env.gateway(nats, ["--no-queue-worker"])
    marker = env.marker("sleep")
    gw.deploy("sleep", sh("async_sleep.sh", marker, 30),
              env={"write_timeout": "60s", "read_timeout": "60s"})
    worker = env.worker(nats, gw, ["--ack-wait", "5s"])
    r = gw.submit("sleep", b"")
    call_id = r.header("X-Call-Id")
    # Running: too late to cancel, whether the record says so yet or not.
    assert wait_for(lambda: runs(marker)[call_id] == 1, 30)
    r = gw.req("DELETE", f"/system/calls/{call_id}")
    assert r.status == 409 and "queued" in r.text, r
    rec = gw.wait_record(call_id, lambda c: c["status"] == "succeeded", 90)
    assert rec["attempts"] == 1 and rec["durationSeconds"] >= 29
    assert runs(marker) == {call_id: 1}
    assert worker.srv.alive()


def test_resent_call_id_runs_once(env):
    nats = env.nats()
    gw = env.gateway(nats)
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    rcv = env.receiver()
    call_id = "client-" + uuid.uuid4().hex
    hdrs = {"X-Call-Id": call_id, "X-Callback-Url": rcv.url()}
    with ThreadPoolExecutor(4) as ex:
        answers = list(ex.map(lambda _: gw.submit("echo", b"same", hdrs), range(4)))
    assert [a.status for a in answers] == [202] * 4
    assert {a.header("X-Call-Id") for a in answers} == {call_id}
    gw.wait_record(call_id, lambda c: c["status"] == "succeeded")
    # Once more after it finished: accepted, not run.
    assert gw.submit("echo", b"same", hdrs).status == 202
    time.sleep(1.5)
    assert runs(marker) == {call_id: 1}
    assert rcv.by_id() == {call_id: 1}
    assert gw.metric("cfaas_async_queued_total") == 1
    # The same id for another function is a conflict.
    gw.deploy("other", sh("async_echo.sh", marker))
    assert gw.submit("other", b"", {"X-Call-Id": call_id}).status == 409


def test_bad_input(env):
    nats = env.nats()
    gw = env.gateway(nats, ["--max-async-body", "1Ki"])
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    r = gw.submit("nope", b"x")
    assert r.status == 404 and "not found" in r.text
    assert gw.submit("Bad_Name", b"x").status == 400
    for url in ("ftp://x/y", "not a url", "http://", "http://h:99999/"):
        r = gw.submit("echo", b"x", {"X-Callback-Url": url})
        assert r.status == 400 and "callback URL" in r.text, (url, r)
    r = gw.submit("echo", b"x", {"X-Call-Id": "bad id!"})
    assert r.status == 400 and "call id" in r.text
    r = gw.submit("echo", b"x" * 2048)
    assert r.status == 413
    assert gw.req("GET", "/system/calls").status == 200
    assert gw.req("GET", "/system/calls", auth=False).status == 401
    assert gw.req("GET", "/system/calls?status=done").status == 400
    assert gw.req("GET", "/system/calls?limit=0").status == 400
    assert gw.req("GET", "/system/calls/nope").status == 404
    assert gw.req("GET", "/system/calls/a/b").status == 404
    assert gw.req("PUT", "/system/calls/x").status == 405
    time.sleep(0.5)
    assert runs(marker) == {}
    assert gw.metric("cfaas_async_queued_total") in (None, 0)


def test_cancel_list_retention(env):
    nats = env.nats()
    gw = env.gateway(nats, ["--no-queue-worker", "--call-retention", "3s"])
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    ids = [gw.submit("echo", str(i)).header("X-Call-Id") for i in range(3)]
    lst = json.loads(gw.req("GET", "/system/calls?function=echo&status=queued&limit=2").body)
    assert len(lst) == 2 and {c["status"] for c in lst} == {"queued"}
    assert gw.metric("cfaas_async_pending") == 3
    r = gw.req("DELETE", f"/system/calls/{ids[0]}")
    assert r.status == 200 and json.loads(r.body)["status"] == "cancelled"
    assert gw.req("DELETE", f"/system/calls/{ids[0]}").status == 409
    assert gw.req("DELETE", f"/system/calls/{uuid.uuid4()}").status == 404
    assert gw.req("POST", f"/system/calls/{ids[1]}/retry").status == 409
    env.worker(nats, gw)
    gw.wait_record(ids[1], lambda c: c["status"] == "succeeded")
    gw.wait_record(ids[2], lambda c: c["status"] == "succeeded")
    assert gw.record(ids[0])["status"] == "cancelled"
    assert runs(marker) == {ids[1]: 1, ids[2]: 1}
    # Finished records go after the retention period.
    assert wait_for(lambda: all(gw.record(i) is None for i in ids), 30), gw.srv.log()


def test_callback_refused_or_hanging(env):
    """The call itself succeeds; the callback is retried, then recorded as
    failed in the record's error."""
    nats = env.nats()
    gw = env.gateway(nats, ["--queue-callback-timeout", "1s"])
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker),
              annotations=dict(FAST_RETRY, **{"com.openfaas.retry.attempts": "2"}))
    closed = helpers.free_port()
    hang = env.receiver("hang")
    a = gw.submit("echo", b"1", {"X-Callback-Url": f"http://127.0.0.1:{closed}/cb"})
    b = gw.submit("echo", b"2", {"X-Callback-Url": hang.url()})
    for r in (a, b):
        call_id = r.header("X-Call-Id")
        rec = gw.wait_record(call_id, lambda c: c["status"] != "queued" and
                             c["status"] != "running", 60)
        assert rec["status"] == "succeeded", rec
        assert "callback to" in rec["error"] and "failed after 2 attempts" in rec["error"], rec
        assert rec["attempts"] == 1
    assert len(hang.for_id(b.header("X-Call-Id"))) == 2
    assert runs(marker) == {a.header("X-Call-Id"): 1, b.header("X-Call-Id"): 1}


def test_invalid_queue_message(env):
    """A message in CFAAS_CALLS that is not a call is dead-lettered with the
    reason and never blocks the queue."""
    nats = env.nats()
    gw = env.gateway(nats)
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    mn = MiniNats(nats.port)
    try:
        ack = mn.request("cfaas.calls.echo", b"this is not json")
        assert ack.get("stream") == "CFAAS_CALLS", ack
        bad = {"callId": "bad-" + uuid.uuid4().hex, "function": "echo", "method": "post"}
        mn.request("cfaas.calls.echo", json.dumps(bad).encode())
        r = gw.submit("echo", b"after")
        gw.wait_record(r.header("X-Call-Id"), lambda c: c["status"] == "succeeded")
        # Both bad messages land on the same subject; the worker may take
        # them in either order, so read every dead letter by sequence.
        assert wait_for(lambda: mn.request("$JS.API.STREAM.INFO.CFAAS_DLQ", b"")
                        ["state"]["messages"] == 2, 10)
        info = mn.request("$JS.API.STREAM.INFO.CFAAS_DLQ", b"")["state"]
        dead = []
        for seq in range(info["first_seq"], info["last_seq"] + 1):
            m = mn.request("$JS.API.STREAM.MSG.GET.CFAAS_DLQ", {"seq": seq})["message"]
            assert m["subject"] == "cfaas.dlq.invalid", m
            dead.append(json.loads(base64.b64decode(m["data"])))
        assert len(dead) == 2
        by_data = {base64.b64decode(d["data"]): d["error"] for d in dead}
        assert "'method'" in by_data[json.dumps(bad).encode()]
        assert "malformed JSON" in by_data[b"this is not json"]
    finally:
        mn.close()
    assert runs(marker) == {r.header("X-Call-Id"): 1}
    assert "is not a call" in gw.srv.log()


def test_cnats_publish_fallback(env):
    """The gateway publishes calls through its own NATS connections; a URL
    those do not take (here one without a scheme, which cnats accepts) is
    used through cnats, said once in the log, and calls are still accepted
    and run, each once."""
    nats = env.nats()
    gw = env.gateway(None, ["--nats-url", f"127.0.0.1:{nats.port}"])
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    ids = []
    for i in range(3):
        r = gw.submit("echo", f"via cnats {i}".encode())
        assert r.status == 202, r.text
        ids.append(r.header("X-Call-Id"))
    for cid in ids:
        gw.wait_record(cid, lambda c: c["status"] == "succeeded")
    assert runs(marker) == {cid: 1 for cid in ids}
    assert gw.srv.log().count("published through cnats") == 1


def test_own_publisher_survives_nats_restart(env):
    """Pooled publishing connections die with the nats-server; after it is
    back the next calls are accepted on fresh ones, none lost or doubled."""
    nats = env.nats()
    gw = env.gateway(nats)
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    first = [gw.submit("echo", b"before").header("X-Call-Id") for _ in range(3)]
    assert all(first)
    nats.stop()
    nats.start()
    assert wait_for(lambda: gw.submit("echo", b"probe").status == 202, 20)
    later = [gw.submit("echo", b"after") for _ in range(3)]
    assert all(r.status == 202 for r in later), [r.text for r in later]
    done = first + [r.header("X-Call-Id") for r in later]
    for cid in done:
        gw.wait_record(cid, lambda c: c["status"] == "succeeded")
    got = runs(marker)
    assert all(got.get(cid) == 1 for cid in done), got
    assert "published through cnats" not in gw.srv.log()


def calls_in_stream(nats):
    mn = MiniNats(nats.port)
    try:
        return mn.request("$JS.API.STREAM.INFO.CFAAS_CALLS", b"")["state"]["messages"]
    finally:
        mn.close()


def test_lost_ack_is_cancelled_or_accepted(env):
    """The call reached JetStream but its ack did not come back. The gateway
    sends it once more with the same message id: if that is acked, the call
    is queued (once: JetStream drops the copy). If not, it tells the workers
    the call is cancelled, on the condition that none of them has reported
    on it: if that holds, it answers 503 and no worker ever runs the call;
    if a worker came first, the call is queued and running, and the answer
    is 202. Either way the answer is the truth. Both for a fresh call id
    and for the client's own."""
    nats = env.nats()
    proxy = AckEater(nats.port)
    try:
        gw = env.gateway(None, ["--nats-url", proxy.url, "--no-queue-worker"])
        marker = env.marker("echo")
        gw.deploy("echo", sh("async_echo.sh", marker))

        # One ack lost: the second copy is acked as a duplicate.
        proxy.eat = 1
        r = gw.submit("echo", b"one ack lost")
        assert r.status == 202, r.text
        second_try = r.header("X-Call-Id")
        assert proxy.dropped == 1
        assert "queued on the second try (it was)" in gw.srv.log()

        # Every ack lost, no worker: nobody can have reported, so the
        # cancel holds. A publish that went unanswered makes the gateway
        # check its streams again; until then calls are refused before
        # anything is stored or sent (503 too), so each case is tried
        # until its two copies have been sent.
        proxy.eat = 1000

        def lost(headers, want):
            r = gw.submit("echo", b"lost ack", headers)
            assert r.status == 503, r.text
            return proxy.dropped == want
        assert wait_for(lambda: lost({}, 3), 60)
        own = "own-" + uuid.uuid4().hex
        assert wait_for(lambda: lost({"X-Call-Id": own}, 5), 60)
        proxy.eat = 0
        listing = json.loads(gw.req("GET", "/system/calls?function=echo").body)
        lost = [c["id"] for c in listing if c["id"] not in (own, second_try)]
        assert len(lost) == 1, listing
        cancelled = lost + [own]
        for cid in cancelled:
            assert gw.record(cid)["status"] == "cancelled", gw.record(cid)
        assert gw.record(second_try)["status"] == "queued"
        # Three calls in the stream, the first once although sent twice.
        assert calls_in_stream(nats) == 3

        # A worker runs the accepted one and takes the cancelled ones off
        # the queue without running them.
        env.worker(nats, gw)
        assert wait_for(lambda: calls_in_stream(nats) == 0, 30)
        gw.wait_record(second_try, lambda c: c["status"] == "succeeded")
        assert runs(marker) == {second_try: 1}

        # With a worker at hand, it may start the call before the gateway
        # gives up on the ack: then the call is accepted after all.
        proxy.eat = 1000
        answers = {}

        def lost_with_worker():
            cid = "own-" + uuid.uuid4().hex
            r = gw.submit("echo", b"lost ack, worker on", {"X-Call-Id": cid})
            answers[cid] = r.status
            return r.status != 503 or "not available" not in r.text
        assert wait_for(lost_with_worker, 60)
        proxy.eat = 0
        [(cid, status)] = [(c, s) for c, s in answers.items()
                           if gw.record(c) is not None]
        assert status in (202, 503), answers
        assert wait_for(lambda: calls_in_stream(nats) == 0, 30)
        if status == 202:
            gw.wait_record(cid, lambda c: c["status"] == "succeeded")
            assert runs(marker)[cid] == 1
        else:
            assert gw.record(cid)["status"] == "cancelled"
            assert runs(marker)[cid] == 0

        got = []
        assert wait_for(lambda: got.append(gw.submit("echo", b"after")) or
                        got[-1].status == 202, 30), got[-1].text
        after = got[-1].header("X-Call-Id")
        gw.wait_record(after, lambda c: c["status"] == "succeeded")
        assert runs(marker)[after] == 1
        for c in cancelled:
            assert gw.record(c)["status"] == "cancelled"
            assert runs(marker)[c] == 0
    finally:
        proxy.close()


def test_nats_down_at_start(env):
    """Without NATS the gateway serves sync calls and answers async with 503;
    once NATS is up, async calls are taken and run."""
    port = helpers.free_port()
    gw = env.gateway(None, ["--nats-url", f"nats://127.0.0.1:{port}"], wait_async=False)
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    r = gw.req("POST", "/function/echo", b"sync", auth=False)
    assert r.status == 200 and r.body.endswith(b"sync")
    r = gw.submit("echo", b"x")
    assert r.status == 503 and "not available" in r.text
    assert gw.submit("nope", b"x").status == 404
    nats = Nats(env.reaper, env.tmp / "late", port).start()
    assert gw.srv.wait_log(r"async calls ready", 30)
    r = gw.submit("echo", b"late")
    assert r.status == 202
    gw.wait_record(r.header("X-Call-Id"), lambda c: c["status"] == "succeeded")
    # NATS goes away and comes back with its store: still no call lost.
    nats.stop()
    assert wait_for(lambda: gw.submit("echo", b"x").status == 503, 20)
    nats.start()
    assert wait_for(lambda: gw.submit("echo", b"back").status == 202, 30)


def test_gateway_restart_spends_no_attempts(env):
    """A standalone worker that finds no gateway (restarting) puts the call
    back without spending an attempt and waits for the gateway."""
    nats = env.nats()
    gw = env.gateway(nats, ["--no-queue-worker"])
    marker = env.marker("sleep")
    gw.deploy("sleep", sh("async_sleep.sh", marker, "0.3"))
    worker = env.worker(nats, gw, ["--max-inflight", "1", "--max-retry-attempts", "2"])
    ids = [gw.submit("sleep", b"").header("X-Call-Id") for _ in range(8)]
    assert wait_for(lambda: len(runs(marker)) >= 2, 30)
    gw.stop()
    assert worker.srv.wait_log(r"gateway at \S+ is unreachable", 20), worker.srv.log()
    time.sleep(1)
    gw.start()
    for i in ids:
        rec = gw.wait_record(i, lambda c: c["status"] == "succeeded", 60)
        assert rec["attempts"] == 1, rec
    assert worker.srv.wait_log(r"answers again", 5)
    assert set(runs(marker)) == set(ids)


def test_embedded_nats(env):
    """No --nats-url: the gateway runs its own nats-server with the store in
    DATA/jetstream, restarts it when it dies, and stops it at exit."""
    gw = env.gateway(None, ["--queue-initial-retry-wait", "100ms",
                            "--queue-max-retry-wait", "500ms"])
    assert "embedded nats-server" in gw.srv.log()
    assert (gw.data / "jetstream").is_dir()
    marker = env.marker("echo")
    gw.deploy("echo", sh("async_echo.sh", marker))
    r = gw.submit("echo", b"one")
    gw.wait_record(r.header("X-Call-Id"), lambda c: c["status"] == "succeeded")
    kids = [p for p in helpers.descendants(gw.srv.pid)
            if helpers.proc_info(p) and helpers.proc_info(p).comm == "nats-server"]
    assert len(kids) == 1
    helpers.kill_pid(kids[0])
    assert gw.srv.wait_log(r"nats-server \(pid \d+\) exited", 10)
    ok = wait_for(lambda: gw.submit("echo", b"two").status == 202, 30)
    assert ok, gw.srv.log()
    assert wait_for(lambda: len(runs(marker)) >= 2, 30)
    new = [p for p in helpers.descendants(gw.srv.pid)
           if helpers.proc_info(p) and helpers.proc_info(p).comm == "nats-server"]
    assert len(new) == 1 and new != kids
    gw.stop()
    assert wait_for(lambda: helpers.pid_gone(new[0]), 10)


def test_durability(env):
    """2,000 calls; the queue worker is killed (-9) midway; then the gateway
    and nats-server are restarted and a new worker starts. Every call is
    completed and called back, none lost; a call that had been called back
    before the kill never runs again, one whose record was final is never
    called back again; only calls in flight at the kill (at most
    max_inflight) may run or be called back twice."""
    total = 2000
    nats = env.nats()
    gw = env.gateway(nats, ["--no-queue-worker"])
    marker = env.marker("rec")
    gw.deploy("rec", sh("async_echo.sh", marker))
    rcv = env.receiver()

    def submit(i):
        for _ in range(50):
            r = gw.submit("rec", f"call {i}".encode(), {"X-Callback-Url": rcv.url()})
            if r.status == 202:
                return r.header("X-Call-Id")
            time.sleep(0.1)
        raise AssertionError(f"call {i} not accepted: {r}")

    with ThreadPoolExecutor(8) as ex:
        ids = list(ex.map(submit, range(total)))
    assert len(set(ids)) == total
    assert gw.metric("cfaas_async_pending") == total
    worker = env.worker(nats, gw, ["--ack-wait", "5s", "--max-inflight", "10"])
    assert wait_for(lambda: len(rcv.calls) >= total // 3, 120), gw.srv.log()
    helpers.kill_pid(worker.srv.pid, signal.SIGKILL)
    worker.srv.wait_exit(10)
    called_back = set(rcv.by_id())
    runs_before = runs(marker)
    # Let the gateway store the reports published before the kill, then
    # note the calls whose records are final.
    time.sleep(2)
    with ThreadPoolExecutor(8) as ex:
        final = {i for i, r in zip(sorted(called_back), ex.map(gw.record, sorted(called_back)))
                 if r and r["status"] == "succeeded"}
    gw.stop()
    nats.stop()
    nats.start()
    gw.start()
    env.worker(nats, gw, ["--ack-wait", "5s", "--max-inflight", "10"])
    assert wait_for(lambda: len(rcv.by_id()) >= total, 300, 0.5), \
        f"{len(rcv.by_id())} of {total} called back\n{gw.srv.log()[-3000:]}"
    time.sleep(2)
    cb = rcv.by_id()
    ran = runs(marker)
    assert set(cb) == set(ids), "callbacks for unknown or missing calls"
    assert set(ran) == set(ids)
    # Called back before the kill: the function never runs again (its
    # answer was stored before the callback went out). Final before the
    # kill: not called back again either.
    for i in called_back:
        assert ran[i] == runs_before[i] == 1, (i, ran[i])
    for i in final:
        assert cb[i] == 1, (i, cb[i])
    twice = [i for i in ids if ran[i] > 1]
    dup_cb = [i for i in ids if cb[i] > 1]
    # Only calls in flight at the kill may run again (at most max_inflight).
    assert len(twice) <= 10 and len(dup_cb) <= 10, (twice, dup_cb)
    assert gw.metric("cfaas_async_pending") == 0

    def attempts(i):
        return gw.record(i)

    with ThreadPoolExecutor(8) as ex:
        recs = list(ex.map(attempts, ids))
    assert all(r and r["status"] == "succeeded" for r in recs)
    for r in recs:
        assert r["attempts"] >= ran[r["id"]], r
    print(f"durability: {total} calls, {len(called_back)} called back before the kill "
          f"({len(final)} final), {len(twice)} run twice, {len(dup_cb)} called back twice")
