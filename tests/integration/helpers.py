"""Shared helpers for the cfaas integration tests (standard library only).

What is here, for any suite that starts cfaas binaries:

- bin_dir() / binary(name): where the binaries are (env CFAAS_BIN_DIR, default
  <repo>/bin, so the same tests run against build/asan/bin).
- free_port(): a free TCP port on 127.0.0.1.
- Server: one binary started with an explicit environment, in its own session
  (start_new_session=True), stdout/stderr captured to files, with wait_http(),
  request(), log(), wait_log(), stop(), and kill_all() which kills the server,
  everything that descends from it and everything carrying its tag.
- Reaper: remembers every Server (and loose pids) and kills them at teardown.
- Raw HTTP over sockets: RawConn (keep-alive, 1xx handling, chunked),
  raw_request(), exchange() (sends and reads at the same time, for big bodies),
  http_request() (http.client, one connection per call).
- /proc helpers: proc_table(), children(), descendants(), fd_count(),
  pid_gone(), tagged_pids().
- wait_for(): poll a predicate until true or a (generous) deadline.

Every process started here gets CFAAS_TEST_TAG=<unique tag> in its
environment; handlers inherit it when the server passes its environment on,
so teardown finds them even after they were orphaned.
"""

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HANDLERS = Path(__file__).resolve().parent / "handlers"
PYTHON = "/usr/bin/python3"

# Pattern of a sanitizer report in a server's stderr.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:")


def bin_dir():
    """The directory holding the binaries under test."""
    d = os.environ.get("CFAAS_BIN_DIR")
    return Path(d).resolve() if d else REPO / "bin"


def binary(name):
    return bin_dir() / name


def handler(name):
    """Absolute path of a handler program in tests/integration/handlers."""
    return str(HANDLERS / name)


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.05):
    """Calls pred() until it returns something true; returns that value, or
    the last (false) value once timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- /proc

class ProcInfo:
    __slots__ = ("pid", "ppid", "pgrp", "sid", "state", "comm")

    def __init__(self, pid, ppid, pgrp, sid, state, comm):
        self.pid, self.ppid, self.pgrp, self.sid = pid, ppid, pgrp, sid
        self.state, self.comm = state, comm

    def __repr__(self):
        return (f"<pid={self.pid} ppid={self.ppid} pgrp={self.pgrp} "
                f"state={self.state} comm={self.comm}>")


def proc_info(pid):
    """ProcInfo of one pid, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    lp, rp = data.find("("), data.rfind(")")
    comm = data[lp + 1:rp]
    rest = data[rp + 2:].split()
    return ProcInfo(int(pid), int(rest[1]), int(rest[2]), int(rest[3]), rest[0], comm)


def proc_table():
    """pid -> ProcInfo for every process visible in /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = proc_info(name)
            if info is not None:
                table[info.pid] = info
    return table


def children(pid, table=None):
    """Direct children of pid (zombies included: an unreaped child is a leak)."""
    table = table if table is not None else proc_table()
    return sorted(p.pid for p in table.values() if p.ppid == pid)


def descendants(pid, table=None):
    """All processes below pid in the process tree."""
    table = table if table is not None else proc_table()
    by_parent = {}
    for p in table.values():
        by_parent.setdefault(p.ppid, []).append(p.pid)
    out, todo = [], [pid]
    while todo:
        for c in by_parent.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return sorted(out)


def pid_gone(pid):
    """True when pid no longer runs. A zombie counts as gone: an orphan is
    reaped by whoever is pid 1, which the watchdog does not control."""
    info = proc_info(pid)
    return info is None or info.state in ("Z", "X")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_targets(pid):
    """fd -> readlink target, for diagnostics."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def tagged_pids(tag):
    """Pids whose environment holds CFAAS_TEST_TAG=tag."""
    needle = f"CFAAS_TEST_TAG={tag}".encode()
    me = os.getpid()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            out.append(int(name))
    return out


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(pgid, sig=signal.SIGKILL):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------- raw HTTP

