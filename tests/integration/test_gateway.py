"""Integration tests for cfaas-gateway (DESIGN.md sections 3, 4, 7 and 9).

The real bin/cfaas-gateway with real watchdog replicas (the process
provider: watchdog children of the gateway; as root they run as `nobody` in
their own mount namespace), on free 127.0.0.1 ports; tests talk HTTP to
127.0.0.1 only. Most tests use the `gateway` fixture, a gateway shared by
the module and emptied between tests (every function and secret deleted,
no replica left), since a gateway takes seconds to stop. Tests that need
their own flags or stop the gateway use `start_gateway`. Teardown stops
every gateway (SIGTERM, then SIGKILL), kills whatever descends from it,
and fails on a sanitizer report in the gateway's stderr or in the replica
logs (see gateway_fixtures.py).

Handlers: handlers/gw_handler.py (request echo as JSON, secret reader,
sleeper) and the existing handlers/upstream.py for a mode=http function.

Covered: every route and its status codes, basic auth, 405/404/413/400,
the JSON shapes (omitempty, image, faas_function), namespaces from the
body and from ?namespace=, secrets CRUD and secret files, invocation
(methods, query, sub-path, binary and 32 MiB bodies, call headers,
X-Forwarded-For, redirects), scaling 1 -> 3 -> 0 -> call, a killed
replica, a gateway restart, logs (tail, instance, follow), metrics, bad
clients, and a graceful shutdown with a call in flight.

Run: /usr/bin/python3 -m pytest tests/integration/test_gateway.py -q
     CFAAS_BIN_DIR=build/asan/bin /usr/bin/python3 -m pytest tests/integration/test_gateway.py -q
No assertion depends on how fast anything is; deadlines are liveness bounds.
"""

import base64
import hashlib
import json
import os
import pwd
import re
import resource
import signal
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

import helpers
from gateway_fixtures import (_shared_gateway, gateway, metric_lines,  # noqa: F401 (fixtures)
                              start_gateway)
from helpers import PYTHON, build_request, exchange, handler, pid_gone, wait_for

HANDLER = f"{PYTHON} {handler('gw_handler.py')}"
NS = "openfaas-fn"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def handler_doc(resp):
    assert resp.status == 200, resp
    return json.loads(resp.body)


def names(listing):
    return sorted(f["name"] for f in listing)


# ================================================================ basics

def test_healthz_root_and_info(gateway):
    r = gateway.api("GET", "/healthz", auth=False)
    assert r.status == 200, r
    r = gateway.api("HEAD", "/healthz", auth=False)
    assert r.status == 200, r
    r = gateway.api("GET", "/", auth=False)
    assert r.status == 302, r
    assert r.header("Location") == "/ui/", r.headers

    info = gateway.json("GET", "/system/info")
    assert isinstance(info, dict), info
    assert "provider" in info, info
    assert info["provider"].get("orchestration") == "process", info
    assert info["version"].get("release"), info
    assert info.get("arch"), info

    ns = gateway.json("GET", "/system/namespaces")
    assert isinstance(ns, list) and NS in ns, ns


# Routes behind basic auth, with a body where the route reads one.
AUTH_ROUTES = [
    ("GET", "/system/functions", None),
    ("POST", "/system/functions", {"service": "authfn", "image": "x", "envProcess": "cat"}),
    ("PUT", "/system/functions", {"service": "authfn", "image": "x", "envProcess": "cat"}),
    ("DELETE", "/system/functions", {"functionName": "authfn"}),
    ("GET", "/system/function/authfn", None),
    ("POST", "/system/scale-function/authfn", {"serviceName": "authfn", "replicas": 2}),
    ("GET", "/system/secrets", None),
    ("POST", "/system/secrets", {"name": "auth-secret", "value": "v"}),
    ("PUT", "/system/secrets", {"name": "auth-secret", "value": "v"}),
    ("DELETE", "/system/secrets", {"name": "auth-secret"}),
    ("GET", "/system/logs?name=authfn", None),
    ("GET", "/system/info", None),
    ("GET", "/system/namespaces", None),
    ("GET", "/system/calls", None),
    ("GET", "/system/calls/0f038c9a-ccdd-4259-8ebe-6c1f73bf0fbf", None),
]


def test_basic_auth_on_every_system_route(gateway):
    bad = {
        "none": None,
        "wrong password": gateway.auth_header(password=gateway.password + "x"),
        "wrong user": gateway.auth_header(user=gateway.user + "x"),
        "empty password": gateway.auth_header(password=""),
        "not base64": "Basic !!!not-base64!!!",
        "bearer": "Bearer " + gateway.password,
        "no colon": "Basic " + base64.b64encode(gateway.user.encode()).decode(),
    }
    problems = []
    for method, path, body in AUTH_ROUTES:
        for what, value in bad.items():
            headers = {"Authorization": value} if value else {}
            data = json.dumps(body).encode() if body is not None else None
            r = gateway.api(method, path, data, headers, auth=False)
            if r.status != 401:
                problems.append(f"{method} {path} ({what}): {r.status} {r.body[:100]!r}")
            elif r.header("WWW-Authenticate") != 'Basic realm="Restricted"':
                problems.append(f"{method} {path} ({what}): WWW-Authenticate "
                                f"{r.header('WWW-Authenticate')!r}")
    # Nothing was done by the refused requests.
    assert gateway.json("GET", "/system/functions") == []
    assert gateway.json("GET", "/system/secrets") == []
    # With the right credentials none of them is 401.
    for method, path, body in AUTH_ROUTES:
        r = gateway.api(method, path, body)
        if r.status == 401:
            problems.append(f"{method} {path} with credentials: 401")
    assert problems == [], "\n".join(problems)
    # The open routes need none.
    assert gateway.api("GET", "/healthz", auth=False).status == 200
    assert gateway.api("GET", "/metrics", auth=False).status == 200


WRONG_METHODS = [
    ("PATCH", "/system/functions", {"GET", "POST", "PUT", "DELETE"}),
    ("DELETE", "/system/function/x", {"GET"}),
    ("GET", "/system/scale-function/x", {"POST"}),
    ("PUT", "/system/scale-function/x", {"POST"}),
    ("PATCH", "/system/secrets", {"GET", "POST", "PUT", "DELETE"}),
    ("POST", "/system/logs", {"GET"}),
    ("POST", "/system/info", {"GET"}),
    ("DELETE", "/system/namespaces", {"GET"}),
    ("POST", "/healthz", {"GET"}),
    ("PUT", "/metrics", {"GET"}),
]


