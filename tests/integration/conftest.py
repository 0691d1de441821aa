"""Fixtures shared by the cfaas integration suites.

- reaper: kills every server (and what it started) at teardown, and fails
  the test when a sanitizer report shows up in a server's stderr.
- start_watchdog(fprocess, env=None, wait="health"): starts bin/cfaas-watchdog
  on a free 127.0.0.1 port with its own TMPDIR and returns a helpers.Server.
  wait: "health" (GET /_/health == 200), "listen" (TCP accepts), or None.

Binaries come from $CFAAS_BIN_DIR (default <repo>/bin).
"""

import os
import sys
import itertools

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402


@pytest.fixture
def reaper():
    r = helpers.Reaper()
    try:
        yield r
    finally:
        r.kill()
    reports = r.sanitizer_reports()
    if reports:
        pytest.fail("sanitizer report in server stderr:\n" +
                    "\n".join(f"{exe}:\n{rep}" for exe, rep in reports), pytrace=False)


@pytest.fixture(scope="session")
def watchdog_bin():
    path = helpers.binary("cfaas-watchdog")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found or not executable (run `make`, or set CFAAS_BIN_DIR)",
                    pytrace=False)
    return path


@pytest.fixture
def start_watchdog(watchdog_bin, reaper, tmp_path):
    counter = itertools.count()

    def start(fprocess, env=None, wait="health", timeout=20.0):
        for attempt in range(3):
            port = helpers.free_port()
            e = {"fprocess": fprocess, "port": port, "bind_address": "127.0.0.1"}
            e.update(env or {})
            if "port" in (env or {}):
                port = None
            srv = helpers.Server(watchdog_bin, e, tmp_path / f"wd{next(counter)}", port)
            reaper.add(srv)
            srv.start()
            try:
                if wait == "health":
                    srv.wait_http("/_/health", 200, timeout)
                elif wait == "listen":
                    srv.wait_listening(timeout)
                return srv
            except RuntimeError:
                # Somebody else took the port between free_port() and bind().
                log = srv.log().lower()
                if attempt < 2 and ("in use" in log or "eaddrinuse" in log):
                    srv.kill_all()
                    continue
                raise
        raise AssertionError("unreachable")

    return start
