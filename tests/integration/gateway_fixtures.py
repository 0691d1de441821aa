"""Gateway fixtures for test_gateway.py (standard library + pytest only).

- Gateway: one bin/cfaas-gateway (a helpers.Server) with its data dir and
  credentials, and small helpers to talk to it: api() (basic auth added),
  deploy(), status(), wait_available(), invoke(), logs(), watchdogs()
  (the replica processes: watchdog children of the gateway), stop().
- start_gateway fixture: start(args=(), data_dir=None) starts a gateway of
  the test's own on a free 127.0.0.1 port (retrying when the port was taken
  meanwhile) and waits until GET /healthz answers 200. At teardown every
  gateway is stopped (SIGTERM first, so a sanitizer build can report), its
  replicas killed, and the test fails when a sanitizer report shows up in
  the gateway's stderr or in the replica logs kept in its data dir (replica
  watchdogs write there, not to the gateway's stderr).
- gateway fixture: a gateway with default flags and --max-body 64Mi shared
  by the tests of a module (a gateway takes about 3 s to stop, mostly its
  NATS client), emptied between tests: every function and secret deleted
  and no replica left. Its stderr is checked after each test, its replica
  logs and exit at the end of the module.

The gateway is started without --nats-url and with a PATH that does not
hold nats-server (Debian installs it in /usr/sbin), so async calls are off
and start-up does not wait for a NATS server; these tests do not use them.

Replicas run as `nobody` in a private mount namespace when the tests run
as root, with /tmp replaced by the replica's own tmp dir: handler scripts
must live outside /tmp and be world-readable, which tests/integration/
handlers is.
"""

import base64
import itertools
import json
import os
import re
import signal
from pathlib import Path
from urllib.parse import urlencode

import pytest

import helpers
from helpers import wait_for

READY_TIMEOUT = 30.0


class Gateway:
    """One running gateway. server is the helpers.Server."""

    def __init__(self, server, data_dir):
        self.server = server
        self.data_dir = Path(data_dir)
        self.port = server.port
        self.user = (self.data_dir / "basic-auth-user").read_text().strip()
        self.password = (self.data_dir / "basic-auth-password").read_text().strip()

    @property
    def pid(self):
        return self.server.pid

    def auth_header(self, user=None, password=None):
        token = f"{self.user if user is None else user}:{self.password if password is None else password}"
        return "Basic " + base64.b64encode(token.encode()).decode()

    # -- HTTP

    def api(self, method, path, body=None, headers=None, auth=True, timeout=60.0):
        """One request; body may be a dict/list (sent as JSON), str or bytes."""
        h = {}
        if auth:
            h["Authorization"] = self.auth_header()
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        return self.server.request(method, path, body, h, timeout)

    def json(self, method, path, body=None, want=200):
        r = self.api(method, path, body)
        assert r.status == want, (method, path, r)
        return json.loads(r.body)

    def deploy(self, service, env_process="cat", image="cfaas/test:latest", want=202,
               method="POST", **fields):
        """POST (or PUT) /system/functions; fields use the JSON names
        (envVars, labels, secrets, namespace, ...)."""
        doc = {"service": service, "image": image}
        if env_process is not None:
            doc["envProcess"] = env_process
        doc.update(fields)
        r = self.api(method, "/system/functions", doc)
        assert r.status == want, (doc, r)
        return r

    def scale(self, name, replicas, want=202, query="", **fields):
        doc = {"serviceName": name, "replicas": replicas}
        doc.update(fields)
        r = self.api("POST", f"/system/scale-function/{name}{query}", doc)
        assert r.status == want, (doc, r)
        return r

    def status(self, name, query=""):
        """The FunctionStatus, or None on 404."""
        r = self.api("GET", f"/system/function/{name}{query}")
        if r.status == 404:
            return None
        assert r.status == 200, r
        return json.loads(r.body)

    def wait_available(self, name, n, timeout=READY_TIMEOUT, query=""):
        """Waits until availableReplicas == n (absent counts as 0); returns
        the status. Fails with the last status and the gateway log."""
        last = {}

        def ok():
            last["s"] = self.status(name, query)
            return last["s"] is not None and last["s"].get("availableReplicas", 0) == n
        if not wait_for(ok, timeout, 0.05):
            raise AssertionError(f"{name}: availableReplicas never {n}; last status "
                                 f"{last.get('s')}\n{self.server.log()[-4000:]}")
        return last["s"]

    def invoke(self, name, path="", body=None, method="POST", headers=None, timeout=60.0):
        return self.server.request(method, f"/function/{name}{path}", body, headers, timeout)

    def logs(self, name, **params):
        """GET /system/logs?name=NAME&... -> list of parsed NDJSON lines."""
        q = urlencode(dict(name=name, **params))
        r = self.api("GET", f"/system/logs?{q}")
        assert r.status == 200, r
        return [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]

    def wait_log(self, name, needle, timeout=15.0):
        """Waits until a log line of the function contains needle; returns it."""
        def find():
            for e in self.logs(name):
                if needle in e["text"]:
                    return e
            return None
        return wait_for(find, timeout, 0.05)

    # -- processes

    def watchdogs(self):
        """Pids of the live replica processes (watchdog children)."""
        table = helpers.proc_table()
        return sorted(p for p in helpers.children(self.pid, table)
                      if table[p].comm.startswith("cfaas-watchdog")
                      and table[p].state not in ("Z", "X"))

    def wait_watchdogs(self, n, timeout=READY_TIMEOUT):
        """Waits until exactly n replica processes run; returns their pids."""
        found = wait_for(lambda: (lambda w: (w,) if len(w) == n else None)(self.watchdogs()),
                         timeout, 0.05)
        assert found, f"wanted {n} watchdogs, have {self.watchdogs()}"
        return found[0]

    def fd_count(self):
        return helpers.fd_count(self.pid)

    def fds_besides_pool(self):
        """The gateway's fds other than its idle pooled connections to
        replicas (up to 64 per replica are kept, closed lazily, so they are
        no leak): fd -> target."""
        ports = set()
        for wd in self.watchdogs():
            ports |= {lp for (lp, _, st) in _sockets_of(wd).values() if st == "0A"}
        socks = _sockets_of(self.pid)
        return {fd: t for fd, t in helpers.fd_targets(self.pid).items()
                if not (fd in socks and socks[fd][1] in ports)}

    def stop(self, timeout=40.0):
        """SIGTERM; returns the exit code (None: still running)."""
        self.server.remember_tree()
        self.server.signal(signal.SIGTERM)
        return self.server.wait_exit(timeout)


