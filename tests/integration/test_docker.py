"""The docker provider against a real Podman service (Docker Engine API).

The session fixture runs scripts/podman-setup.sh, which installs Podman when
it is missing, starts `podman system service` on a socket of this run's own
and makes the local base images (cfaas/busybox, cfaas/python3) unless they
exist already. The module skips only when Podman cannot run here at all.

Every image, container and gateway id is unique to the run (RUN), and
teardown removes every container carrying one of this run's gateway ids
and every image the run built.

- deploy -> invoke -> scale to 3 (three containers, calls spread) -> update
  to a new image with calls running (none fails) -> delete (no container);
- secrets readable in the container, memory limit and read-only root in
  the inspect data, the watchdog port published on 127.0.0.1 only;
- an image that does not exist (400), a socket that is absent or refuses
  (the gateway says so at start), a container that exits at once
  (restarted with back-off, logs reachable, 0 available);
- a gateway restart adopting the running containers without restarting them,
  and removing a container of a function deleted while it was down;
- `cfaas up` with the c, python3, bash and dockerfile templates building
  images (on the local base images) and serving.
"""

import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest

import helpers
from helpers import wait_for

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "podman-setup.sh"
HANDLERS = Path(__file__).resolve().parent / "docker_handlers"
RUN = uuid.uuid4().hex[:8]
NATS_SERVER = shutil.which("nats-server")
# Images get the static watchdog of bin/ (a sanitizer build's is dynamic
# and cannot run in a busybox or scratch image).
STATIC_WATCHDOG = REPO / "bin" / "cfaas-watchdog"


def static_watchdog():
    """The path of a statically linked cfaas-watchdog, or skip."""
    data = STATIC_WATCHDOG.read_bytes() if STATIC_WATCHDOG.is_file() else b""
    if not data or b"/ld-linux" in data[:4096]:
        pytest.skip(f"{STATIC_WATCHDOG} is missing or not static (run `make`)")
    return STATIC_WATCHDOG


# ---------------------------------------------------------------- engine API

class _UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("docker", timeout=timeout)
        self.sock_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.sock_path)
        self.sock = s