def test_wrong_method_is_405_with_allow(gateway):
    problems = []
    for method, path, want in WRONG_METHODS:
        r = gateway.api(method, path, b"{}" if method != "GET" else None)
        allow = {m.strip() for m in (r.header("Allow") or "").split(",") if m.strip()}
        if r.status != 405:
            problems.append(f"{method} {path}: {r.status} {r.body[:100]!r}")
        elif not want <= allow or method in allow:
            problems.append(f"{method} {path}: Allow {r.header('Allow')!r}, want {sorted(want)}")
    assert problems == [], "\n".join(problems)


def test_unknown_paths_are_404(gateway):
    problems = []
    for path in ["/nope", "/system", "/system/", "/system/nope", "/system/functions/extra",
                 "/systemfunctions", "/functions", "/function", "/system/function/nope",
                 "/system/logs?name=nope", "/function/nope", "/function/nope/sub?x=1"]:
        r = gateway.api("GET", path)
        if r.status != 404:
            problems.append(f"GET {path}: {r.status} {r.body[:100]!r}")
    for path in ["/function/nope", "/async-function/nope"]:
        r = gateway.api("POST", path, b"x", auth=False)
        if r.status != 404:
            problems.append(f"POST {path}: {r.status} {r.body[:100]!r}")
    r = gateway.api("POST", "/system/scale-function/nope", {"serviceName": "nope", "replicas": 1})
    if r.status != 404:
        problems.append(f"scale of an unknown function: {r.status}")
    assert problems == [], "\n".join(problems)


# ================================================================ functions

def test_deploy_update_delete_status_codes(gateway):
    gateway.deploy("fn1", "cat")
    gateway.deploy("fn1", "cat", want=409)
    gateway.deploy("fn1", "cat", method="PUT", envVars={"A": "1"})
    gateway.deploy("ghost", "cat", method="PUT", want=404)
    assert names(gateway.json("GET", "/system/functions")) == ["fn1"]
    st = gateway.wait_available("fn1", 1)
    assert st["envVars"] == {"A": "1"}, st
    assert gateway.invoke("fn1", body=b"ping").body == b"ping"
    gateway.wait_watchdogs(1)  # the replica of before the update drains and goes

    r = gateway.api("DELETE", "/system/functions", {"functionName": "fn1"})
    assert r.status == 202, r
    r = gateway.api("DELETE", "/system/functions", {"functionName": "fn1"})
    assert r.status == 404, r
    r = gateway.api("DELETE", "/system/functions", {"functionName": "never-there"})
    assert r.status == 404, r
    for body in [b"{", b"", b"[]", b"{}", b'{"functionName": 5}']:
        r = gateway.api("DELETE", "/system/functions", body)
        assert r.status == 400, (body, r)
    assert gateway.api("GET", "/system/function/fn1").status == 404
    assert gateway.json("GET", "/system/functions") == []
    assert gateway.invoke("fn1", body=b"x").status == 404
    gateway.wait_watchdogs(0)
    # The name is free again.
    gateway.deploy("fn1", "cat")
    gateway.wait_available("fn1", 1)


BAD_DEPLOYMENTS = [
    ("malformed JSON", b'{"service": "x", "image": '),
    ("not JSON", b"service=x&image=y"),
    ("JSON array", b'[{"service": "x", "image": "y"}]'),
    ("empty body", b""),
    ("missing service", {"image": "y", "envProcess": "cat"}),
    ("missing image", {"service": "x", "envProcess": "cat"}),
    ("service not a string", {"service": 5, "image": "y", "envProcess": "cat"}),
    ("upper case", {"service": "Echo", "image": "y", "envProcess": "cat"}),
    ("dot dot slash", {"service": "../x", "image": "y", "envProcess": "cat"}),
    ("slash", {"service": "a/b", "image": "y", "envProcess": "cat"}),
    ("64 characters", {"service": "a" * 64, "image": "y", "envProcess": "cat"}),
    ("leading dash", {"service": "-x", "image": "y", "envProcess": "cat"}),
    ("empty name", {"service": "", "image": "y", "envProcess": "cat"}),
    ("bad namespace", {"service": "x", "image": "y", "envProcess": "cat", "namespace": "Team_A"}),
    ("unknown secret", {"service": "x", "image": "y", "envProcess": "cat", "secrets": ["nope"]}),
    ("bad scale label", {"service": "x", "image": "y", "envProcess": "cat",
                         "labels": {"com.openfaas.scale.max": "lots"}}),
    ("deeply nested", b"[" * 100000),
]


def test_bad_deployments_are_400_and_store_nothing(gateway):
    # "x" exists, so a PUT of each bad body is refused for the body alone.
    gateway.deploy("x", "cat", image="y")
    before = gateway.wait_available("x", 1)
    [wd] = gateway.wait_watchdogs(1)
    problems = []
    for what, body in BAD_DEPLOYMENTS:
        for method in ("POST", "PUT"):
            b = body
            if method == "POST" and isinstance(body, dict) and body.get("service") == "x":
                b = dict(body, service="new")
            r = gateway.api(method, "/system/functions", b)
            if r.status != 400:
                problems.append(f"{method} {what}: {r.status} {r.body[:120]!r}")
            elif not r.body.strip() or len(r.body.strip().splitlines()) != 1:
                problems.append(f"{method} {what}: 400 without a one-line reason: {r.body[:200]!r}")
    assert problems == [], "\n".join(problems)
    assert gateway.json("GET", "/system/functions") == [before]
    assert gateway.watchdogs() == [wd]
    # The longest valid name works.
    gateway.deploy("a" * 63, "cat")
    gateway.wait_available("a" * 63, 1)


def test_invalid_names_in_paths_are_400(gateway):
    gateway.deploy("ok", "cat")
    problems = []
    for name in ["Echo", "../x", "a/b", "a%2Fb", "a" * 64, "-x", "x_y"]:
        for method, path, body in [
            ("GET", f"/system/function/{name}", None),
            ("POST", f"/system/scale-function/{name}", {"serviceName": "ok", "replicas": 1}),
            ("POST", f"/function/{name}", b"x"),
        ]:
            if path == "/function/a/b":
                continue  # function "a", sub-path "/b": a 404, not a bad name
            r = gateway.api(method, path, body)
            if r.status != 400:
                problems.append(f"{method} {path}: {r.status} {r.body[:100]!r}")
    r = gateway.api("DELETE", "/system/functions", {"functionName": "../x"})
    if r.status != 400:
        problems.append(f"DELETE ../x: {r.status}")
    r = gateway.api("GET", "/system/logs?name=..%2Fx")
    if r.status != 400:
        problems.append(f"logs of ../x: {r.status}")
    assert problems == [], "\n".join(problems)
    assert names(gateway.json("GET", "/system/functions")) == ["ok"]