def _tcp_table():
    """socket inode -> (local port, remote port, state hex) for TCP sockets."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    lport = int(parts[1].rsplit(":", 1)[1], 16)
                    rport = int(parts[2].rsplit(":", 1)[1], 16)
                    out[parts[9]] = (lport, rport, parts[3])
        except OSError:
            pass
    return out


def _sockets_of(pid):
    """fd -> (local port, remote port, state) for the TCP sockets of pid."""
    table = _tcp_table()
    out = {}
    for fd, target in helpers.fd_targets(pid).items():
        m = re.match(r"socket:\[(\d+)\]", target)
        if m and m.group(1) in table:
            out[fd] = table[m.group(1)]
    return out


def replica_sanitizer_reports(data_dir):
    """Sanitizer reports in the replica logs of a data dir."""
    out = []
    logs = Path(data_dir) / "logs"
    if not logs.is_dir():
        return out
    for f in logs.rglob("*.log*"):
        try:
            text = f.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        m = helpers.SANITIZER_RE.search(text)
        if m:
            out.append((str(f), text[max(0, m.start() - 200):m.start() + 4000]))
    return out


def _start(exe, reaper, workroot, n, args=(), data_dir=None, env=None):
    """Starts one gateway (retrying when its port was taken meanwhile)."""
    data = Path(data_dir) if data_dir else workroot / f"data{n}"
    for attempt in range(3):
        port = helpers.free_port()
        srv = helpers.Server(exe, dict(env or {}), workroot / f"gw{n}-{attempt}", port,
                             args=["--port", str(port), "--bind", "127.0.0.1",
                                   "--data-dir", str(data)] + list(args))
        reaper.add(srv)
        srv.start()
        try:
            srv.wait_http("/healthz", 200, READY_TIMEOUT)
            return Gateway(srv, data)
        except RuntimeError:
            log = srv.log().lower()
            if attempt < 2 and ("in use" in log or "eaddrinuse" in log):
                srv.kill_all()
                continue
            raise
    raise AssertionError("unreachable")


def _gateway_exe():
    exe = helpers.binary("cfaas-gateway")
    if not exe.is_file() or not os.access(exe, os.X_OK):
        pytest.fail(f"{exe} not found or not executable (make bin/cfaas-gateway, "
                    "or set CFAAS_BIN_DIR)", pytrace=False)
    return exe


def _stop_and_check(gateways):
    """Stops gateways (SIGTERM first) and returns sanitizer reports found in
    their stderr or replica logs."""
    for gw in gateways:
        gw.server.kill_all()
    reports = []
    for gw in gateways:
        rep = gw.server.sanitizer_report()
        if rep:
            reports.append((gw.server.exe, rep))
        reports.extend(replica_sanitizer_reports(gw.data_dir))
    return reports


def _fail_on(reports, what):
    if reports:
        pytest.fail(f"sanitizer report in {what}:\n" +
                    "\n".join(f"{where}:\n{rep}" for where, rep in reports), pytrace=False)


@pytest.fixture
def start_gateway(reaper, tmp_path):
    """start(args=(), data_dir=None, env=None) -> Gateway, a gateway of its
    own for this test (stopped and checked at teardown)."""
    exe = _gateway_exe()
    counter = itertools.count()
    started = []

    def start(args=(), data_dir=None, env=None):
        gw = _start(exe, reaper, tmp_path, next(counter), args, data_dir, env)
        started.append(gw)
        return gw

    yield start
    _fail_on(_stop_and_check(started), "a gateway or its replicas")


# Namespaces the reset between tests cleans besides those listed by the
# gateway (a secret alone does not make its namespace appear there).
RESET_NAMESPACES = ("openfaas-fn", "team-a", "team-b")


def reset(gw):
    """Deletes every function and secret, and waits until no replica runs."""
    r = gw.api("GET", "/system/namespaces", timeout=30)
    assert r.status == 200, r
    namespaces = set(json.loads(r.body)) | set(RESET_NAMESPACES)
    for ns in sorted(namespaces):
        for f in gw.json("GET", f"/system/functions?namespace={ns}"):
            r = gw.api("DELETE", f"/system/functions?namespace={ns}",
                       {"functionName": f["name"]}, timeout=60)
            assert r.status in (202, 404), r
        for sec in gw.json("GET", f"/system/secrets?namespace={ns}"):
            r = gw.api("DELETE", f"/system/secrets?namespace={ns}", {"name": sec["name"]})
            assert r.status in (202, 404), r
    gw.wait_watchdogs(0)


class _Shared:
    def __init__(self, exe, workroot):
        self.exe, self.workroot = exe, workroot
        self.reaper = helpers.Reaper()
        self.counter = itertools.count()
        self.gw = None
        self.old = []

    def get(self):
        if self.gw is None or not self.gw.server.alive():
            if self.gw is not None:
                self.old.append(self.gw)
            self.gw = _start(self.exe, self.reaper, self.workroot, next(self.counter),
                             SHARED_ARGS)
        return self.gw


# The shared gateway's flags: the 32 MiB test needs a body cap above it.
SHARED_ARGS = ("--max-body", "64Mi")


@pytest.fixture(scope="module")
def _shared_gateway(tmp_path_factory):
    shared = _Shared(_gateway_exe(), tmp_path_factory.mktemp("shared-gateway"))
    reports = []
    try:
        yield shared
    finally:
        try:
            reports = _stop_and_check(shared.old + ([shared.gw] if shared.gw else []))
        finally:
            shared.reaper.kill()
    _fail_on(reports, "the shared gateway or its replicas (at module end)")


@pytest.fixture
def gateway(_shared_gateway):
    """A gateway with default flags and --max-body 64Mi, shared by the tests
    of a module: empty (no functions, no secrets, no replicas) when a test
    starts, emptied again afterwards. A test that leaves it dead or
    unresettable fails, and the next test gets a new one."""
    gw = _shared_gateway.get()
    mark = len(gw.server.log())
    yield gw
    text = gw.server.log()[mark:]
    m = helpers.SANITIZER_RE.search(text)
    if m:
        _shared_gateway.gw = None
        _shared_gateway.old.append(gw)
        gw.server.kill_all()
        _fail_on([(gw.server.exe, text[max(0, m.start() - 200):m.start() + 4000])],
                 "the shared gateway's stderr")
    if not gw.server.alive():
        _shared_gateway.gw = None
        _shared_gateway.old.append(gw)
        pytest.fail(f"the shared gateway died (exit {gw.server.proc.returncode}):\n"
                    f"{gw.server.log()[mark:][-4000:]}", pytrace=False)
    try:
        reset(gw)
    except Exception as e:  # a gateway that cannot be emptied is replaced
        _shared_gateway.gw = None
        _shared_gateway.old.append(gw)
        gw.server.kill_all()
        pytest.fail(f"cannot reset the shared gateway: {e!r}\n{gw.server.log()[mark:][-4000:]}",
                    pytrace=False)


# ---------------------------------------------------------------- helpers

def metric_lines(text, name):
    """Sample lines of a metric (name followed by '{' or ' ')."""
    rx = re.compile(rf"^{re.escape(name)}[{{ ]", re.M)
    return [ln for ln in text.splitlines() if rx.match(ln)]