class Engine:
    """A few Docker Engine API calls over the unix socket."""

    def __init__(self, sock):
        self.sock = str(sock)
        self.gateway_ids = set()
        self.images = set()

    def call(self, method, path, body=None, headers=None, timeout=120):
        c = _UnixConn(self.sock, timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def json(self, method, path):
        st, body = self.call(method, path)
        assert st == 200, (method, path, st, body[:300])
        return json.loads(body)

    def containers(self, *labels):
        f = json.dumps({"label": list(labels)})
        from urllib.parse import quote
        return self.json("GET", f"/containers/json?all=1&filters={quote(f)}")

    def inspect(self, cid):
        return self.json("GET", f"/containers/{cid}/json")

    def create(self, cname, config):
        """Creates and starts a container; returns its id."""
        st, body = self.call("POST", f"/containers/create?name={cname}",
                             json.dumps(config).encode(), {"Content-Type": "application/json"})
        assert st == 201, body
        cid = json.loads(body)["Id"]
        st, body = self.call("POST", f"/containers/{cid}/start")
        assert st in (204, 304), body
        return cid

    def build(self, tag, files):
        """Builds an image from {name: (bytes, mode)} as the tar context."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, (data, mode) in files.items():
                ti = tarfile.TarInfo(name)
                ti.size, ti.mode = len(data), mode
                tar.addfile(ti, io.BytesIO(data))
        st, body = self.call("POST", f"/build?rm=1&t={tag}", buf.getvalue(),
                             {"Content-Type": "application/x-tar"}, timeout=300)
        text = body.decode("utf-8", "replace")
        assert st == 200 and '"error"' not in text, text[-2000:]
        self.images.add(tag)

    def cleanup(self):
        for gid in self.gateway_ids:
            try:
                for c in self.containers(f"cfaas.gateway={gid}"):
                    self.call("DELETE", f"/containers/{c['Id']}?force=1&v=1")
            except Exception:
                pass
        for img in self.images:
            try:
                self.call("DELETE", f"/images/{img}?force=1")
            except Exception:
                pass


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    if os.geteuid() != 0 and not shutil.which("podman"):
        pytest.skip("podman is not installed and this user cannot install it")
    d = tmp_path_factory.mktemp("podman")
    sock = d / "podman.sock"
    log = d / "setup.log"
    p = subprocess.run(["bash", str(SETUP), str(sock), str(log)], capture_output=True,
                       text=True, timeout=600)
    if p.returncode in (3, 4, 6):
        # Not installable, no API service, or no container can run: the
        # machine cannot run Podman at all.
        last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        pytest.skip(f"podman cannot run here (podman-setup.sh exit {p.returncode}): {last}")
    assert p.returncode == 0, f"podman-setup.sh failed ({p.returncode}):\n{p.stderr}\n" + \
        (log.read_text() if log.exists() else "")
    service_pid = int(p.stdout.strip()) if p.stdout.strip() else None
    eng = Engine(sock)
    # A last check that containers really run (runc, cgroups, networking).
    st, _ = eng.call("GET", "/images/cfaas/busybox:latest/json")
    assert st == 200
    try:
        yield eng
    finally:
        eng.cleanup()
        if service_pid:
            try:
                os.killpg(service_pid, signal.SIGTERM)
            except OSError:
                pass


def dockerfile(version):
    return (f"FROM cfaas/busybox:latest\n"
            f"COPY cfaas-watchdog /usr/bin/cfaas-watchdog\n"
            f"COPY handler.sh /home/app/handler.sh\n"
            f"WORKDIR /home/app\n"
            f"ENV VERSION={version} fprocess=\"sh /home/app/handler.sh\"\n"
            f"CMD [\"/usr/bin/cfaas-watchdog\"]\n").encode()


@pytest.fixture(scope="module")
def images(engine):
    wd = static_watchdog().read_bytes()
    handler = (HANDLERS / "echo.sh").read_bytes()
    names = {}
    for v in ("v1", "v2"):
        tag = f"cfaas-test-{RUN}-echo:{v}"
        engine.build(tag, {"Dockerfile": (dockerfile(v), 0o644),
                           "cfaas-watchdog": (wd, 0o755), "handler.sh": (handler, 0o755)})
        names[v] = tag
    tag = f"cfaas-test-{RUN}-crash:1"
    engine.build(tag, {"Dockerfile": (
        b"FROM cfaas/busybox:latest\nCMD [\"sh\", \"-c\", \"echo crash-output; exit 3\"]\n",
        0o644)})
    names["crash"] = tag
    return names


# ---------------------------------------------------------------- gateways

class Gateway:
    def __init__(self, engine, base, reaper, data=None, socket_path=None):
        self.engine = engine
        self.base = Path(base)
        self.reaper = reaper
        self.data = Path(data) if data else self.base / "data"
        self.sock = str(socket_path or engine.sock)
        self.server = None
        self.n = 0

    def start(self, wait=True):
        self.n += 1
        port = helpers.free_port()
        path = "/usr/local/bin:/usr/bin:/bin"
        if NATS_SERVER:
            path += ":" + os.path.dirname(NATS_SERVER)
        args = ["--port", str(port), "--bind", "127.0.0.1", "--data-dir", str(self.data),
                "--provider", "docker", "--docker-socket", self.sock, "--no-auth",
                "--no-queue-worker"]
        self.server = helpers.Server(helpers.binary("cfaas-gateway"), {"PATH": path},
                                     self.base / f"run{self.n}", port, args)
        self.reaper.add(self.server)
        self.server.start()
        if wait:
            self.server.wait_http("/healthz", 200, 30)
            gid = (self.data / "docker-gateway-id").read_text().strip()
            self.engine.gateway_ids.add(gid)
            self.gid = gid
        return self

    def stop(self):
        self.server.signal(signal.SIGTERM)
        assert self.server.wait_exit(30) == 0, self.server.log()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.port}"

    def api(self, method, path, body=None, timeout=120):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        return self.server.request(method, path, body, timeout=timeout)

    def status(self, name):
        r = self.api("GET", f"/system/function/{name}")
        return json.loads(r.body) if r.status == 200 else None

    def wait_available(self, name, n, timeout=60):
        def ok():
            st = self.status(name)
            return st and st.get("availableReplicas", 0) == n
        assert wait_for(ok, timeout, 0.1), (self.status(name), self.server.log()[-3000:])

    def containers(self, name):
        return [c for c in self.engine.containers(f"cfaas.gateway={self.gid}",
                                                  f"faas_function={name}")]


@pytest.fixture
def gateway(engine, reaper, tmp_path):
    return Gateway(engine, tmp_path, reaper).start()


def fname(what):
    return f"{what}-{RUN}"


# ---------------------------------------------------------------- tests

def test_deploy_scale_update_delete(gateway, engine, images):
    name = fname("echo")
    r = gateway.api("POST", "/system/functions", {
        "service": name, "image": images["v1"], "labels": {"team": "blue"},
        "annotations": {"topic": "demo"}, "limits": {"memory": "64Mi", "cpu": "500m"}})
    assert r.status == 202, r
    gateway.wait_available(name, 1)
    r = gateway.api("POST", f"/function/{name}", b"hello")
    assert r.status == 200 and r.text.startswith("v1 ") and r.text.endswith(" hello"), r

    cs = gateway.containers(name)
    assert len(cs) == 1
    insp = engine.inspect(cs[0]["Id"])
    assert insp["Config"]["Labels"]["faas_function"] == name
    assert insp["Config"]["Labels"]["team"] == "blue"
    assert insp["Config"]["Labels"]["com.openfaas.annotations.topic"] == "demo"
    assert insp["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert insp["HostConfig"]["NanoCpus"] == 500_000_000
    binds = insp["HostConfig"]["PortBindings"]["8080/tcp"]
    assert binds and all(b["HostIp"] == "127.0.0.1" for b in binds), binds

    # Scale to 3: three containers, calls spread over them.
    r = gateway.api("POST", f"/system/scale-function/{name}",
                    {"serviceName": name, "replicas": 3})
    assert r.status == 202, r
    gateway.wait_available(name, 3)
    assert len(gateway.containers(name)) == 3
    hosts = set()
    for i in range(30):
        r = gateway.api("POST", f"/function/{name}", f"call{i}".encode())
        assert r.status == 200, r
        hosts.add(r.text.split()[1])
    assert len(hosts) == 3, hosts
    old_ids = {c["Id"] for c in gateway.containers(name)}

    # Update to v2 while calls keep coming: none may fail.
    failures, answers, stop = [], [], threading.Event()

    def caller():
        while not stop.is_set():
            try:
                r = gateway.api("POST", f"/function/{name}", b"x", timeout=30)
                if r.status != 200:
                    failures.append((r.status, r.text))
                else:
                    answers.append(r.text.split()[0])
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))

    threads = [threading.Thread(target=caller) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        r = gateway.api("PUT", "/system/functions", {
            "service": name, "image": images["v2"], "limits": {"memory": "64Mi"}})
        assert r.status == 202, r
        assert wait_for(lambda: not old_ids & {c["Id"] for c in gateway.containers(name)},
                        60, 0.2), gateway.containers(name)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not failures, failures[:5]
    assert "v1" in answers and answers[-1] == "v2", answers[-5:]
    assert len(gateway.containers(name)) == 3
    r = gateway.api("POST", f"/function/{name}", b"after")
    assert r.status == 200 and r.text.startswith("v2 "), r

    # Logs come from the containers.
    def logged():
        r = gateway.api("GET", f"/system/logs?name={name}")
        return r.status == 200 and "Forking fprocess" in r.text
    assert wait_for(logged, 20, 0.2)

    # Delete: no container left.
    r = gateway.api("DELETE", "/system/functions", {"functionName": name})
    assert r.status == 202, r
    assert gateway.containers(name) == []
    assert gateway.api("POST", f"/function/{name}", b"x").status == 404


def test_secrets_and_read_only_root(gateway, engine, images):
    name = fname("secret")
    r = gateway.api("POST", "/system/secrets", {"name": f"key-{RUN}", "value": "s3cr3t-value"})
    assert r.status in (200, 201, 202), r
    r = gateway.api("POST", "/system/functions", {
        "service": name, "image": images["v1"], "secrets": [f"key-{RUN}"],
        "envProcess": f"cat /var/openfaas/secrets/key-{RUN}",
        "readOnlyRootFilesystem": True})
    assert r.status == 202, r
    gateway.wait_available(name, 1)
    r = gateway.api("POST", f"/function/{name}", b"")
    assert r.status == 200 and r.text == "s3cr3t-value", r
    insp = engine.inspect(gateway.containers(name)[0]["Id"])
    assert insp["HostConfig"]["ReadonlyRootfs"] is True
    mounts = {m["Destination"]: m for m in insp["Mounts"]}
    assert "/var/openfaas/secrets" in mounts and mounts["/var/openfaas/secrets"]["RW"] is False
    # The secrets live under the gateway's data dir, not readable by others.
    assert (gateway.data.stat().st_mode & 0o077) == 0
    r = gateway.api("DELETE", "/system/functions", {"functionName": name})
    assert r.status == 202
    assert gateway.containers(name) == []


def test_missing_image_is_400(gateway):
    r = gateway.api("POST", "/system/functions",
                    {"service": fname("ghost"), "image": f"cfaas-test-{RUN}-nope:1"})
    assert r.status == 400, r
    assert "not found" in r.text and "nope" in r.text
    assert gateway.status(fname("ghost")) is None


def test_crashing_container_restarts_with_backoff(gateway, images):
    name = fname("crash")
    r = gateway.api("POST", "/system/functions", {"service": name, "image": images["crash"]})
    assert r.status == 202, r

    def waits():
        return [int(w) for w in re.findall(rf"{name}-\d+ exited .*?restarting in (\d+) ms",
                                           gateway.server.log())]

    def restarted():
        # The second run's output can reach the logs before the gateway
        # has seen that run exit: wait for both.
        r = gateway.api("GET", f"/system/logs?name={name}")
        return r.text.count("crash-output") >= 2 and len(waits()) >= 2
    assert wait_for(restarted, 30, 0.2), gateway.server.log()[-2000:]
    st = gateway.status(name)
    assert st["replicas"] == 1 and st.get("availableReplicas", 0) == 0
    assert re.search(rf"replica {name}-\d+ exited \(exit code 3\); restarting in \d+ ms",
                     gateway.server.log())
    # The back-off grows: the waits logged are not all the same.
    w = waits()
    assert w[-1] > w[0], w
    r = gateway.api("DELETE", "/system/functions", {"functionName": name})
    assert r.status == 202
    assert gateway.containers(name) == []


def test_absent_or_refusing_socket_is_reported_at_start(engine, reaper, tmp_path):
    missing = tmp_path / "missing.sock"
    g = Gateway(engine, tmp_path / "a", reaper, socket_path=missing).start(wait=False)
    assert g.server.wait_exit(20) not in (None, 0)
    assert str(missing) in g.server.log() and "docker-socket" in g.server.log()

    refusing = tmp_path / "refuse.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(refusing))  # bound, never listening: connections are refused
    try:
        g = Gateway(engine, tmp_path / "b", reaper, socket_path=refusing).start(wait=False)
        assert g.server.wait_exit(30) not in (None, 0)
        assert "no Docker Engine API answers" in g.server.log(), g.server.log()
    finally:
        s.close()


def test_restart_adopts_running_containers(engine, reaper, tmp_path, images):
    g = Gateway(engine, tmp_path, reaper).start()
    name = fname("keep")
    r = g.api("POST", "/system/functions", {"service": name, "image": images["v1"]})
    assert r.status == 202
    g.api("POST", f"/system/scale-function/{name}", {"serviceName": name, "replicas": 2})
    g.wait_available(name, 2)
    before = {c["Id"]: engine.inspect(c["Id"])["State"]["StartedAt"] for c in g.containers(name)}
    assert len(before) == 2

    g.stop()
    # The containers outlive the gateway ...
    assert {c["Id"] for c in g.containers(name) if c["State"] == "running"} == set(before)
    # (and one of a function deleted meanwhile is an orphan to clear up)
    orphan = engine.create(f"cfaas-test-{RUN}-orphan", {
        "Image": "cfaas/busybox:latest", "Cmd": ["sleep", "600"],
        "Labels": {"cfaas.gateway": g.gid, "faas_function": fname("gone"),
                   "cfaas.namespace": "openfaas-fn"}})
    g.start()
    g.wait_available(name, 2, timeout=30)
    # ... and the new one adopts them as they are.
    after = {c["Id"]: engine.inspect(c["Id"])["State"]["StartedAt"] for c in g.containers(name)}
    assert after == before
    r = g.api("POST", f"/function/{name}", b"again")
    assert r.status == 200 and r.text.endswith(" again"), r
    assert "adopted container" in g.server.log()
    # The orphan goes a little after the start (PD_SWEEP_AFTER_MS, 20 s).
    assert wait_for(lambda: engine.call("GET", f"/containers/{orphan}/json")[0] == 404, 40, 0.5)
    assert set(c["Id"] for c in g.containers(name)) == set(before)
    r = g.api("DELETE", "/system/functions", {"functionName": name})
    assert r.status == 202
    assert g.containers(name) == []


@pytest.mark.parametrize("lang", ["c", "python3", "bash", "dockerfile"])
def test_cfaas_up_builds_an_image(engine, gateway, tmp_path, lang):
    if lang == "c" and not shutil.which("cc"):
        pytest.skip("cc is not installed")
    name = fname(f"up-{lang}")
    image = f"cfaas-test-{RUN}-up-{lang}:latest"
    engine.images.add(image)
    env = {
        "PATH": f"{helpers.bin_dir()}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path), "LANG": "C.UTF-8", "OPENFAAS_URL": gateway.url,
        "CFAAS_DOCKER_SOCKET": engine.sock, "TMPDIR": str(tmp_path),
        "CFAAS_TEMPLATES": str(REPO / "templates"),
        "CFAAS_WATCHDOG": str(static_watchdog()),
    }
    cfaas = str(helpers.binary("cfaas"))

    def run(*args):
        p = subprocess.run([cfaas, *args], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, f"cfaas {args}: {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    run("new", name, "--lang", lang)
    stack = (tmp_path / "stack.yml").read_text()
    stack = re.sub(r"image: .*", f"image: {image}", stack)
    (tmp_path / "stack.yml").write_text(stack)
    p = run("up")
    assert f"Built {name}: image {image}" in p.stdout, p.stdout + p.stderr
    assert "through the Docker Engine API" in p.stderr
    st, _ = engine.call("GET", f"/images/{image}/json")
    assert st == 200
    gateway.wait_available(name, 1)
    r = gateway.api("POST", f"/function/{name}", f"from {lang}".encode())
    assert r.status == 200 and r.text == f"Hello! You said: from {lang}", r
    r = gateway.api("DELETE", "/system/functions", {"functionName": name})
    assert r.status == 202
