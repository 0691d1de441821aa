"""Integration tests of the admin UI (DESIGN.md sections 1 and 3).

Two parts, each against a real bin/cfaas-gateway of its own:

- HTTP, from Python: /ui/ is behind basic auth (401 with the Basic
  challenge), every file of ui/ is served byte for byte from the binary
  with its content type, ETag (If-None-Match -> 304) and Cache-Control,
  unknown assets are 404, / and /ui redirect to /ui/, HEAD works, the page
  weighs under 200 KiB, and /system/stats counts calls and 5xx answers.
- The browser: tests/ui/ui.test.mjs drives headless Debian chromium with
  playwright-core (npm, no browser download): log in, failed deploys shown
  by field, deploy through the form, ready, invoke, rates, logs followed
  live, scale to 2 and 0, an async call with a callback to completion, a
  dead letter re-queued, a queued call cancelled, secrets, delete; and a
  narrow screen. It saves
  screenshots of the main views in build/ui-screenshots/ (not in git).

This gateway runs with nats-server on its PATH (Debian installs it in
/usr/sbin), so it starts its own and async calls work. The browser test is
skipped, saying why, when chromium or node is missing; `npm ci --prefix
tests/ui` is run when tests/ui/node_modules is absent.
"""

import os
import re
import shutil
import subprocess
import time

import pytest

from gateway_fixtures import start_gateway  # noqa: F401 (fixture)
from helpers import REPO

UI_DIR = REPO / "ui"
UI_TESTS = REPO / "tests" / "ui"
SHOTS = REPO / "build" / "ui-screenshots"
CHROMIUM = os.environ.get("CFAAS_CHROMIUM", "/usr/bin/chromium")
NATS_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
PAGE_WEIGHT_MAX = 200 * 1024

TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
         ".svg": "image/svg+xml"}