def test_scale_codes_and_max_label(gateway):
    gateway.deploy("capped", "cat", labels={"com.openfaas.scale.max": "2"})
    gateway.wait_available("capped", 1)
    gateway.scale("capped", 2)
    r = gateway.scale("capped", 3, want=400)
    assert "max" in r.text, r
    gateway.scale("nope", 1, want=404)
    for body in [b"{", b'{"serviceName": "capped", "replicas": -1}',
                 b'{"serviceName": "capped", "replicas": "two"}', b'{"serviceName": "capped"}']:
        r = gateway.api("POST", "/system/scale-function/capped", body)
        assert r.status == 400, (body, r)
    st = gateway.wait_available("capped", 2)
    assert st["replicas"] == 2, st
    gateway.wait_watchdogs(2)


def test_namespace_from_body_and_query(gateway):
    gateway.deploy("nsfn", "cat", namespace="team-a")
    assert gateway.json("GET", "/system/functions") == []
    listed = gateway.json("GET", "/system/functions?namespace=team-a")
    assert names(listed) == ["nsfn"] and listed[0]["namespace"] == "team-a", listed
    assert "team-a" in gateway.json("GET", "/system/namespaces")
    assert gateway.status("nsfn") is None
    gateway.wait_available("nsfn", 1, query="?namespace=team-a")
    assert gateway.status("nsfn.team-a")["namespace"] == "team-a"
    r = gateway.invoke("nsfn.team-a", body=b"in team-a")
    assert r.status == 200 and r.body == b"in team-a", r

    # scale: ?namespace=, then the body's namespace; neither: not found.
    gateway.scale("nsfn", 2, query="?namespace=team-a")
    assert gateway.status("nsfn", "?namespace=team-a")["replicas"] == 2
    gateway.scale("nsfn", 1, namespace="team-a")
    assert gateway.status("nsfn", "?namespace=team-a")["replicas"] == 1
    gateway.scale("nsfn", 2, want=404)

    # delete: without a namespace it is not found; ?namespace= works.
    r = gateway.api("DELETE", "/system/functions", {"functionName": "nsfn"})
    assert r.status == 404, r
    r = gateway.api("DELETE", "/system/functions?namespace=team-a", {"functionName": "nsfn"})
    assert r.status == 202, r
    assert gateway.json("GET", "/system/functions?namespace=team-a") == []

    # Secrets belong to a namespace: one of openfaas-fn is unknown in team-b.
    r = gateway.api("POST", "/system/secrets", {"name": "ns-secret", "value": "default"})
    assert r.status == 201, r
    r = gateway.api("POST", "/system/functions", {"service": "withsec", "image": "x",
                                                  "envProcess": "cat", "namespace": "team-b",
                                                  "secrets": ["ns-secret"]})
    assert r.status == 400, r
    r = gateway.api("POST", "/system/secrets", {"name": "ns-secret", "value": "b",
                                                "namespace": "team-b"})
    assert r.status == 201, r
    assert [x["name"] for x in gateway.json("GET", "/system/secrets?namespace=team-b")] == \
        ["ns-secret"]
    gateway.deploy("withsec", "cat", namespace="team-b", secrets=["ns-secret"])
    r = gateway.api("DELETE", "/system/functions?namespace=team-b", {"functionName": "withsec"})
    assert r.status == 202, r

    # deploy with ?namespace=, delete with the namespace in the body.
    r = gateway.api("POST", "/system/functions?namespace=team-b",
                    {"service": "nsfn", "image": "x", "envProcess": "cat"})
    assert r.status == 202, r
    assert names(gateway.json("GET", "/system/functions?namespace=team-b")) == ["nsfn"]
    r = gateway.api("DELETE", "/system/functions", {"functionName": "nsfn", "namespace": "team-b"})
    assert r.status == 202, r
    assert gateway.json("GET", "/system/functions?namespace=team-b") == []
    gateway.wait_watchdogs(0)


# ================================================================ JSON shapes

ODD_IMAGE = "Registry.Example.COM:5000/Odd_Org/fn.Name:v1.0-RC+build_7@sha256:ABCdef0123 ü"
OMITTED_WHEN_UNSET = ["envVars", "secrets", "constraints", "annotations", "limits", "requests",
                      "readOnlyRootFilesystem", "invocationCount", "service"]


def test_status_json_shape_and_omitempty(gateway):
    gateway.deploy("plain", "cat", image=ODD_IMAGE)
    st = gateway.wait_available("plain", 1)
    assert st["name"] == "plain", st
    assert st["namespace"] == NS, st
    assert st["image"] == ODD_IMAGE, st
    assert st["envProcess"] == "cat", st
    assert st["labels"].get("faas_function") == "plain", st
    assert st["replicas"] == 1 and st["availableReplicas"] == 1, st
    assert RFC3339_RE.match(st["createdAt"]), st
    for key in OMITTED_WHEN_UNSET:
        assert key not in st, (key, st)
    r = gateway.api("GET", "/system/function/plain")
    assert (r.header("Content-Type") or "").startswith("application/json"), r.headers
    raw = r.body
    assert ODD_IMAGE.encode() in raw or json.dumps(ODD_IMAGE).encode()[1:-1] in raw, raw

    listed = gateway.json("GET", "/system/functions")
    assert len(listed) == 1
    assert listed[0]["image"] == ODD_IMAGE
    assert listed[0]["labels"].get("faas_function") == "plain"
    for key in OMITTED_WHEN_UNSET:
        assert key not in listed[0], (key, listed[0])

    # After a call invocationCount appears.
    assert gateway.invoke("plain", body=b"x").status == 200
    assert wait_for(lambda: gateway.status("plain").get("invocationCount") == 1, 10), \
        gateway.status("plain")

    # Everything that was set comes back; labels keep faas_function.
    full = dict(envVars={"A": "1", "B": "two words"}, labels={"team": "x"},
                annotations={"note": "hello"}, secrets=[], constraints=["zone=a"],
                limits={"memory": "128Mi"}, requests={"cpu": "100m"},
                readOnlyRootFilesystem=True)
    gateway.deploy("full", "cat", **full)
    st = gateway.wait_available("full", 1)
    assert st["envVars"] == full["envVars"], st
    assert st["labels"].get("team") == "x" and st["labels"].get("faas_function") == "full", st
    assert st["annotations"] == {"note": "hello"}, st
    assert st["constraints"] == ["zone=a"], st
    assert st["limits"].get("memory") == "128Mi", st
    assert st["requests"].get("cpu") == "100m", st
    assert st["readOnlyRootFilesystem"] is True, st
    assert "secrets" not in st, st  # an empty list is left out

    # At 0 replicas, replicas and availableReplicas vanish.
    gateway.scale("plain", 0)
    gateway.wait_watchdogs(1)  # only "full" is left running
    st = wait_for(lambda: (lambda s: s if "availableReplicas" not in s else None)(
        gateway.status("plain")), 15)
    assert st, gateway.status("plain")
    assert "replicas" not in st and "availableReplicas" not in st, st


