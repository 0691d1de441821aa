"""Integration tests for cfaas-watchdog (DESIGN.md section 5).

Each test starts its own watchdog (conftest.start_watchdog) on a free
127.0.0.1 port with its own TMPDIR, talks to it over HTTP only, and the
fixture teardown kills the watchdog, its process group, everything it
started and everything carrying its CFAAS_TEST_TAG. Handlers live in
tests/integration/handlers; fprocess is split on spaces (no shell), so
every handler is "<interpreter> <script> <args>".

Covered: configuration errors; the per-request environment; methods;
status codes 200/405/408/413/429/500; combine_output, cgi_headers,
marshal_request, content_type, max_request_size, max_output_size;
binary-safe, chunked, 64 MiB, keep-alive and 100-continue bodies; health
and the lock file; SIGTERM draining; logs; process and fd leaks under load;
malformed and slow clients; mode=http proxying, restart and timeout.

Run: /usr/bin/python3 -m pytest tests/integration -q
     CFAAS_BIN_DIR=build/asan/bin /usr/bin/python3 -m pytest tests/integration -q
No assertion depends on how fast anything is; deadlines are liveness bounds.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import helpers
from helpers import (PYTHON, build_request, children, exchange, fd_count,
                     handler, pid_gone, wait_for)

SH = "/bin/sh"
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def sh(script, *args):
    return " ".join([SH, handler(script)] + [str(a) for a in args])


def py(script, *args):
    return " ".join([PYTHON, handler(script)] + [str(a) for a in args])


def env_of(resp):
    assert resp.status == 200, resp
    return json.loads(resp.body)["env"]


def no_children(wd, timeout=15.0):
    """True once the watchdog has no child processes (zombies count)."""
    return wait_for(lambda: children(wd.pid) == [], timeout)


def read_pids(path, timeout=15.0):
    assert wait_for(path.exists, timeout), f"{path} never written"
    return [int(x) for x in path.read_text().split()]


# ------------------------------------------------------------ configuration

BAD_CONFIG = [
    ("fprocess", {"fprocess": None}),
    ("fprocess", {"fprocess": ""}),
    ("exec_timeout", {"exec_timeout": "10x"}),
    ("read_timeout", {"read_timeout": "abc"}),
    ("write_timeout", {"write_timeout": "1q"}),
    ("port", {"port": "abc"}),
    ("port", {"port": "70000"}),
    ("max_inflight", {"max_inflight": "many"}),
    ("max_request_size", {"max_request_size": "lots"}),
]


@pytest.mark.parametrize("var,env", BAD_CONFIG,
                         ids=[f"{v}={list(e.values())[0]!r}" for v, e in BAD_CONFIG])
def test_bad_config_exits_nonzero_naming_the_variable(start_watchdog, var, env):
    wd = start_watchdog("/bin/cat", env, wait=None)
    code = wd.wait_exit(20)
    assert code is not None, f"still running with bad {var}:\n{wd.log()}"
    assert code != 0
    lines = [ln for ln in wd.log().splitlines() if ln.strip()]
    assert any(var in ln for ln in lines), f"no stderr line names {var}:\n{wd.log()}"


def test_duration_formats_accepted_and_ms_means_ms(start_watchdog, tmp_path):
    """1m5s, bare seconds and 500ms parse; exec_timeout=1500ms cuts a 5 s
    handler (it would not if 1500ms were read as 1500 s)."""
    marker = tmp_path / "m"
    marker.mkdir()
    wd = start_watchdog(sh("slow.sh", marker, 5), {
        "read_timeout": "30", "write_timeout": "1m5s",
        "healthcheck_interval": "500ms", "exec_timeout": "1500ms"})
    r = wd.request("GET", "/")
    assert r.status == 408, r
    assert no_children(wd)


# ------------------------------------------------------------ basic requests

def test_post_echo_with_duration_header(start_watchdog):
    wd = start_watchdog("/bin/cat")
    r = wd.request("POST", "/", b"hello world", {"Content-Type": "text/plain"})
    assert r.status == 200, r
    assert r.body == b"hello world"
    d = r.header("X-Duration-Seconds")
    assert d is not None, r.headers
    assert float(d) >= 0


def test_get_without_body(start_watchdog):
    wd = start_watchdog("/bin/cat")
    r = wd.request("GET", "/")
    assert r.status == 200, r
    assert r.body == b""


def test_request_environment(start_watchdog):
    wd = start_watchdog(py("env.py"))
    body = b"0123456789"
    r = wd.request("POST", "/some/path?a=1&b=two", body, {
        "Content-Type": "text/plain",
        "X-Call-Id": "call-42",
        "X-Custom-Header": "custom value",
        "x-lower-case": "lc",
    })
    env = env_of(r)
    assert env.get("Http_Method") == "POST", env
    assert env.get("Http_Content_Type") == "text/plain", env
    assert env.get("Http_X_Call_Id") == "call-42", env
    assert env.get("Http_X_Custom_Header") == "custom value", env
    assert env.get("Http_X_Lower_Case") == "lc", env  # canonical case
    assert env.get("Http_Content_Length") == str(len(body)), env
    assert env.get("Http_Query") == "a=1&b=two", env
    assert env.get("Http_Path") == "/some/path", env
    assert env.get("Http_Host") == f"127.0.0.1:{wd.port}", env
    assert json.loads(r.body)["stdin_len"] == len(body)


def test_no_query_means_no_http_query(start_watchdog):
    wd = start_watchdog(py("env.py"))
    env = env_of(wd.request("GET", "/p"))
    assert "Http_Query" not in env, env
    assert env.get("Http_Path") == "/p"
    assert env.get("Http_Method") == "GET"


def test_cgi_headers_false_passes_no_header_vars(start_watchdog):
    wd = start_watchdog(py("env.py"), {"cgi_headers": "false"})
    env = env_of(wd.request("POST", "/", b"x", {"X-Custom-Header": "v"}))
    assert "Http_X_Custom_Header" not in env, env


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_allowed_methods(start_watchdog, method):
    wd = start_watchdog(py("env.py"))
    body = b"abc" if method != "GET" else None
    env = env_of(wd.request(method, "/", body))
    assert env.get("Http_Method") == method


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "TRACE", "PROPFIND"])
def test_other_methods_are_405_and_do_not_fork(start_watchdog, tmp_path, method):
    d = tmp_path / "ran"
    d.mkdir()
    wd = start_watchdog(sh("count.sh", d))
    r = wd.request(method, "/")
    assert r.status == 405, r
    assert list(d.iterdir()) == []
    # the watchdog still works afterwards
    assert wd.request("POST", "/", b"x").status == 200
    assert len(list(d.iterdir())) == 1


def test_nonzero_exit_is_500_with_error_line_then_output(start_watchdog):
    wd = start_watchdog(sh("exit.sh", 3))
    r = wd.request("POST", "/", b"in")
    assert r.status == 500, r
    text = r.text
    first = text.split("\n", 1)[0]
    assert "exit status 3" in first, text
    assert "partial output" in text, text
    assert text.index("exit status 3") < text.index("partial output")


@pytest.mark.parametrize("kind", ["missing", "not-executable"])
def test_handler_that_cannot_execute_is_500(start_watchdog, tmp_path, kind):
    if kind == "missing":
        fprocess = str(tmp_path / "no-such-handler")
    else:
        f = tmp_path / "plain-file"
        f.write_text("#!/bin/sh\necho hi\n")
        f.chmod(0o644)
        fprocess = str(f)
    wd = start_watchdog(fprocess)
    r = wd.request("POST", "/", b"x")
    assert r.status == 500, r
    assert re.search(r"(cannot|can't|could not|couldn't|unable to|failed to) (be )?exec",
                     r.text, re.I), r
    assert wd.alive()
    assert no_children(wd)


# ------------------------------------------------------------ output options

def test_combine_output_default_merges_stderr(start_watchdog):
    wd = start_watchdog(sh("stdio.sh"))
    r = wd.request("GET", "/")
    assert r.status == 200, r
    assert b"to-stdout" in r.body and b"to-stderr" in r.body, r


def test_combine_output_false_sends_stderr_to_log(start_watchdog):
    wd = start_watchdog(sh("stdio.sh"), {"combine_output": "false"})
    r = wd.request("GET", "/")
    assert r.status == 200, r
    assert r.body == b"to-stdout\n"
    assert wd.wait_log(r"to-stderr"), wd.log()


def test_marshal_request_wraps_headers_and_body(start_watchdog):
    wd = start_watchdog("/bin/cat", {"marshal_request": "true"})
    body = b"\x00\x01binary\xffbody"
    r = wd.request("POST", "/", body, {"X-Foo": "bar", "Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    doc = json.loads(r.body)
    assert doc["header"]["X-Foo"] == ["bar"], doc
    assert base64.b64decode(doc["body"]["raw"]) == body


def test_content_type_echoed_from_request(start_watchdog):
    wd = start_watchdog("/bin/cat")
    r = wd.request("POST", "/", b"x", {"Content-Type": "text/x-custom"})
    assert r.status == 200
    assert r.header("Content-Type") == "text/x-custom", r.headers


def test_content_type_forced(start_watchdog):
    wd = start_watchdog("/bin/cat", {"content_type": "application/json"})
    r = wd.request("POST", "/", b"{}", {"Content-Type": "text/plain"})
    assert r.status == 200
    assert r.header("Content-Type") == "application/json", r.headers


# ------------------------------------------------------------ sizes

def test_max_request_size(start_watchdog, tmp_path):
    wd = start_watchdog(py("env.py"), {"max_request_size": "1000"})
    r = wd.request("POST", "/", b"a" * 1000)
    assert r.status == 200, r
    assert json.loads(r.body)["stdin_len"] == 1000
    r = wd.request("POST", "/", b"a" * 1001)
    assert r.status == 413, r
    with wd.raw() as c:
        r = c.request("POST", "/", chunks=[b"b" * 100] * 5)
    assert r.status == 200, r
    assert json.loads(r.body)["stdin_len"] == 500
    with wd.raw() as c:
        r = c.request("POST", "/", chunks=[b"c" * 400] * 10)
    assert r.status == 413, r
    assert wd.alive()
    assert no_children(wd)


def test_max_output_size_at_and_over_cap(start_watchdog):
    wd = start_watchdog("/usr/bin/head -c 1000 /dev/zero", {"max_output_size": "1000"})
    r = wd.request("GET", "/")
    assert r.status == 200, r
    assert r.body == b"\0" * 1000
    wd2 = start_watchdog("/usr/bin/head -c 5000 /dev/zero", {"max_output_size": "1000"})
    r = wd2.request("GET", "/")
    assert r.status == 500, r
    assert len(r.body) < 5000
    assert ("max_output_size" in r.text or "1000" in r.text), r


def test_endless_output_is_cut_and_the_handler_killed(start_watchdog):
    wd = start_watchdog("/usr/bin/yes", {"max_output_size": "64Ki"})
    r = wd.request("GET", "/", timeout=60)
    assert r.status == 500, r
    assert len(r.body) < 64 * 1024 + 4096
    assert no_children(wd)
    assert wd.request("GET", "/_/health").status == 200


# ------------------------------------------------------------ bodies

def test_binary_safe_body(start_watchdog):
    wd = start_watchdog("/bin/cat")
    body = bytes(range(256)) * 64 + b"\0" * 100 + b"\r\n\r\n" + b"\0"
    r = wd.request("POST", "/", body, {"Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    assert r.body == body


def test_64mib_echo_round_trip(start_watchdog):
    wd = start_watchdog("/bin/cat")
    size = 64 * 1024 * 1024
    data = os.urandom(size)
    want = hashlib.sha256(data).hexdigest()
    head = build_request("POST", "/", None, {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(size)}, port=wd.port)
    mv = memoryview(data)
    parts = (mv[i:i + (1 << 20)] for i in range(0, size, 1 << 20))
    r, err = exchange(wd.port, head, parts, timeout=120)
    assert r.status == 200, r
    assert err is None, err
    assert len(r.body) == size
    assert hashlib.sha256(r.body).hexdigest() == want
    assert no_children(wd)


def test_default_request_cap_is_64mib(start_watchdog, tmp_path):
    d = tmp_path / "ran"
    d.mkdir()
    wd = start_watchdog(sh("count.sh", d))
    size = 64 * 1024 * 1024 + 1
    head = build_request("POST", "/", None, {"Content-Length": str(size)}, port=wd.port)
    block = b"o" * (1 << 20)
    parts = [block] * 64 + [b"o"]
    r, _ = exchange(wd.port, head, parts, timeout=120)
    assert r.status == 413, r
    assert list(d.iterdir()) == []
    assert wd.request("GET", "/_/health").status == 200


def test_chunked_request_body(start_watchdog):
    wd = start_watchdog("/bin/cat")
    chunks = [b"first-", b"x" * 5, os.urandom(200 * 1024), b"\0last"]
    with wd.raw() as c:
        r = c.request("POST", "/", chunks=chunks,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    assert r.body == b"".join(chunks)


def test_keep_alive_reuses_one_connection(start_watchdog):
    wd = start_watchdog("/bin/cat")
    with wd.raw() as c:
        port = c.local_port()
        for i in range(5):
            body = f"request {i}".encode()
            r = c.request("POST", f"/?n={i}", body)
            assert r.status == 200, r
            assert r.body == body
            assert "close" not in (r.header("Connection") or "").lower(), r.headers
            assert c.local_port() == port
        r = c.request("GET", "/_/health")
        assert r.status == 200


def test_expect_100_continue(start_watchdog):
    wd = start_watchdog("/bin/cat")
    body = b"y" * 10000
    with wd.raw(timeout=20) as c:
        c.send(build_request("POST", "/", None, {
            "Content-Length": str(len(body)), "Expect": "100-continue"}, port=wd.port))
        _, status, _, _ = c.read_head()
        assert status == 100
        c.send(body)
        r = c.read_response("POST")
    assert r.status == 200, r
    assert r.body == body


def test_handler_that_ignores_a_large_body(start_watchdog):
    """The handler exits without reading stdin: the watchdog must survive the
    broken pipe and still answer with the output."""
    wd = start_watchdog("/bin/echo hi")
    size = 4 * 1024 * 1024
    head = build_request("POST", "/", None, {"Content-Length": str(size)}, port=wd.port)
    r, _ = exchange(wd.port, head, [b"z" * size], timeout=60)
    assert r.status == 200, r
    assert r.body == b"hi\n"
    assert wd.alive()
    assert wd.request("GET", "/_/health").status == 200


# ------------------------------------------------------------ limits

def test_max_inflight_429(start_watchdog, tmp_path):
    marker = tmp_path / "m"
    marker.mkdir()
    wd = start_watchdog(sh("slow.sh", marker, 2), {"max_inflight": "1"})
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(wd.request, "GET", "/")
        assert wait_for(lambda: list(marker.iterdir()), 20), "slow request never started"
        r2 = wd.request("GET", "/")
        r1 = fut.result(60)
    assert r2.status == 429, r2
    assert r1.status == 200, r1
    assert r1.body == b"begin\nend after 2\n"
    assert len(list(marker.iterdir())) == 1, "the 429 request forked a handler"
    r3 = wd.request("GET", "/")
    assert r3.status == 200, r3


def test_exec_timeout_kills_handler_and_grandchild(start_watchdog, reaper, tmp_path):
    pidfile = tmp_path / "pids"
    wd = start_watchdog(sh("grandchild.sh", pidfile), {"exec_timeout": "1"})
    r = wd.request("GET", "/", timeout=60)
    hpid, gpid = read_pids(pidfile)
    reaper.add_pid(gpid)
    reaper.add_pid(hpid)
    assert r.status == 408, r
    assert wait_for(lambda: pid_gone(hpid), 15), f"handler {hpid} still there"
    assert wait_for(lambda: pid_gone(gpid), 15), f"grandchild {gpid} still there"
    assert no_children(wd)


def test_exec_timeout_kills_handler_that_ignores_sigterm(start_watchdog, reaper, tmp_path):
    pidfile = tmp_path / "pids"
    wd = start_watchdog(sh("grandchild.sh", pidfile, "ignore-term"), {"exec_timeout": "1"})
    r = wd.request("GET", "/", timeout=60)
    hpid, gpid = read_pids(pidfile)
    reaper.add_pid(gpid)
    reaper.add_pid(hpid)
    assert r.status == 408, r
    assert wait_for(lambda: pid_gone(hpid), 15), f"handler {hpid} still there"
    assert wait_for(lambda: pid_gone(gpid), 15), f"grandchild {gpid} still there"
    assert wd.request("GET", "/_/health").status == 200


def test_background_process_does_not_outlive_handler(start_watchdog, reaper, tmp_path):
    pidfile = tmp_path / "bg"
    wd = start_watchdog(sh("background.sh", pidfile))
    r = wd.request("POST", "/", b"x")
    (bg,) = read_pids(pidfile)
    reaper.add_pid(bg)
    assert r.status == 200, r
    assert r.body == b"started\n"
    assert wait_for(lambda: pid_gone(bg), 15), f"background process {bg} outlived its handler"


# ------------------------------------------------------------ health, lock, shutdown

def test_health_follows_lock_file_and_does_not_fork(start_watchdog, tmp_path):
    d = tmp_path / "ran"
    d.mkdir()
    wd = start_watchdog(sh("count.sh", d))
    lock = wd.tmpdir / ".lock"
    assert lock.exists()
    assert wd.request("GET", "/_/health").status == 200
    lock.unlink()
    assert wd.request("GET", "/_/health").status == 503
    lock.write_text("")
    assert wd.request("GET", "/_/health").status == 200
    assert list(d.iterdir()) == []


def test_suppress_lock(start_watchdog):
    """No lock file is written. The lead's decision: health then answers 200
    (the gateway's readiness probe uses it); the classic watchdog gave 503."""
    wd = start_watchdog("/bin/cat", {"suppress_lock": "true"}, wait="listen")
    assert wd.request("POST", "/", b"q").body == b"q"
    assert not (wd.tmpdir / ".lock").exists()
    assert wd.request("GET", "/_/health").status == 200


def test_sigterm_drains_inflight_request(start_watchdog, tmp_path):
    marker = tmp_path / "m"
    marker.mkdir()
    wd = start_watchdog(sh("slow.sh", marker, 3),
                        {"healthcheck_interval": "1s", "write_timeout": "20s"})
    lock = wd.tmpdir / ".lock"
    assert lock.exists()
    refused_in_flight = False
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(wd.request, "GET", "/", None, None, 60)
        assert wait_for(lambda: list(marker.iterdir()), 20), "slow request never started"
        time.sleep(0.5)
        wd.signal(signal.SIGTERM)
        lock_gone = wait_for(lambda: not lock.exists(), 10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not fut.done():
            if helpers.connect_refused(wd.port):
                refused_in_flight = not fut.done()
                break
            time.sleep(0.05)
        r = fut.result(60)
    assert r.status == 200, r
    assert r.body == b"begin\nend after 3\n"
    assert lock_gone, "lock file still there after SIGTERM"
    assert refused_in_flight, "new connections were still accepted while draining"
    code = wd.wait_exit(40)
    assert code == 0, f"exit {code}:\n{wd.log()}"
    assert not lock.exists()


def test_sigterm_idle_exits_zero(start_watchdog):
    wd = start_watchdog("/bin/cat", {"healthcheck_interval": "1s"})
    lock = wd.tmpdir / ".lock"
    wd.signal(signal.SIGTERM)
    assert wd.wait_exit(40) == 0, wd.log()
    assert not lock.exists()


def test_sigterm_with_idle_keepalive_connection(start_watchdog):
    """An idle kept-alive connection (the gateway pools them) is not
    in-flight work: it must not hold the exit for the whole write_timeout."""
    wd = start_watchdog("/bin/cat", {"healthcheck_interval": "1s", "write_timeout": "5m"})
    with wd.raw() as c:
        assert c.request("POST", "/", b"k").status == 200
        wd.signal(signal.SIGTERM)
        code = wd.wait_exit(40)
    assert code == 0, f"exit {code} (None: still running after 40 s):\n{wd.log()}"


# ------------------------------------------------------------ logs

def test_log_lines_with_call_id(start_watchdog):
    wd = start_watchdog("/bin/cat")
    body = b"log me please"
    r = wd.request("POST", "/", body, {"X-Call-Id": "call-abc-123"})
    assert r.status == 200
    fork = wd.wait_log(r"^.*Forking fprocess\..*$")
    wrote = wd.wait_log(r"^.*Wrote (\d+) Bytes - Duration: ([0-9.]+) seconds.*$")
    assert fork, wd.log()
    assert wrote, wd.log()
    assert TS_RE.match(fork.group(0)), fork.group(0)
    assert TS_RE.match(wrote.group(0)), wrote.group(0)
    assert "call_id=call-abc-123" in fork.group(0)
    assert "call_id=call-abc-123" in wrote.group(0)
    assert int(wrote.group(1)) == len(body)
    float(wrote.group(2))


def test_log_lines_without_call_id(start_watchdog):
    wd = start_watchdog("/bin/cat")
    assert wd.request("POST", "/", b"abc").status == 200
    wrote = wd.wait_log(r"^.*Wrote 3 Bytes - Duration: [0-9.]+ seconds.*$")
    assert wrote, wd.log()
    assert "call_id=" not in wrote.group(0)


# ------------------------------------------------------------ load and leaks

def _settled_baseline(wd):
    assert no_children(wd)
    time.sleep(0.3)
    return fd_count(wd.pid)


def _fds_back(wd, baseline):
    ok = wait_for(lambda: fd_count(wd.pid) <= baseline, 15)
    return ok, helpers.fd_targets(wd.pid)


def test_1000_requests_no_leaks(start_watchdog):
    wd = start_watchdog("/bin/cat")
    for _ in range(3):
        assert wd.request("POST", "/", b"warm").status == 200
    baseline = _settled_baseline(wd)

    def worker(i):
        errors = []
        conn = http.client.HTTPConnection("127.0.0.1", wd.port, timeout=60)
        for j in range(50):
            body = f"req-{i}-{j}|".encode() * (j + 1)
            try:
                conn.request("POST", f"/?i={i}&j={j}", body=body,
                             headers={"X-Call-Id": f"c{i}-{j}"})
                r = conn.getresponse()
                data = r.read()
                if r.status != 200 or data != body:
                    errors.append((i, j, r.status, data[:100]))
            except (OSError, http.client.HTTPException) as e:
                errors.append((i, j, repr(e)))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", wd.port, timeout=60)
        conn.close()
        return errors

    with ThreadPoolExecutor(20) as ex:
        errors = [e for errs in ex.map(worker, range(20)) for e in errs]
    assert errors == [], f"{len(errors)} failures, first: {errors[:5]}"
    assert wd.alive()
    assert no_children(wd), f"children left: {children(wd.pid)}"
    ok, fds = _fds_back(wd, baseline)
    assert ok, f"fds {len(fds)} > baseline {baseline}: {fds}"
    assert set(helpers.tagged_pids(wd.tag)) <= {wd.pid}
    assert wd.request("GET", "/_/health").status == 200


def test_concurrency_with_max_inflight_no_leaks(start_watchdog, tmp_path):
    marker = tmp_path / "m"
    marker.mkdir()
    wd = start_watchdog(sh("slow.sh", marker, "0.2"), {"max_inflight": "2"})
    assert wd.request("GET", "/").status == 200
    baseline = _settled_baseline(wd)

    def worker(i):
        out = []
        for _ in range(10):
            try:
                r = wd.request("GET", "/")
                out.append(r.status)
            except OSError as e:
                out.append(repr(e))
        return out

    with ThreadPoolExecutor(10) as ex:
        statuses = [s for ss in ex.map(worker, range(10)) for s in ss]
    assert set(statuses) <= {200, 429}, statuses
    assert 200 in statuses and 429 in statuses, statuses
    assert no_children(wd), f"children left: {children(wd.pid)}"
    ok, fds = _fds_back(wd, baseline)
    assert ok, f"fds {len(fds)} > baseline {baseline}: {fds}"


# ------------------------------------------------------------ bad clients

MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"\x00\x01\x02\xff\r\n\r\n",
]


def test_malformed_requests_do_not_hurt(start_watchdog):
    wd = start_watchdog("/bin/cat")
    baseline = _settled_baseline(wd)
    for data in MALFORMED:
        try:
            with wd.raw(timeout=20) as c:
                try:
                    c.send(data)
                except OSError:
                    pass
                r = c.read_response()
                assert r.status >= 400, (data[:60], r)
        except (ConnectionError, ValueError, socket.timeout):
            pass  # closing the connection is a fine answer too
        assert wd.alive(), wd.log()
    assert wd.request("POST", "/", b"ok").body == b"ok"
    assert no_children(wd)
    ok, fds = _fds_back(wd, baseline)
    assert ok, f"fds {len(fds)} > baseline {baseline}: {fds}"


@pytest.mark.parametrize("partial", [
    b"POST / HTTP/1.1\r\nHost: x\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
], ids=["headers", "body"])
def test_slow_client_is_dropped_after_read_timeout(start_watchdog, partial):
    wd = start_watchdog("/bin/cat", {"read_timeout": "1"})
    with wd.raw() as c:
        c.send(partial)
        assert c.closed_by_peer(30), "connection still open long after read_timeout"
    assert wd.alive()
    assert no_children(wd)
    assert wd.request("GET", "/_/health").status == 200


def test_client_gone_mid_request(start_watchdog, tmp_path):
    marker = tmp_path / "m"
    marker.mkdir()
    wd = start_watchdog(sh("slow.sh", marker, 1))
    for _ in range(3):
        with wd.raw() as c:
            c.send(build_request("POST", "/", b"x", port=wd.port))
            assert wait_for(lambda: list(marker.iterdir()), 20)
        for f in marker.iterdir():
            f.unlink()
    assert no_children(wd)
    assert wd.alive(), wd.log()
    assert wd.request("GET", "/_/health").status == 200


# ------------------------------------------------------------ mode=http

def start_http_mode(start_watchdog, extra=None):
    up = helpers.free_port()
    env = {"mode": "http", "upstream_url": f"http://127.0.0.1:{up}"}
    env.update(extra or {})
    wd = start_watchdog(py("upstream.py", up), env)

    def ready():
        try:
            r = wd.request("GET", "/pid", timeout=10)
            return r if r.status == 200 else None
        except OSError:
            return None
    r = wait_for(ready, 30, 0.1)
    assert r, f"upstream never answered through the watchdog:\n{wd.log()}"
    return wd, int(r.body)


def test_http_mode_proxies_body_headers_status(start_watchdog):
    wd, upid = start_http_mode(start_watchdog)
    assert upid in helpers.descendants(wd.pid)
    body = os.urandom(100000)
    r = wd.request("POST", "/echo", body, {"Content-Type": "application/x-test"})
    assert r.status == 200, r
    assert r.body == body
    assert r.header("Content-Type") == "application/x-test"
    assert r.header("X-Upstream-Pid") == str(upid)
    r = wd.request("GET", "/status/418")
    assert r.status == 418, r
    assert r.header("X-Custom") == "teapot"
    assert r.body == b"status 418"


def test_http_mode_forwards_method_path_query_headers(start_watchdog):
    wd, _ = start_http_mode(start_watchdog)
    r = wd.request("PUT", "/inspect/sub?x=1&y=two", b"12345", {"X-Test": "abc"})
    assert r.status == 200, r
    doc = json.loads(r.body)
    assert doc["method"] == "PUT"
    assert doc["path"] == "/inspect/sub?x=1&y=two"
    assert doc["headers"].get("X-Test") == "abc", doc
    assert doc["body_len"] == 5


def test_http_mode_redirect_passes_unchanged(start_watchdog):
    wd, _ = start_http_mode(start_watchdog)
    r = wd.request("GET", "/redirect")
    assert r.status == 302, r
    assert r.header("Location") == "/elsewhere?x=1"
    assert r.header("X-Upstream") == "yes"
    assert r.body == b"moved"


def test_http_mode_restarts_dead_upstream(start_watchdog):
    wd, pid1 = start_http_mode(start_watchdog)
    os.kill(pid1, signal.SIGKILL)

    def new_pid():
        try:
            r = wd.request("GET", "/pid", timeout=10)
        except OSError:
            return None
        if r.status == 200 and int(r.body) != pid1:
            return int(r.body)
        return None
    pid2 = wait_for(new_pid, 30, 0.2)
    assert pid2, f"upstream not restarted:\n{wd.log()}"
    assert wait_for(lambda: helpers.proc_info(pid1) is None, 10), \
        f"old upstream {pid1} not reaped: {helpers.proc_info(pid1)}"
    assert wd.request("POST", "/echo", b"again").body == b"again"


def test_http_mode_exec_timeout_504(start_watchdog):
    wd, _ = start_http_mode(start_watchdog, {"exec_timeout": "1s"})
    r = wd.request("GET", "/slow?s=5", timeout=60)
    assert r.status == 504, r
    assert wd.request("GET", "/pid").status == 200


def test_http_mode_sigterm_stops_upstream(start_watchdog):
    wd, upid = start_http_mode(start_watchdog, {"healthcheck_interval": "1s"})
    wd.signal(signal.SIGTERM)
    assert wd.wait_exit(40) == 0, wd.log()
    assert wait_for(lambda: pid_gone(upid), 15), f"upstream {upid} outlived the watchdog"