def ui_files():
    return sorted(p for p in UI_DIR.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_ui_http(start_gateway):  # noqa: F811
    gw = start_gateway()
    # Basic auth: the browser shows its dialog on this challenge.
    r = gw.api("GET", "/ui/", auth=False)
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == 'Basic realm="Restricted"'
    assert gw.api("GET", "/ui/app.js", auth=False).status == 401
    assert gw.api("GET", "/system/stats", auth=False).status == 401
    assert gw.api("GET", "/ui/", headers={"Authorization": gw.auth_header(password="wrong")},
                  auth=False).status == 401

    # Redirects to the UI.
    r = gw.api("GET", "/", auth=False)
    assert r.status == 302 and r.header("Location") == "/ui/", r
    r = gw.api("GET", "/ui", auth=False)
    assert r.status == 301 and r.header("Location") == "/ui/", r

    # Every file of ui/ is served as it is in the tree.
    files = ui_files()
    assert {f.name for f in files} >= {"index.html", "app.js", "style.css"}
    total = 0
    etags = set()
    for f in files:
        rel = f.relative_to(UI_DIR).as_posix()
        r = gw.api("GET", f"/ui/{rel}")
        assert r.status == 200, (rel, r)
        assert r.body == f.read_bytes(), f"{rel}: served bytes differ from the file (stale build?)"
        want = TYPES.get(f.suffix)
        if want:
            assert r.header("Content-Type").startswith(want), (rel, r.header("Content-Type"))
        assert r.header("X-Content-Type-Options") == "nosniff"
        assert r.header("Cache-Control") == "no-cache"
        etag = r.header("ETag")
        assert re.fullmatch(r'"[0-9a-f]{16}"', etag), etag
        etags.add(etag)
        r2 = gw.api("GET", f"/ui/{rel}", headers={"If-None-Match": f'"nope", {etag}'})
        assert r2.status == 304 and r2.body == b"" and r2.header("ETag") == etag, r2
        r3 = gw.api("GET", f"/ui/{rel}", headers={"If-None-Match": '"0000000000000000"'})
        assert r3.status == 200
        total += len(r.body)
    assert len(etags) == len(files)
    assert total < PAGE_WEIGHT_MAX, f"the UI weighs {total} bytes"

    # The index is the page at /ui/, with a policy that keeps it to itself.
    r = gw.api("GET", "/ui/")
    assert r.status == 200 and r.body == (UI_DIR / "index.html").read_bytes()
    assert "default-src 'self'" in r.header("Content-Security-Policy")
    assert r.header("X-Frame-Options") == "DENY"
    r = gw.api("HEAD", "/ui/style.css")
    assert r.status == 200 and r.body == b""
    for bad in ("/ui/nope.js", "/ui/../gateway/main.c", "/ui/index.html/x", "/ui/.hidden"):
        assert gw.api("GET", bad).status == 404, bad
    assert gw.api("POST", "/ui/", b"").status == 405

    # /system/stats: calls and 5xx answers per function, for the rates.
    gw.deploy("ok-fn", "cat")
    gw.deploy("bad-fn", "false")
    gw.wait_available("ok-fn", 1)
    gw.wait_available("bad-fn", 1)
    for _ in range(3):
        assert gw.invoke("ok-fn", body=b"x").status == 200
    for _ in range(2):
        assert gw.invoke("bad-fn", body=b"x").status == 500
    s = gw.json("GET", "/system/stats")
    assert abs(s["timestamp"] - time.time() * 1000) < 60000, s
    by = {f["name"]: f for f in s["functions"]}
    assert by["ok-fn"] == {"name": "ok-fn", "namespace": "openfaas-fn", "invocations": 3,
                           "errors": 0, "inflight": 0}, s
    assert by["bad-fn"]["invocations"] == 2 and by["bad-fn"]["errors"] == 2, s


def _browser_ready():
    """None when the browser test can run, else why not."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not installed (scripts/install-deps.sh test installs chromium)"
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node or npm is not installed (scripts/install-deps.sh test installs them)"
    if not (UI_TESTS / "node_modules" / "playwright-core").is_dir():
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        p = subprocess.run([npm, "ci", "--prefix", str(UI_TESTS), "--no-audit", "--no-fund"],
                           env=env, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            return f"`npm ci --prefix tests/ui` failed:\n{p.stderr[-2000:]}"
    return None


def test_ui_browser(start_gateway):  # noqa: F811
    why = _browser_ready()
    if why:
        pytest.skip(why)
    # One async call at a time, so the test can cancel one that waits.
    gw = start_gateway(args=["--queue-max-inflight", "1"], env={"PATH": NATS_PATH})
    if not shutil.which("nats-server", path=NATS_PATH):
        pytest.fail("nats-server is not installed: the browser test follows an async call "
                    "(scripts/install-deps.sh test installs it)", pytrace=False)
    if not gw.server.wait_log(r"async calls ready", 30):
        pytest.fail("the gateway's async calls never became ready (embedded nats-server):\n"
                    + gw.server.log()[-4000:], pytrace=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    env = dict(os.environ, CFAAS_URL=f"http://127.0.0.1:{gw.port}", CFAAS_USER=gw.user,
               CFAAS_PASSWORD=gw.password, SCREENSHOT_DIR=str(SHOTS), CHROMIUM=CHROMIUM)
    try:
        p = subprocess.run([shutil.which("node"), str(UI_TESTS / "ui.test.mjs")], env=env,
                           cwd=str(REPO), capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the browser test ran over 240 s:\n{e.stdout or ''}\n{e.stderr or ''}",
                    pytrace=False)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and "ALL OK" in p.stdout, (
        f"browser test failed (screenshots in {SHOTS}):\n{out[-6000:]}\n"
        f"--- gateway log ---\n{gw.server.log()[-4000:]}")
    shots = {f.name for f in SHOTS.glob("*.png")}
    for name in ("functions", "function", "deploy-error", "invoke", "call", "calls",
                 "secrets", "delete-confirm", "functions-narrow"):
        assert f"{name}.png" in shots, f"screenshot {name}.png missing from {SHOTS}"
    m = re.search(r"page weight (\d+) bytes", p.stdout)
    assert m and int(m.group(1)) < PAGE_WEIGHT_MAX, p.stdout