# ================================================================ secrets

def test_secrets_crud(gateway):
    value = "top-secret-value-1234"
    r = gateway.api("POST", "/system/secrets", {"name": "s1", "value": value})
    assert r.status == 201, r
    r = gateway.api("POST", "/system/secrets", {"name": "s1", "value": "again"})
    assert r.status == 409, r
    r = gateway.api("PUT", "/system/secrets", {"name": "s1", "value": value + "-v2"})
    assert r.status == 202, r
    r = gateway.api("PUT", "/system/secrets", {"name": "unknown", "value": "x"})
    assert r.status == 404, r
    raw = base64.b64encode(b"\x00raw\xffbytes").decode()
    r = gateway.api("POST", "/system/secrets", {"name": "s2", "rawValue": raw})
    assert r.status == 201, r
    r = gateway.api("POST", "/system/secrets?namespace=team-a", {"name": "s1", "value": value})
    assert r.status == 201, r

    for body in [b"{", {"value": "x"}, {"name": "s3"}, {"name": "Bad_Name", "value": "x"},
                 {"name": "../x", "value": "x"}, {"name": "s3", "rawValue": "***"}]:
        r = gateway.api("POST", "/system/secrets", body)
        assert r.status == 400, (body, r)
    r = gateway.api("POST", "/system/secrets", {"name": "big", "value": "v" * (1024 * 1024 + 1)})
    assert r.status == 413, r

    r = gateway.api("GET", "/system/secrets")
    assert r.status == 200, r
    listed = json.loads(r.body)
    assert sorted(s["name"] for s in listed) == ["s1", "s2"], listed
    for s in listed:
        assert set(s) <= {"name", "namespace"}, s
    assert value.encode() not in r.body and raw.encode() not in r.body, r.body
    listed = gateway.json("GET", "/system/secrets?namespace=team-a")
    assert [s["name"] for s in listed] == ["s1"], listed

    r = gateway.api("DELETE", "/system/secrets", {"name": "s1"})
    assert r.status == 202, r
    r = gateway.api("DELETE", "/system/secrets", {"name": "s1"})
    assert r.status == 404, r
    r = gateway.api("DELETE", "/system/secrets", {"name": "never"})
    assert r.status == 404, r
    assert [s["name"] for s in gateway.json("GET", "/system/secrets")] == ["s2"]
    r = gateway.api("DELETE", "/system/secrets?namespace=team-a", {"name": "s1"})
    assert r.status == 202, r
    assert gateway.json("GET", "/system/secrets?namespace=team-a") == []


def test_secret_files_hold_exact_bytes(gateway):
    text = b"s3cr3t value with spaces\nand a second line\n"
    binary = b"\x00\x01\x02\xff\xfe\x00end\r\n\x00"
    r = gateway.api("POST", "/system/secrets", {"name": "api-key", "value": text.decode()})
    assert r.status == 201, r
    r = gateway.api("POST", "/system/secrets",
                    {"name": "bin-key", "rawValue": base64.b64encode(binary).decode()})
    assert r.status == 201, r
    gateway.deploy("sec", HANDLER, secrets=["api-key", "bin-key"])
    gateway.deploy("nosec", HANDLER)
    gateway.wait_available("sec", 1)
    gateway.wait_available("nosec", 1)

    r = gateway.invoke("sec", "/secret/api-key", method="GET")
    assert r.status == 200 and r.body == text, r
    r = gateway.invoke("sec", "/secret/bin-key", method="GET")
    assert r.status == 200 and r.body == binary, r
    doc = handler_doc(gateway.invoke("sec", "/", method="GET"))
    assert doc["secret_mount_path"], doc
    if os.geteuid() == 0:
        assert doc["uid"] == pwd.getpwnam("nobody").pw_uid, doc
    # A function that does not list a secret cannot read it.
    r = gateway.invoke("nosec", "/secret/api-key", method="GET")
    assert r.status != 200 and text not in r.body, r

    # An update reaches the function's replicas.
    r = gateway.api("PUT", "/system/secrets", {"name": "api-key", "value": "rotated"})
    assert r.status == 202, r

    def rotated():
        r = gateway.invoke("sec", "/secret/api-key", method="GET")
        return r.status == 200 and r.body == b"rotated"
    assert wait_for(rotated, 30, 0.1), gateway.invoke("sec", "/secret/api-key", method="GET")


# ================================================================ invoking

@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_invoke_method_query_and_subpath(gateway, method):
    gateway.deploy("echoenv", HANDLER)
    gateway.wait_available("echoenv", 1)
    body = None if method == "GET" else b"0123456789"
    doc = handler_doc(gateway.invoke("echoenv", "/sub/path?x=1&y=two%20words", body, method))
    assert doc["method"] == method, doc
    assert doc["path"] == "/sub/path", doc
    assert doc["query"] == "x=1&y=two%20words", doc
    assert doc["body_len"] == (len(body) if body else 0), doc
    # No sub-path, no query.
    doc = handler_doc(gateway.invoke("echoenv", "", body, method))
    assert doc["path"] == "/", doc
    assert doc["query"] is None, doc
    assert doc["method"] == method, doc