class Response:
    """A parsed HTTP response: status, reason, headers (list of pairs), body."""

    def __init__(self, status, reason, headers, body, version="HTTP/1.1"):
        self.status, self.reason, self.headers = status, reason, headers
        self.body, self.version = body, version

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        b = self.body[:200]
        return f"<Response {self.status} {self.reason} headers={self.headers} body={b!r}>"


class RawConn:
    """One HTTP/1.1 connection over a plain socket, for what http.client
    hides: keep-alive on the very same socket, 100-continue, chunked
    uploads, malformed requests."""

    def __init__(self, port, host="127.0.0.1", timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.rfile = self.sock.makefile("rb")
        self.port = port

    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def _readline(self):
        line = self.rfile.readline(65537)
        if not line:
            raise ConnectionError("connection closed by server")
        return line

    def read_head(self):
        """Reads a status line and headers: (version, status, reason, headers)."""
        line = self._readline()
        m = re.match(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?\r?\n$", line)
        if not m:
            raise ValueError(f"bad status line {line!r}")
        headers = []
        while True:
            h = self._readline()
            if h in (b"\r\n", b"\n"):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers.append((k.strip(), v.strip()))
        return (m.group(1).decode(), int(m.group(2)),
                (m.group(3) or b"").decode("latin-1").strip(), headers)

    def read_response(self, method="GET", skip_1xx=True):
        """Reads one full response (skipping 1xx ones unless told not to)."""
        while True:
            version, status, reason, headers = self.read_head()
            if not (skip_1xx and 100 <= status < 200):
                break
        resp = Response(status, reason, headers, b"", version)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        if "chunked" in te:
            parts = []
            while True:
                size = int(self._readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self._readline() not in (b"\r\n", b"\n"):
                        pass
                    break
                parts.append(self._readexact(size))
                self._readline()
            resp.body = b"".join(parts)
        elif cl is not None:
            resp.body = self._readexact(int(cl))
        else:
            resp.body = self.rfile.read()
        return resp

    def _readexact(self, n):
        data = self.rfile.read(n)
        if data is None or len(data) != n:
            raise ConnectionError(f"short body: wanted {n}, got {len(data or b'')}")
        return data

    def request(self, method, path, body=None, headers=None, chunks=None):
        """Sends one request (Content-Length body, or chunked when chunks is a
        list of byte strings) and reads its response."""
        self.send(build_request(method, path, body, headers, chunks, self.port))
        return self.read_response(method)

    def closed_by_peer(self, timeout):
        """True when the server closes (EOF or reset) within timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.rfile.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method, path, body=None, headers=None, chunks=None, port=None,
                  host=None):
    """The bytes of one request. Adds Host, and Content-Length or
    Transfer-Encoding: chunked, unless headers already name them."""
    headers = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in headers}
    if "host" not in names:
        headers.insert(0, ("Host", host or f"127.0.0.1:{port}"))
    payload = b""
    if chunks is not None:
        if "transfer-encoding" not in names:
            headers.append(("Transfer-Encoding", "chunked"))
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    elif body is not None:
        if "content-length" not in names:
            headers.append(("Content-Length", str(len(body))))
        payload = body
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + payload


def raw_request(port, data, method="GET", timeout=30.0):
    """Sends raw bytes on a new connection and reads one response."""
    with RawConn(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response(method)


def exchange(port, head, body_parts, timeout=120.0, method="POST"):
    """Sends a request head and then the body parts from a second thread while
    reading the response, so a server that answers before it has read the
    whole body cannot deadlock the test. Returns (Response, send_error)."""
    with RawConn(port, timeout=timeout) as c:
        c.send(head)
        err = []

        def sender():
            try:
                for p in body_parts:
                    c.sock.sendall(p)
            except OSError as e:
                err.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        resp = c.read_response(method)
        t.join(timeout)
        return resp, (err[0] if err else None)


def http_request(port, method, path, body=None, headers=None, timeout=60.0):
    """One request with http.client on a fresh connection -> Response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return Response(r.status, r.reason, list(r.getheaders()), body)
    finally:
        conn.close()


def connect_refused(port, timeout=2.0):
    """True when a TCP connect to 127.0.0.1:port is refused."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    s.close()
    return False


# ---------------------------------------------------------------- servers

_SAN_PREFIXES = ("ASAN_", "UBSAN_", "LSAN_", "MSAN_", "TSAN_")


class Server:
    """One binary under test, started with exactly the environment given
    (plus PATH, HOME, TMPDIR, sanitizer options and the test tag)."""

    def __init__(self, exe, env, workdir, port=None, args=()):
        self.exe = str(exe)
        self.args = list(args)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tmpdir = self.workdir / "tmp"
        self.tmpdir.mkdir(exist_ok=True)
        self.port = port
        self.tag = uuid.uuid4().hex
        base = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir),
            "TMPDIR": str(self.tmpdir),
            "LANG": "C.UTF-8",
            "CFAAS_TEST_TAG": self.tag,
        }
        for k, v in os.environ.items():
            if k.startswith(_SAN_PREFIXES):
                base[k] = v
        for k, v in env.items():
            if v is None:
                base.pop(k, None)
            else:
                base[k] = str(v)
        self.env = base
        self.stderr_path = self.workdir / "stderr.log"
        self.stdout_path = self.workdir / "stdout.log"
        self.proc = None
        self.pgid = None
        self.known_pids = set()

    # -- lifecycle

    def start(self):
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(
                [self.exe] + self.args, env=self.env, cwd=str(self.workdir),
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, close_fds=True)
        self.pgid = self.proc.pid
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_http(self, path="/_/health", want=200, timeout=20.0):
        """Polls GET path until it answers want; raises (with the log) when
        the server exits or the deadline passes."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.exe} exited with {self.proc.returncode} before ready:\n{self.log()}")
            try:
                r = http_request(self.port, "GET", path, timeout=5)
                last = r.status
                if r.status == want:
                    return r
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise RuntimeError(f"{self.exe} not ready on {path} (last: {last!r}):\n{self.log()}")

    def wait_listening(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.exe} exited with {self.proc.returncode} before listening:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.exe} not listening on {self.port}:\n{self.log()}")

    def wait_exit(self, timeout=30.0):
        """Exit code, or None when still running after timeout seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def remember_tree(self):
        """Notes every current descendant, so teardown can kill them even
        after the server is gone and they were reparented."""
        if self.alive():
            self.known_pids.update(descendants(self.pid))

    def kill_all(self, grace=10.0):
        """Teardown: SIGTERM (so a sanitizer build can report), then SIGKILL,
        then every known descendant, the process group, and every process
        carrying this server's tag. Never raises."""
        if self.proc is None:
            return
        try:
            self.remember_tree()
            if self.alive():
                self.proc.send_signal(signal.SIGTERM)
                if self.wait_exit(grace) is None:
                    self.remember_tree()
                    self.proc.kill()
                    self.proc.wait(10)
        except Exception:
            pass
        kill_group(self.pgid)
        for pid in sorted(self.known_pids):
            kill_pid(pid)
        for _ in range(3):
            left = tagged_pids(self.tag)
            if not left:
                break
            for pid in left:
                kill_pid(pid)
            time.sleep(0.05)

    # -- talking to it

    def request(self, method, path, body=None, headers=None, timeout=60.0):
        return http_request(self.port, method, path, body, headers, timeout)

    def raw(self, timeout=30.0):
        return RawConn(self.port, timeout=timeout)

    def log(self):
        try:
            return self.stderr_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            return self.stdout_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=10.0):
        """Polls the stderr log until the regex matches; returns the match."""
        rx = re.compile(pattern, re.M)
        return wait_for(lambda: rx.search(self.log()), timeout)

    def sanitizer_report(self):
        m = SANITIZER_RE.search(self.log())
        if not m:
            return None
        text = self.log()
        return text[max(0, m.start() - 200):m.start() + 4000]


class Reaper:
    """Remembers servers and pids; kill() ends them all. Used by fixtures."""

    def __init__(self):
        self.servers = []
        self.pids = []

    def add(self, server):
        self.servers.append(server)
        return server

    def add_pid(self, pid):
        self.pids.append(pid)

    def kill(self):
        for s in reversed(self.servers):
            s.kill_all()
        for pid in self.pids:
            kill_pid(pid)

    def sanitizer_reports(self):
        return [(s.exe, r) for s in self.servers if (r := s.sanitizer_report())]