def test_binary_bodies_round_trip(gateway):
    gateway.deploy("cat", "cat")
    gateway.wait_available("cat", 1)
    body = bytes(range(256)) * 64 + b"\0" * 100 + b"\r\n\r\n" + b"\0"
    r = gateway.invoke("cat", "", body, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    assert r.body == body
    chunks = [b"\0first", os.urandom(100 * 1024), b"\0\0last\0"]
    with helpers.RawConn(gateway.port) as c:
        r = c.request("POST", "/function/cat", chunks=chunks)
    assert r.status == 200, r
    assert r.body == b"".join(chunks)
    # Several calls on one kept-alive client connection.
    with helpers.RawConn(gateway.port) as c:
        for i in range(5):
            data = b"\0" + str(i).encode() * 1000
            r = c.request("POST", "/function/cat", data)
            assert r.status == 200 and r.body == data, r


def test_call_headers_and_forwarding(gateway):
    gateway.deploy("hdrs", HANDLER)
    gateway.wait_available("hdrs", 1)
    before_ns = time.time_ns()
    r = gateway.invoke("hdrs", "/", b"x")
    doc = handler_doc(r)
    env = doc["env"]
    call_id = r.header("X-Call-Id")
    assert call_id and UUID_RE.match(call_id), r.headers
    assert env.get("Http_X_Call_Id") == call_id, env
    start = r.header("X-Start-Time")
    assert start and start.isdigit(), r.headers
    # Unix nanoseconds (loose bounds: a day either side).
    assert abs(int(start) - before_ns) < 86400 * 10**9, (start, before_ns)
    assert env.get("Http_X_Start_Time") == start, env
    assert env.get("Http_X_Forwarded_For") == "127.0.0.1", env
    assert env.get("Http_X_Forwarded_Host") == f"127.0.0.1:{gateway.port}", env
    assert r.header("X-Duration-Seconds") is not None, r.headers  # the watchdog's, copied

    # A client's X-Call-Id and X-Forwarded-For are kept (the latter extended);
    # hop-by-hop headers do not reach the function.
    r = gateway.invoke("hdrs", "/", b"x", headers={
        "X-Call-Id": "client-call-42", "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Host": "example.test", "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==", "X-Custom": "kept",
        "X-Start-Time": "1"})
    env = handler_doc(r)["env"]
    assert env.get("Http_X_Call_Id") == "client-call-42", env
    assert r.header("X-Call-Id") in (None, "client-call-42"), r.headers
    assert r.header_all("X-Call-Id") in ([], ["client-call-42"]), r.headers
    assert env.get("Http_X_Forwarded_For") == "203.0.113.7, 127.0.0.1", env
    assert env.get("Http_X_Forwarded_Host") == "example.test", env
    assert env.get("Http_X_Custom") == "kept", env
    assert "Http_Keep_Alive" not in env and "Http_Proxy_Authorization" not in env, env
    # The gateway's X-Start-Time replaces a client's.
    assert r.header("X-Start-Time") not in (None, "1"), r.headers
    assert env.get("Http_X_Start_Time") == r.header("X-Start-Time"), env


def test_redirect_from_http_mode_function_reaches_client(gateway):
    up = helpers.free_port()
    gateway.deploy("web", f"{PYTHON} {handler('upstream.py')} {up}",
                   envVars={"mode": "http", "upstream_url": f"http://127.0.0.1:{up}"})
    gateway.wait_available("web", 1)

    def ready():
        r = gateway.invoke("web", "/pid", method="GET")
        return r if r.status == 200 else None
    assert wait_for(ready, 30, 0.1), gateway.invoke("web", "/pid", method="GET")
    r = gateway.invoke("web", "/redirect", method="GET")
    assert r.status == 302, r
    assert r.header("Location") == "/elsewhere?x=1", r.headers
    assert r.header("X-Upstream") == "yes", r.headers
    assert r.body == b"moved"
    r = gateway.invoke("web", "/status/418", method="GET")
    assert r.status == 418 and r.header("X-Custom") == "teapot" and r.body == b"status 418", r
    body = os.urandom(50000)
    r = gateway.invoke("web", "/echo", body, headers={"Content-Type": "application/x-test"})
    assert r.status == 200 and r.body == body, r
    assert r.header("Content-Type") == "application/x-test", r.headers


def test_32mib_body_streamed_both_ways(gateway):
    gateway.deploy("big", "cat")
    gateway.wait_available("big", 1)
    size = 32 * 1024 * 1024
    data = os.urandom(size)
    head = build_request("POST", "/function/big", None, {
        "Content-Type": "application/octet-stream", "Content-Length": str(size)},
        port=gateway.port)
    mv = memoryview(data)
    parts = (mv[i:i + (1 << 20)] for i in range(0, size, 1 << 20))
    r, err = exchange(gateway.port, head, parts, timeout=120)
    assert r.status == 200, r
    assert err is None, err
    assert len(r.body) == size
    assert hashlib.sha256(r.body).hexdigest() == hashlib.sha256(data).hexdigest()


def test_oversize_bodies_are_413(start_gateway):
    gw = start_gateway(["--max-body", "1Ki"])
    gw.deploy("small", "cat")
    gw.wait_available("small", 1)
    r = gw.invoke("small", "", b"a" * 1024)
    assert r.status == 200 and r.body == b"a" * 1024, r
    r = gw.invoke("small", "", b"a" * 1025)
    assert r.status == 413, r
    with helpers.RawConn(gw.port) as c:
        r = c.request("POST", "/function/small", chunks=[b"b" * 600, b"b" * 600])
    assert r.status == 413, r
    # Announced over the cap with Expect: 100-continue: 413 instead of 100.
    with helpers.RawConn(gw.port, timeout=20) as c:
        c.send(build_request("POST", "/function/small", None, {
            "Content-Length": "5000", "Expect": "100-continue"}, port=gw.port))
        r = c.read_response("POST", skip_1xx=False)
    assert r.status == 413, r
    # Within the cap it continues, and the body goes through.
    with helpers.RawConn(gw.port, timeout=20) as c:
        c.send(build_request("POST", "/function/small", None, {
            "Content-Length": "1000", "Expect": "100-continue"}, port=gw.port))
        _, status, _, _ = c.read_head()
        assert status == 100, status
        c.send(b"e" * 1000)
        r = c.read_response("POST")
    assert r.status == 200 and r.body == b"e" * 1000, r
    # An API body over the API cap (4 MiB), announced and streamed.
    size = 4 * 1024 * 1024 + 1
    head = build_request("POST", "/system/functions", None, {
        "Authorization": gw.auth_header(), "Content-Length": str(size)}, port=gw.port)
    r, _ = exchange(gw.port, head, [b" " * size], timeout=60)
    assert r.status == 413, r
    with helpers.RawConn(gw.port) as c:
        r = c.request("POST", "/system/functions", chunks=[b" " * (1 << 20)] * 5,
                      headers={"Authorization": gw.auth_header()})
    assert r.status == 413, r
    assert gw.api("GET", "/healthz").status == 200
    assert names(gw.json("GET", "/system/functions")) == ["small"]
    assert len(gw.watchdogs()) == 1
    assert gw.invoke("small", "", b"still fine").body == b"still fine"


def test_methods_the_watchdog_refuses_pass_through(gateway):
    gateway.deploy("strict", "cat")
    gateway.wait_available("strict", 1)
    with helpers.RawConn(gateway.port, timeout=20) as c:
        for method in ("HEAD", "OPTIONS"):
            r = c.request(method, "/function/strict")
            assert r.status == 405, (method, r)
            assert "POST" in (r.header("Allow") or ""), r.headers
            assert r.header("X-Call-Id"), r.headers
        r = c.request("POST", "/function/strict", b"same connection")
        assert r.status == 200 and r.body == b"same connection", r


def test_function_502_on_upstream_timeout_and_503_without_ready_replica(start_gateway):
    gw = start_gateway(["--upstream-timeout", "1s", "--scale-from-zero-timeout", "1s",
                        "--no-queue-worker"])
    gw.deploy("slowfn", HANDLER)
    up = helpers.free_port()
    # mode=http with an upstream that never listens: the replica never gets ready.
    gw.deploy("never", "/bin/sleep 1000",
              envVars={"mode": "http", "upstream_url": f"http://127.0.0.1:{up}"})
    gw.wait_available("slowfn", 1)
    r = gw.invoke("slowfn", "/sleep/3", b"")
    assert r.status == 502, r
    r = gw.invoke("slowfn", "/sleep/0", b"")
    assert r.status == 200 and r.body == b"slept 0", r
    r = gw.invoke("never", "/", b"")
    assert r.status == 503, r
    st = gw.status("never")
    assert st["replicas"] == 1 and "availableReplicas" not in st, st
    assert gw.api("GET", "/healthz").status == 200


# ================================================================ replicas

def test_scale_up_spread_down_to_zero_and_back(gateway):
    gateway.deploy("spread", HANDLER)
    gateway.wait_available("spread", 1)
    gateway.scale("spread", 3)
    st = gateway.wait_available("spread", 3)
    assert st["replicas"] == 3, st
    pids = gateway.wait_watchdogs(3)
    assert len(set(pids)) == 3

    ports = set()
    ids = [f"spread-{uuid.uuid4().hex[:8]}-{i}" for i in range(30)]
    for cid in ids:
        doc = handler_doc(gateway.invoke("spread", "/", b"", headers={"X-Call-Id": cid}))
        ports.add(doc["port"])
    assert len(ports) == 3, f"calls went to {ports}"

    def instances():
        seen = {}
        for e in gateway.logs("spread"):
            for cid in ids:
                if "Forking fprocess." in e["text"] and f"call_id={cid}" in e["text"]:
                    seen[cid] = e["instance"]
        return seen if len(seen) == len(ids) else None
    seen = wait_for(instances, 15, 0.1)
    assert seen, "not every call left a 'Forking fprocess.' line"
    assert len(set(seen.values())) == 3, seen

    gateway.scale("spread", 0)
    gateway.wait_watchdogs(0)
    assert wait_for(lambda: all(pid_gone(p) for p in pids), 15)
    st = wait_for(lambda: (lambda s: s if "availableReplicas" not in s else None)(
        gateway.status("spread")), 15)
    assert st and "replicas" not in st, gateway.status("spread")

    # A call wakes it up.
    r = gateway.invoke("spread", "/", b"")
    assert handler_doc(r)["method"] == "POST"
    st = gateway.wait_available("spread", 1)
    assert st["replicas"] == 1, st
    gateway.wait_watchdogs(1)


def test_killed_replica_is_restarted(gateway):
    gateway.deploy("phoenix", "cat")
    gateway.wait_available("phoenix", 1)
    [old] = gateway.wait_watchdogs(1)
    os.kill(old, signal.SIGKILL)

    def replaced():
        w = gateway.watchdogs()
        return w if len(w) == 1 and w[0] != old else None
    new = wait_for(replaced, 30)
    assert new, f"no new replica: {gateway.watchdogs()}\n{gateway.server.log()[-3000:]}"
    gateway.wait_available("phoenix", 1)
    info = helpers.proc_info(old)
    assert info is None or info.ppid != gateway.pid, f"old replica not reaped: {info}"
    r = gateway.invoke("phoenix", "", b"alive again")
    assert r.status == 200 and r.body == b"alive again", r


def test_gateway_restart_keeps_functions_secrets_and_replicas(start_gateway, tmp_path):
    data = tmp_path / "shared-data"
    gw = start_gateway(["--no-queue-worker"], data_dir=data)
    binary = b"\x00persist\xff\x00"
    r = gw.api("POST", "/system/secrets", {"name": "keep-secret",
                                            "rawValue": base64.b64encode(binary).decode()})
    assert r.status == 201, r
    gw.deploy("keep", HANDLER, image=ODD_IMAGE, secrets=["keep-secret"], envVars={"K": "v"})
    gw.deploy("many", "cat", namespace="team-a")
    gw.scale("many", 2, namespace="team-a")
    gw.deploy("idle", "cat")
    gw.scale("idle", 0)
    gw.wait_available("keep", 1)
    gw.wait_available("many", 2, query="?namespace=team-a")
    before_keep = gw.status("keep")
    old = gw.wait_watchdogs(3)
    user, password = gw.user, gw.password

    code = gw.stop()
    assert code == 0, f"exit {code}:\n{gw.server.log()[-3000:]}"
    assert wait_for(lambda: all(pid_gone(p) for p in old), 15), \
        [helpers.proc_info(p) for p in old]

    gw2 = start_gateway(["--no-queue-worker"], data_dir=data)
    assert (gw2.user, gw2.password) == (user, password)
    assert names(gw2.json("GET", "/system/functions")) == ["idle", "keep"]
    assert names(gw2.json("GET", "/system/functions?namespace=team-a")) == ["many"]
    assert [s["name"] for s in gw2.json("GET", "/system/secrets")] == ["keep-secret"]
    st = gw2.wait_available("keep", 1)
    for key in ("image", "envProcess", "secrets", "envVars", "labels", "createdAt"):
        assert st.get(key) == before_keep.get(key), (key, st, before_keep)
    st = gw2.wait_available("many", 2, query="?namespace=team-a")
    assert st["replicas"] == 2, st
    gw2.wait_watchdogs(3)
    r = gw2.invoke("keep", "/secret/keep-secret", method="GET")
    assert r.status == 200 and r.body == binary, r
    r = gw2.invoke("many.team-a", "", b"back")
    assert r.status == 200 and r.body == b"back", r
    # The function at zero stayed there, and a call still wakes it.
    st = gw2.status("idle")
    assert "replicas" not in st and "availableReplicas" not in st, st
    assert len(gw2.watchdogs()) == 3
    r = gw2.invoke("idle", "", b"wake up")
    assert r.status == 200 and r.body == b"wake up", r
    gw2.wait_watchdogs(4)


def test_second_gateway_on_same_data_dir_is_refused(start_gateway, tmp_path):
    data = tmp_path / "one-owner"
    gw = start_gateway(["--no-queue-worker"], data_dir=data)
    gw.deploy("mine", "cat")
    port = helpers.free_port()
    env = dict(gw.server.env)
    second = subprocess.run([str(gw.server.exe), "--port", str(port), "--bind", "127.0.0.1",
                             "--data-dir", str(data), "--no-queue-worker"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0, second
    assert "another process has it open" in second.stderr, second.stderr
    assert helpers.connect_refused(port), "the second gateway still listens"
    # The first one is untouched and still writes its state.
    gw.deploy("also-mine", "cat")
    assert names(gw.json("GET", "/system/functions")) == ["also-mine", "mine"]
    r = gw.invoke("mine", "", b"still here")
    assert r.status == 200 and r.body == b"still here", r


# ================================================================ logs, metrics

class FollowReader:
    """Reads a streamed (chunked or until-close) NDJSON answer line by line."""

    def __init__(self, conn, headers):
        self.c = conn
        self.chunked = "chunked" in (dict((k.lower(), v) for k, v in headers)
                                     .get("transfer-encoding", "").lower())
        self.left = 0
        self.pending = b""

    def _more(self):
        if not self.chunked:
            d = self.c.rfile.read1(65536)
            if not d:
                raise ConnectionError("stream ended")
            return d
        if self.left == 0:
            line = self.c.rfile.readline(1024)
            if not line:
                raise ConnectionError("stream ended")
            if line in (b"\r\n", b"\n"):
                return b""
            self.left = int(line.split(b";")[0].strip(), 16)
            if self.left == 0:
                raise ConnectionError("stream ended")
        d = self.c.rfile.read1(self.left)
        if not d:
            raise ConnectionError("stream ended")
        self.left -= len(d)
        if self.left == 0:
            self.c.rfile.readline(16)
        return d

    def line(self):
        while b"\n" not in self.pending:
            self.pending += self._more()
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)


def test_logs_lines_tail_instance_and_follow(gateway):
    gateway.deploy("logged", HANDLER)
    gateway.wait_available("logged", 1)
    ids = [f"tail-{uuid.uuid4().hex[:8]}-{i}" for i in range(5)]
    for cid in ids:
        assert gateway.invoke("logged", "/", b"", headers={"X-Call-Id": cid}).status == 200
    assert gateway.wait_log("logged", f"call_id={ids[-1]}"), gateway.logs("logged")
    # The watchdog's "Wrote" line of the last call closes what these calls log.
    assert wait_for(lambda: any("Wrote" in e["text"] and ids[-1] in e["text"]
                                for e in gateway.logs("logged")), 15), gateway.logs("logged")
    full = gateway.logs("logged")
    forks = [e for e in full if "Forking fprocess." in e["text"]]
    assert len(forks) >= 5, full
    for e in full:
        assert e["name"] == "logged" and e["namespace"] == NS, e
        assert e["instance"] and RFC3339_RE.match(e["timestamp"]), e
        assert isinstance(e["text"], str), e
    tail = gateway.logs("logged", tail=3)
    assert len(tail) == 3, tail
    # (read again if a line came in between the two reads)
    assert wait_for(lambda: gateway.logs("logged", tail=3) == gateway.logs("logged")[-3:], 10), \
        (tail, full[-3:])
    inst = full[0]["instance"]
    only = gateway.logs("logged", instance=inst)
    assert only and all(e["instance"] == inst for e in only), only
    assert gateway.logs("logged", instance="no-such-instance") == []
    assert gateway.logs("logged", since="2100-01-01T00:00:00Z") == []
    assert gateway.logs("logged", since="2000-01-01T00:00:00Z")[:len(full)] == full
    r = gateway.api("GET", "/system/logs?name=logged&since=yesterday")
    assert r.status == 400, r
    r = gateway.api("GET", "/system/logs")
    assert r.status == 400, r
    r = gateway.api("GET", "/system/logs?name=logged&tail=many")
    assert r.status == 400, r

    # follow: a line logged after the request started arrives on the stream.
    baseline = len(gateway.fds_besides_pool())
    cid = f"follow-{uuid.uuid4().hex}"
    with helpers.RawConn(gateway.port, timeout=20) as c:
        c.send(build_request("GET", "/system/logs?name=logged&follow=true&tail=2",
                             headers={"Authorization": gateway.auth_header()}, port=gateway.port))
        _, status, _, headers = c.read_head()
        assert status == 200, (status, headers)
        reader = FollowReader(c, headers)
        first = reader.line()
        assert first["name"] == "logged", first
        time.sleep(0.2)
        assert gateway.invoke("logged", "/", b"", headers={"X-Call-Id": cid}).status == 200
        deadline = time.monotonic() + 20
        got = None
        while time.monotonic() < deadline and got is None:
            e = reader.line()  # bounded by the socket timeout
            if f"call_id={cid}" in e["text"]:
                got = e
        assert got and "Forking fprocess." in got["text"], got
    # The follower goes away with its client.
    assert wait_for(lambda: len(gateway.fds_besides_pool()) <= baseline, 20), \
        (baseline, gateway.fds_besides_pool())


def test_metrics_after_calls(gateway):
    gateway.deploy("met", HANDLER)
    gateway.wait_available("met", 1)
    for _ in range(3):
        assert gateway.invoke("met", "/", b"").status == 200
    assert gateway.invoke("met", "/secret/none", b"").status == 500

    fn = r'function_name="met(\.openfaas-fn)?"'

    def count(text, metric, code):
        for ln in metric_lines(text, metric):
            if re.search(fn, ln) and f'code="{code}"' in ln:
                return float(ln.rsplit(" ", 1)[1])
        return None

    def settled():
        r = gateway.api("GET", "/metrics", auth=False)
        assert r.status == 200, r
        t = r.text
        ok = (count(t, "gateway_function_invocation_total", 200) == 3 and
              count(t, "gateway_function_invocation_total", 500) == 1)
        return t if ok else None
    text = wait_for(settled, 15, 0.1)
    assert text, gateway.api("GET", "/metrics", auth=False).text
    assert count(text, "gateway_functions_seconds_count", 200) == 3, text
    assert count(text, "gateway_functions_seconds_count", 500) == 1, text
    assert any(re.search(fn, ln) and 'le="+Inf"' in ln
               for ln in metric_lines(text, "gateway_functions_seconds_bucket")), text
    assert any(re.search(fn, ln) for ln in metric_lines(text, "gateway_functions_seconds_sum")), text
    started = [ln for ln in metric_lines(text, "gateway_function_invocation_started")
               if re.search(fn, ln)]
    assert started and float(started[0].rsplit(" ", 1)[1]) >= 4, text
    service = [ln for ln in metric_lines(text, "gateway_service_count") if re.search(fn, ln)]
    assert service and float(service[0].rsplit(" ", 1)[1]) == 1, text
    for name in ("cfaas_async_queued_total", "cfaas_async_retries_total",
                 "cfaas_async_dead_letter_total", "cfaas_async_pending"):
        assert metric_lines(text, name), f"{name} missing:\n{text}"
    assert "# TYPE gateway_functions_seconds histogram" in text


# ================================================================ bad clients

MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"\x00\x01\x02\xff\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST /function/victim HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /function/victim HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /function/victim HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    b"GET /function/victim HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
    b"GET /function/victim?" + b"q" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /function/victim HTTP/1.1\r\nHost: x\r\n" +
    b"".join(b"X-H%d: v\r\n" % i for i in range(300)) + b"\r\n",
    b"GET /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + b"A" * 100000 +
    b"\r\n\r\n",
    b"GET /function/vic\x00tim HTTP/1.1\r\nHost: x\r\n\r\n",
]


# Odd but not invalid: any answer will do, as long as nothing breaks.
ODD = [
    b"POST /function/victim HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /function/victim HTTP/1.1\r\nHost: x\r\nX-Call-Id: " + b"c" * 5000 + b"\r\n\r\n",
    b"GET /function/victim HTTP/1.0\r\n\r\n",
    b"GET http://127.0.0.1/function/victim HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /function/victim HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + b"1.2.3.4, " * 500 +
    b"5.6.7.8\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
]


def send_raw(port, data, timeout=20):
    """Sends data on a new connection; the status answered, or None when the
    server closed the connection instead."""
    try:
        with helpers.RawConn(port, timeout=timeout) as c:
            try:
                c.send(data)
            except OSError:
                pass
            return c.read_response().status
    except (ConnectionError, ValueError, socket.timeout, OSError):
        return None


def test_bad_input_never_crashes_or_leaks(start_gateway):
    gw = start_gateway(["--read-timeout", "2s", "--no-queue-worker"])
    gw.deploy("victim", HANDLER)
    gw.wait_available("victim", 1)
    [wd] = gw.wait_watchdogs(1)
    assert gw.invoke("victim", "/", b"warm").status == 200
    assert gw.api("GET", "/system/functions").status == 200
    time.sleep(0.3)
    baseline = len(gw.fds_besides_pool())

    problems = []
    for data in MALFORMED:
        status = send_raw(gw.port, data)
        if status is not None and status < 400:
            problems.append(f"{data[:60]!r}: {status}")
        if not gw.server.alive():
            problems.append(f"gateway died after {data[:60]!r}")
            break
    for data in ODD:
        send_raw(gw.port, data)
        if not gw.server.alive():
            problems.append(f"gateway died after {data[:60]!r}")
            break
    assert problems == [], "\n".join(problems) + "\n" + gw.server.log()[-3000:]

    # Slow clients: half a head, or a head and part of the body, then
    # nothing; all at once, each must be dropped after --read-timeout.
    partials = [b"POST /function/victim HTTP/1.1\r\nHost: x\r\n",
                b"POST /function/victim HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
                b"POST /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                gw.auth_header().encode() + b"\r\nContent-Length: 100\r\n\r\n{\"ser",
                b"GET /system/functions HTTP/1.1\r\n"]
    conns = [helpers.RawConn(gw.port) for _ in partials]
    try:
        for c, partial in zip(conns, partials):
            c.send(partial)
        for c, partial in zip(conns, partials):
            assert c.closed_by_peer(30), f"still open long after --read-timeout: {partial!r}"
    finally:
        for c in conns:
            c.close()

    # Bad API input.
    for body in [b"{", b"\xff\xfe", b"[" * 100000, b'{"service": "x", "image": "\x01"}',
                 json.dumps({"service": "x", "image": "y", "envVars": {"": "v"}}).encode()]:
        r = gw.api("POST", "/system/functions", body)
        assert r.status == 400, (body[:40], r)
    r = gw.api("POST", "/system/scale-function/victim", b"{\"replicas\": 1e400}")
    assert r.status == 400, r

    # Clients that go away in the middle of a call.
    for _ in range(3):
        with helpers.RawConn(gw.port) as c:
            c.send(build_request("POST", "/function/victim/sleep/1", b"x", port=gw.port))
            time.sleep(0.2)

    assert gw.api("GET", "/healthz", auth=False).status == 200
    assert gw.server.alive()
    assert gw.watchdogs() == [wd], (gw.watchdogs(), wd)
    assert names(gw.json("GET", "/system/functions")) == ["victim"]
    assert wait_for(lambda: helpers.children(wd) == [], 20), helpers.children(wd)
    assert gw.invoke("victim", "/", b"after").status == 200
    ok = wait_for(lambda: len(gw.fds_besides_pool()) <= baseline, 20)
    assert ok, (baseline, gw.fds_besides_pool())
    assert gw.fd_count() < baseline + 64, helpers.fd_targets(gw.pid)  # the pool's cap


def test_more_than_1024_connections(gateway):
    """Every connection is a file descriptor: the server polls each one
    (select() could not watch one numbered past 1023) and the gateway
    raises its own open files limit, so over a thousand idle clients do
    not lock out the next one, and their fds go once they leave."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1300
    if soft < want + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want + 500), hard))
    before = gateway.fd_count()
    conns = []
    try:
        for _ in range(want):
            conns.append(socket.create_connection(("127.0.0.1", gateway.port), timeout=20))
        # The gateway has them all (its fds now pass 1024)...
        assert wait_for(lambda: gateway.fd_count() >= before + want, 30), gateway.fd_count()
        # ...and the newest one and the oldest one are served.
        for c in (conns[-1], conns[0]):
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = c.recv(4096)
                assert chunk, "the gateway closed the connection"
                head += chunk
            assert head.startswith(b"HTTP/1.1 200"), head[:100]
    finally:
        for c in conns:
            c.close()
    assert wait_for(lambda: gateway.fd_count() <= before + 4, 30), (before, gateway.fd_count())
    assert gateway.api("GET", "/healthz", auth=False).status == 200


# ================================================================ shutdown

def test_graceful_shutdown_finishes_call_in_flight(start_gateway):
    gw = start_gateway(["--no-queue-worker"])
    gw.deploy("slow", HANDLER)
    gw.deploy("other", "cat")
    gw.wait_available("slow", 1)
    gw.wait_available("other", 1)
    replicas = gw.wait_watchdogs(2)
    cid = f"inflight-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(gw.invoke, "slow", "/sleep/2", b"", "POST", {"X-Call-Id": cid}, 60)
        assert gw.wait_log("slow", f"call_id={cid}", 20), "the slow call never started"
        gw.server.remember_tree()
        gw.server.signal(signal.SIGTERM)
        r = fut.result(60)
    assert r.status == 200, r
    assert r.body == b"slept 2", r
    code = gw.server.wait_exit(40)
    assert code == 0, f"exit {code}:\n{gw.server.log()[-3000:]}"
    assert wait_for(lambda: all(pid_gone(p) for p in replicas), 15), \
        [helpers.proc_info(p) for p in replicas]
    left = [p for p in gw.server.known_pids if not pid_gone(p)]
    assert left == [], [helpers.proc_info(p) for p in left]
