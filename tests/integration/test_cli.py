"""The cfaas command line, driven as a new user would drive it, against a
real gateway.

One gateway per module (bin/cfaas-gateway on a free 127.0.0.1 port with a
temporary data dir; nats-server on its PATH when installed, so async calls
work). Every `cfaas` runs with HOME set to a temporary folder, talks only
to 127.0.0.1, and is bounded in time. Each test works in its own temporary
folder, as a user with an empty folder would.

What is covered:
- every command's --help, unknown commands and flags, exit codes;
- login with a wrong and a right password, the saved file's mode, logout,
  the 401 hint, an unreachable gateway;
- for each template: new -> up -> invoke answers the handler's output;
  list, describe and logs show the function; remove removes it;
- a secret and a function that reads it; secret list/update/remove;
- a stack file with two functions, ${VAR} substitution and an
  environment_file; --filter, --regex, --parallel, --shrinkwrap;
- deploy without a stack file, with -e/-l/--annotation; invoke -m/-H/--query;
  scale; deploy --replace; logs following by default;
- invoke --async with a callback receiver (skipped when the gateway cannot
  queue calls: no nats-server, 503);
- bad stack files fail with file, line and reason;
- PUT /system/bundles: unsafe archives are refused, nothing escapes, and a
  refused upload leaves the previous bundle as it was;
- the quick start of docs/cli.md (and of README.md when it has one), run
  verbatim.
"""

import base64
import gzip
import http.server
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

import helpers
from helpers import REPO, wait_for

FIXTURES = Path(__file__).resolve().parent / "cli_fixtures"
NATS_SERVER = shutil.which("nats-server") or next(
    (p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if os.access(p, os.X_OK)), None)
CLI_TIMEOUT = 180
TEMPLATES = ["c", "python3", "node", "bash", "dockerfile"]
TOOLS = {"c": "cc", "python3": "python3", "node": "node", "bash": "bash", "dockerfile": "sh"}
GREETING = "Hello! You said: "
SANITIZER_RE = helpers.SANITIZER_RE


# ---------------------------------------------------------------- fixtures

class Gw:
    """The module's gateway."""

    def __init__(self, server, data_dir):
        self.server = server
        self.port = server.port
        self.url = f"http://127.0.0.1:{server.port}"
        self.data_dir = Path(data_dir)
        self.user = (self.data_dir / "basic-auth-user").read_text().strip()
        self.password = (self.data_dir / "basic-auth-password").read_text().strip()

    def auth(self):
        return "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

    def api(self, method, path, body=None, headers=None):
        h = {"Authorization": self.auth()}
        h.update(headers or {})
        return helpers.http_request(self.port, method, path, body, h, timeout=60)


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    exe = helpers.binary("cfaas-gateway")
    if not exe.is_file():
        pytest.fail(f"{exe} not found (run `make`)", pytrace=False)
    reaper = helpers.Reaper()
    base = tmp_path_factory.mktemp("cli-gw")
    path = "/usr/local/bin:/usr/bin:/bin"
    if NATS_SERVER:
        path += ":" + os.path.dirname(NATS_SERVER)
    server = None
    try:
        for attempt in range(3):
            port = helpers.free_port()
            data = base / f"run{attempt}" / "cfaas-data"
            server = helpers.Server(exe, {"PATH": path}, base / f"run{attempt}", port,
                                    ["--port", str(port), "--bind", "127.0.0.1",
                                     "--data-dir", str(data)])
            reaper.add(server)
            server.start()
            try:
                server.wait_http("/healthz", 200, 30)
                break
            except RuntimeError:
                if attempt < 2 and "in use" in server.log().lower():
                    server.kill_all()
                    continue
                raise
        if NATS_SERVER:
            # Async needs the embedded NATS; the test that uses it skips if
            # it never became ready.
            server.wait_log(r"async calls ready", 30)
        yield Gw(server, data)
    finally:
        reaper.kill()
        reports = reaper.sanitizer_reports()
        if reports:
            pytest.fail("sanitizer report in gateway stderr:\n" +
                        "\n".join(f"{e}:\n{r}" for e, r in reports), pytrace=False)


class Cli:
    """Runs bin/cfaas with a private HOME against the module's gateway."""

    def __init__(self, gw, home):
        self.gw = gw
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.exe = str(helpers.binary("cfaas"))
        self.env = {
            "PATH": f"{helpers.bin_dir()}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "OPENFAAS_URL": gw.url,
            "TMPDIR": str(self.home),
        }
        # A source tree's bin/ finds ../templates by itself; other binary
        # folders (the sanitizer build) are told where the templates are.
        if not (helpers.bin_dir().parent / "templates").is_dir():
            self.env["CFAAS_TEMPLATES"] = str(REPO / "templates")
            self.env["CFAAS_WATCHDOG"] = str(helpers.binary("cfaas-watchdog"))
        for k, v in os.environ.items():
            if k.startswith(("ASAN_", "UBSAN_", "LSAN_")):
                self.env[k] = v

    def run(self, *args, cwd=None, input=b"", env=None, timeout=CLI_TIMEOUT, check=None):
        """Runs `cfaas ARGS`; returns CompletedProcess with text out/err.
        check: the exit code that must come back (None: any)."""
        e = dict(self.env)
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        p = subprocess.run([self.exe] + [str(a) for a in args], cwd=str(cwd or self.home),
                           input=input if isinstance(input, bytes) else input.encode(),
                           capture_output=True, env=e, timeout=timeout)
        p.out = p.stdout.decode("utf-8", "replace")
        p.err = p.stderr.decode("utf-8", "replace")
        m = SANITIZER_RE.search(p.err)
        assert not m, f"sanitizer report from cfaas {args}:\n{p.err}"
        if check is not None:
            assert p.returncode == check, (
                f"cfaas {' '.join(map(str, args))}: exit {p.returncode}, wanted {check}\n"
                f"stdout:\n{p.out}\nstderr:\n{p.err}")
        return p

    def login(self):
        return self.run("login", "--password-stdin", input=self.gw.password + "\n", check=0)


@pytest.fixture(scope="module")
def cli(gw, tmp_path_factory):
    c = Cli(gw, tmp_path_factory.mktemp("cli-home"))
    c.login()
    return c


@pytest.fixture
def fresh_cli(gw, tmp_path):
    """A user who has not logged in yet."""
    return Cli(gw, tmp_path / "home")


def wait_ready(cli, name, timeout=60):
    def ready():
        p = cli.run("describe", name, "--json")
        return p.returncode == 0 and json.loads(p.out).get("availableReplicas", 0) >= 1
    assert wait_for(ready, timeout, 0.2), cli.run("describe", name).out


# ---------------------------------------------------------------- basics

COMMANDS = ["new", "build", "deploy", "up", "invoke", "list", "ls", "describe", "logs",
            "scale", "remove", "rm", "calls", "call", "login", "logout", "template",
            "version"]


def test_help_for_every_command(cli):
    top = cli.run("--help", check=0)
    for name in ["new", "build", "deploy", "up", "invoke", "list", "describe", "logs",
                 "scale", "remove", "secret", "calls", "call", "login", "logout",
                 "template", "version"]:
        assert re.search(rf"^  {name}\b", top.out, re.M), name
    for name in COMMANDS:
        p = cli.run(name, "--help", check=0)
        assert p.out.startswith("Usage: cfaas "), (name, p.out)
        assert "-h, --help" in p.out
    for sub in ["create", "list", "update", "remove"]:
        p = cli.run("secret", sub, "--help", check=0)
        assert p.out.startswith(f"Usage: cfaas secret {sub}")
    assert cli.run("secret", "--help", check=0).out.startswith("Usage: cfaas secret")
    assert cli.run("help", "deploy", check=0).out.startswith("Usage: cfaas deploy")


def test_usage_errors_exit_2(cli):
    p = cli.run("frobnicate", check=2)
    assert "unknown command 'frobnicate'" in p.err
    p = cli.run("list", "--frob", check=2)
    assert "unknown flag '--frob'" in p.err and "cfaas list --help" in p.err
    p = cli.run("invoke", check=2)
    assert "argument" in p.err
    p = cli.run("scale", "x", check=2)
    assert "--replicas" in p.err
    p = cli.run("build", cwd=cli.home, check=2)
    assert "no stack file" in p.err
    assert p.out == ""


def test_version(cli, gw):
    p = cli.run("version", check=0)
    assert "0.1.0" in p.out and gw.url in p.out and "orchestration: process" in p.out
    assert cli.run("version", "--short-version", check=0).out.strip() == "0.1.0"


def test_unreachable_gateway_names_the_url(cli):
    port = helpers.free_port()
    url = f"http://127.0.0.1:{port}"
    p = cli.run("list", "--gateway", url, check=3)
    assert url in p.err and "cannot reach the gateway" in p.err
    p = cli.run("invoke", "x", "-g", url, input="", check=3)
    assert url in p.err


def test_login_wrong_then_right(fresh_cli, gw):
    c = fresh_cli
    cfg = c.home / ".cfaas" / "config.json"
    p = c.run("list", check=4)
    assert "cfaas login" in p.err and gw.url in p.err
    p = c.run("login", "--password-stdin", input="not-the-password\n", check=4)
    assert "wrong user name or password" in p.err and "nothing was saved" in p.err
    assert not cfg.exists()
    p = c.run("login", "-u", "admin", "-p", "also-wrong", check=4)
    assert "insecure" in p.err
    assert not cfg.exists()
    p = c.run("login", "--password-stdin", input=gw.password + "\n", check=0)
    assert "Credentials saved" in p.out
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert stat.S_IMODE(cfg.parent.stat().st_mode) == 0o700
    saved = json.loads(cfg.read_text())
    assert saved["auths"][0]["gateway"] == gw.url
    assert gw.password not in cfg.read_text()
    c.run("list", check=0)
    # A second login with a wrong password keeps the saved one.
    c.run("login", "--password-stdin", input="bad\n", check=4)
    c.run("list", check=0)
    p = c.run("logout", check=0)
    assert "removed" in p.out
    p = c.run("list", check=4)
    assert "run 'cfaas login" in p.err


def test_template_list(cli):
    p = cli.run("template", "list", check=0)
    for t in TEMPLATES:
        assert re.search(rf"^{t}\s", p.out, re.M), p.out
    p2 = cli.run("new", "--list", check=0)
    assert p2.out == p.out


# ---------------------------------------------------------------- templates

@pytest.mark.parametrize("lang", TEMPLATES)
def test_template_new_up_invoke_remove(cli, tmp_path, lang):
    if not shutil.which(TOOLS[lang]):
        pytest.skip(f"{TOOLS[lang]} is not installed")
    name = f"t-{lang}"
    work = tmp_path / "work"
    work.mkdir()
    p = cli.run("new", name, "--lang", lang, cwd=work, check=0)
    assert f"Function created in folder: {name}" in p.out
    stack = (work / "stack.yml").read_text()
    assert f"lang: {lang}" in stack and f"handler: ./{name}" in stack
    assert cli.gw.url in stack
    assert (work / name).is_dir()

    p = cli.run("up", cwd=work, check=0)
    assert f"Built {name}" in p.out and f"Deployed {name}" in p.out
    assert f"[{name}] assembling" in p.err
    assert (work / "build" / f"{name}.tar.gz").is_file()

    p = cli.run("invoke", name, cwd=work, input=f"from {lang}", check=0)
    assert p.out == f"{GREETING}from {lang}"

    p = cli.run("list", cwd=work, check=0)
    assert re.search(rf"^{name}\s+\d+\s+1$", p.out, re.M), p.out
    assert p.out.splitlines()[0].split() == ["Function", "Invocations", "Replicas"]

    p = cli.run("describe", name, cwd=work, check=0)
    assert re.search(r"^Status:\s+Ready$", p.out, re.M), p.out
    assert re.search(rf"^URL:\s+{re.escape(cli.gw.url)}/function/{name}$", p.out, re.M)
    assert re.search(rf"^Async URL:\s+{re.escape(cli.gw.url)}/async-function/{name}$",
                     p.out, re.M)
    assert re.search(r"^Invocations:\s+[1-9]", p.out, re.M), p.out

    def logged():
        out = cli.run("logs", name, "--no-follow", cwd=work).out
        return "Forking fprocess" in out and f" {name} (" in out
    assert wait_for(logged, 20, 0.2), cli.run("logs", name, "--no-follow").out

    p = cli.run("remove", name, cwd=work, check=0)
    assert f"Removed {name}" in p.out
    assert not re.search(rf"^{name}\s", cli.run("list", check=0).out, re.M)
    cli.run("describe", name, check=5)
    cli.run("invoke", name, input="x", check=5)


def test_new_refuses_existing_folder_and_function(cli, tmp_path):
    cli.run("new", "dup", "--lang", "bash", cwd=tmp_path, check=0)
    p = cli.run("new", "dup", "--lang", "bash", cwd=tmp_path, check=2)
    assert "already in 'stack.yml'" in p.err
    p = cli.run("new", "other", "--lang", "cobol", cwd=tmp_path, check=2)
    assert "no template for lang 'cobol'" in p.err and "python3" in p.err
    p = cli.run("new", "Bad_Name", "--lang", "bash", cwd=tmp_path, check=2)
    assert "invalid function name" in p.err
    (tmp_path / "taken").mkdir()
    p = cli.run("new", "taken", "--lang", "bash", cwd=tmp_path, check=2)
    assert "exists already" in p.err
    stack = (tmp_path / "stack.yml").read_text()
    assert "other" not in stack and "taken" not in stack
    # A second function is appended in the same style, and both build.
    cli.run("new", "second", "--lang", "python3", cwd=tmp_path, check=0)
    p = cli.run("build", "--shrinkwrap", cwd=tmp_path, check=0)
    assert "Shrinkwrapped dup" in p.out and "Shrinkwrapped second" in p.out


def test_shrinkwrap_assembles_a_build_context(cli, tmp_path):
    cli.run("new", "wrapped", "--lang", "python3", cwd=tmp_path, check=0)
    p = cli.run("build", "--shrinkwrap", cwd=tmp_path, check=0)
    assert "Shrinkwrapped wrapped" in p.out
    ctx = tmp_path / "build" / "wrapped"
    assert (ctx / "Dockerfile").is_file() and (ctx / "index.py").is_file()
    assert (ctx / "function" / "handler.py").is_file()
    assert (ctx / "fprocess").read_text().strip() == "python3 index.py"
    assert os.access(ctx / "cfaas-watchdog", os.X_OK)
    assert "COPY cfaas-watchdog" in (ctx / "Dockerfile").read_text()
    assert not (tmp_path / "build" / "wrapped.tar.gz").exists()


# ---------------------------------------------------------------- stack files

def copy_fixture(name, dest):
    shutil.copytree(FIXTURES / name, dest, dirs_exist_ok=True)
    for p in Path(dest).rglob("*.sh"):
        p.chmod(0o755)
    return Path(dest)


def test_stack_two_functions_substitution_and_env_file(cli, tmp_path):
    work = copy_fixture("stack2", tmp_path / "stack2")
    env = {"TEST_GATEWAY": cli.gw.url, "GREETING": "hi there", "TAG": "v2",
           "OPENFAAS_URL": "http://127.0.0.1:1"}
    # The stack's gateway wins over OPENFAAS_URL.
    p = cli.run("up", "--parallel", "2", cwd=work, env=env, check=0)
    assert "Built env-one" in p.out and "Built env-two" in p.out
    assert "Deployed env-one" in p.out and "Deployed env-two" in p.out
    p = cli.run("invoke", "env-one", cwd=work, env=env, check=0)
    assert p.out == "hi there|file-value|from-stack"
    p = cli.run("invoke", "env-two", cwd=work, env=env, check=0)
    assert p.out == "who=nobody-set"
    d = json.loads(cli.run("describe", "env-one", "--json", cwd=work, env=env, check=0).out)
    assert d["image"] == "local/env-one:v2"
    assert d["labels"]["team"] == "core"
    assert d["envVars"] == {"FROM_FILE": "file-value", "OVERRIDE": "from-stack",
                            "GREETING": "hi there"}

    # --filter / --regex pick functions; -e wins over the stack.
    env["WHO"] = "someone"
    p = cli.run("deploy", "--filter", "env-t*", "-e", "EXTRA=1", cwd=work, env=env, check=0)
    assert "Deployed env-two" in p.out and "env-one" not in p.out
    d = json.loads(cli.run("describe", "env-two", "--json", cwd=work, env=env).out)
    assert d["envVars"] == {"WHO": "someone", "EXTRA": "1"}

    def updated():
        return cli.run("invoke", "env-two", cwd=work, env=env).out == "who=someone"
    assert wait_for(updated, 30, 0.2)
    p = cli.run("build", "--regex", "^env-o", cwd=work, env=env, check=0)
    assert "Built env-one" in p.out and "env-two" not in p.out
    p = cli.run("build", "--filter", "nomatch*", cwd=work, env=env, check=2)
    assert "no function" in p.err and "nomatch*" in p.err
    p = cli.run("remove", cwd=work, env=env, check=0)
    assert "Removed env-one" in p.out and "Removed env-two" in p.out


BAD_STACKS = [
    # file, line, column, reason
    ("unknown_key.yml", 6, 5, "unknown key 'lnag' in function 'hello' (did you mean 'lang'?)"),
    ("top_key.yml", 2, 1, "unknown key 'funktions'"),
    ("env_list.yml", 6, 18, "'environment' in function 'hello' must be a map"),
    ("secrets_text.yml", 5, 14, "'secrets' in function 'hello' must be a list"),
    ("bad_bool.yml", 6, 31, "'readonly_root_filesystem' in function 'hello' must be true or false"),
    ("bad_memory.yml", 6, 15, "'memory' of 'limits' in function 'hello' must be a size"),
    ("bad_name.yml", 3, 3, "invalid function name 'Hello_World'"),
    ("duplicate.yml", 5, 3, "duplicate key 'hello'"),
    ("unclosed_var.yml", 4, 12, "unclosed '${'"),
    ("bad_indent.yml", 5, 4, "did not find expected key"),
    ("missing_handler.yml", 5, 14, "handler folder './nothere' of function 'hello' does not exist"),
    ("unknown_lang.yml", 4, 11, "no template for lang 'cobol'"),
]


@pytest.mark.parametrize("fname,line,col,reason", BAD_STACKS)
def test_bad_stack_files_name_file_line_and_reason(cli, tmp_path, fname, line, col, reason):
    work = copy_fixture("bad", tmp_path / "bad")
    p = cli.run("build", "-f", fname, cwd=work, check=2)
    assert f"{fname}:{line}:{col}: " in p.err, p.err
    assert reason in p.err, p.err
    assert p.out == ""
    assert not (work / "build" / "hello.tar.gz").exists()


def test_missing_environment_file_is_reported(cli, tmp_path):
    (tmp_path / "stack.yml").write_text(
        "functions:\n  hello:\n    image: x:1\n    environment_file:\n      - nope.yml\n")
    p = cli.run("deploy", cwd=tmp_path, check=2)
    assert "stack.yml:5:9: " in p.err and "cannot open 'nope.yml'" in p.err


# ---------------------------------------------------------------- secrets

def test_secret_and_a_function_that_reads_it(cli, tmp_path):
    cli.run("secret", "create", "cli-key", "--from-literal", "s3cret-value", check=0)
    p = cli.run("secret", "create", "cli-key", "--from-literal", "again", check=1)
    assert "already exists" in p.err and "secret update" in p.err
    cli.run("secret", "create", "cli-stdin", input="from-stdin\n", check=0)
    (tmp_path / "file.bin").write_bytes(b"from-file\n")
    cli.run("secret", "create", "cli-file", "--from-file", tmp_path / "file.bin", check=0)
    p = cli.run("secret", "list", check=0)
    for n in ("cli-key", "cli-stdin", "cli-file"):
        assert re.search(rf"^{n}$", p.out, re.M), p.out
    assert "s3cret-value" not in p.out

    work = tmp_path / "work"
    shutil.copytree(FIXTURES / "secret-reader", work / "reader")
    (work / "stack.yml").write_text(
        "version: 1.0\nprovider:\n  name: openfaas\n  gateway: ${OPENFAAS_URL}\n"
        "functions:\n  reader:\n    lang: bash\n    handler: ./reader\n"
        "    secrets:\n      - cli-key\n      - cli-stdin\n      - cli-file\n")
    cli.run("up", cwd=work, check=0)
    assert cli.run("invoke", "reader", cwd=work, input="cli-key", check=0).out == "s3cret-value"
    assert cli.run("invoke", "reader", cwd=work, input="cli-stdin", check=0).out == "from-stdin"
    assert cli.run("invoke", "reader", cwd=work, input="cli-file", check=0).out == "from-file\n"

    cli.run("secret", "update", "cli-key", "--from-literal", "new-value", check=0)

    def updated():
        return cli.run("invoke", "reader", cwd=work, input="cli-key").out == "new-value"
    assert wait_for(updated, 30, 0.3)
    cli.run("secret", "update", "no-such-secret", "--from-literal", "x", check=5)
    cli.run("remove", "reader", check=0)
    p = cli.run("secret", "remove", "cli-key", "cli-stdin", "cli-file", check=0)
    assert p.out.count("Removed secret") == 3
    cli.run("secret", "remove", "cli-key", check=5)


# ---------------------------------------------------------------- no stack

def test_deploy_image_invoke_options_scale_replace(cli, tmp_path):
    p = cli.run("deploy", "--name", "envdump", "--image", "envdump:1", "--fprocess", "env",
                "-e", "FOO=bar", "-l", "team=cli", "--annotation", "note=yes",
                cwd=tmp_path, check=0)
    assert f"{cli.gw.url}/function/envdump" in p.out
    p = cli.run("invoke", "envdump", "-m", "PUT", "-H", "X-Test=yes", "--query", "a=1",
                "--query", "b=x y", "--content-type", "application/json",
                input="{}", cwd=tmp_path, check=0)
    lines = p.out.splitlines()
    for want in ("Http_Method=PUT", "Http_Query=a=1&b=x%20y", "Http_X_Test=yes", "FOO=bar",
                 "Http_Content_Type=application/json"):
        assert want in lines, (want, p.out)
    p = cli.run("invoke", "envdump", "-m", "GET", cwd=tmp_path, check=0)
    assert "Http_Method=GET" in p.out.splitlines()

    p = cli.run("describe", "envdump", cwd=tmp_path, check=0)
    assert re.search(r"^Function Process:\s+env$", p.out, re.M)
    assert "team=cli" in p.out and "note=yes" in p.out and "FOO=bar" in p.out

    p = cli.run("scale", "envdump", "--replicas", "2", check=0)
    assert "Scaled envdump to 2 replicas" in p.out

    def two():
        d = json.loads(cli.run("describe", "envdump", "--json").out)
        return d.get("replicas") == 2 and d.get("availableReplicas") == 2
    assert wait_for(two, 30, 0.2)
    lst = cli.run("list", "-v", check=0).out
    assert re.search(r"^envdump\s+envdump:1\s+\d+\s+2\s+2\s", lst, re.M), lst
    names = cli.run("list", "-q", check=0).out.split()
    assert "envdump" in names
    js = json.loads(cli.run("list", "--json", check=0).out)
    assert any(f["name"] == "envdump" for f in js)

    p = cli.run("deploy", "--name", "envdump", "--image", "envdump:2", "--fprocess", "env",
                "--replace", check=0)
    d = json.loads(cli.run("describe", "envdump", "--json").out)
    assert d["image"] == "envdump:2" and "FOO" not in d.get("envVars", {})

    p = cli.run("deploy", "--name", "Bad_Name", "--image", "x", check=2)
    assert "invalid function name" in p.err
    p = cli.run("deploy", "--image", "x", check=2)
    assert "--image and --name go together" in p.err
    p = cli.run("invoke", "envdump", "-H", "no-equals", check=2)
    assert "-H 'no-equals' is not KEY=VALUE" in p.err
    cli.run("scale", "nosuchfn", "--replicas", "1", check=5)
    cli.run("remove", "envdump", check=0)
    cli.run("remove", "envdump", check=5)


def test_invoke_reports_function_errors(cli, tmp_path):
    cli.run("deploy", "--name", "fails", "--image", "fails:1", "--fprocess", "false", check=0)
    p = cli.run("invoke", "fails", input="x", check=1)
    assert "function 'fails' answered 500" in p.err
    cli.run("remove", "fails", check=0)


def test_logs_follow_by_default(cli, tmp_path):
    cli.run("deploy", "--name", "followed", "--image", "followed:1", "--fprocess", "cat",
            check=0)
    wait_ready(cli, "followed")
    proc = subprocess.Popen([cli.exe, "logs", "followed", "--tail", "0"], env=cli.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, b"")),
                              daemon=True)
    reader.start()
    try:
        time.sleep(0.5)
        assert proc.poll() is None, "logs stopped instead of following"
        marker = "follow-marker"
        cli.run("invoke", "followed", "-H", f"X-Call-Id={marker}", input="x", check=0)
        assert wait_for(lambda: any(marker.encode() in l for l in lines), 20, 0.1), lines
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    cli.run("remove", "followed", check=0)


# ---------------------------------------------------------------- async

class Receiver:
    """Collects callbacks on 127.0.0.1."""

    def __init__(self):
        self.calls = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.calls.append(({k.lower(): v for k, v in self.headers.items()},
                                    self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/done"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_invoke_async_with_callback(cli, tmp_path):
    cli.run("new", "later", "--lang", "bash", cwd=tmp_path, check=0)
    cli.run("up", cwd=tmp_path, check=0)
    wait_ready(cli, "later")
    rx = Receiver()
    try:
        p = cli.run("invoke", "later", "--async", "--callback-url", rx.url, input="queued",
                    cwd=tmp_path)
        if p.returncode != 0 and "503" in p.err:
            pytest.skip(f"the gateway cannot queue async calls (503): {p.err.strip()}")
        assert p.returncode == 0, p.err
        call_id = p.out.strip()
        assert re.fullmatch(r"[0-9a-f-]{36}", call_id), p.out
        assert "submitted asynchronously" in p.err
        assert wait_for(lambda: any(h.get("x-call-id") == call_id for h, _ in rx.calls),
                        60, 0.1), rx.calls
        headers, body = next((h, b) for h, b in rx.calls if h.get("x-call-id") == call_id)
        assert body == f"{GREETING}queued".encode()
        assert headers.get("x-function-status") == "200"

        def done():
            r = cli.run("call", call_id, "--json")
            return r.returncode == 0 and json.loads(r.out).get("status") == "succeeded"
        assert wait_for(done, 30, 0.2)
        p = cli.run("call", call_id, check=0)
        assert re.search(r"^Status:\s+succeeded$", p.out, re.M), p.out
        p = cli.run("calls", "--function", "later", check=0)
        assert call_id in p.out and "succeeded" in p.out
        assert p.out.splitlines()[0].split()[:3] == ["ID", "FUNCTION", "STATUS"]
        cli.run("call", "00000000-0000-4000-8000-000000000000", check=5)
    finally:
        rx.close()
        cli.run("remove", "later")


# ---------------------------------------------------------------- bundles

def targz(members):
    """A tar.gz from (TarInfo, bytes-or-None) pairs."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w:gz", format=tarfile.GNU_FORMAT) as t:
        for ti, data in members:
            if data is not None:
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return bio.getvalue()


def member(name, data=b"x", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.mode = mode
    return ti, data


def link(name, target, kind=tarfile.SYMTYPE):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = target
    return ti, None


def folder(name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    return ti, None


def special(name, kind):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    return ti, None


def put_bundle(gw, image, body):
    return gw.api("PUT", f"/system/bundles/{image}", body,
                  {"Content-Type": "application/gzip"})


def test_bundle_upload_is_unpacked_safely(gw, tmp_path):
    bundles = gw.data_dir / "bundles"
    ok = targz([folder("./"), member("./a.txt", b"hello"), member("./sub/run.sh", b"echo", 0o4755),
                link("./lnk", "sub/run.sh"), link("./sub/up", "../a.txt"),
                member("./" + "d" * 120 + "/" + "f" * 120, b"long"),
                link("./hard", "a.txt", tarfile.LNKTYPE)])
    r = put_bundle(gw, "safe/img:1", ok)
    assert r.status == 201, r
    assert json.loads(r.body)["image"] == "safe/img:1"
    d = bundles / "safe_img_1"
    assert (d / "a.txt").read_bytes() == b"hello"
    assert os.readlink(d / "lnk") == "sub/run.sh"
    assert (d / "sub" / "up").read_bytes() == b"hello"
    assert (d / "hard").read_bytes() == b"hello"
    assert stat.S_IMODE((d / "sub" / "run.sh").stat().st_mode) == 0o755  # no setuid
    assert (d / ("d" * 120) / ("f" * 120)).read_bytes() == b"long"

    outside = tmp_path / "outside"
    bad = {
        "absolute": [member(str(outside / "abs"))],
        "dotdot": [member("../escape")],
        "inner-dotdot": [member("a/../../escape")],
        "abs-symlink": [link("x", str(outside))],
        "up-symlink": [link("x", "..")],
        "late-dotdot-symlink": [link("y", "."), link("x", "y/y/..")],
        "through-symlink": [link("x", "sub"), folder("sub"), member("x/evil")],
        "hardlink-out": [link("h", "/etc/passwd", tarfile.LNKTYPE)],
        "hardlink-missing": [link("h", "nothing", tarfile.LNKTYPE)],
        "fifo": [special("fifo", tarfile.FIFOTYPE)],
        "device": [special("null", tarfile.CHRTYPE)],
    }
    for what, members in bad.items():
        r = put_bundle(gw, "safe/img:1", targz(members))
        assert r.status == 400, (what, r)
        assert "refused" in r.text, (what, r.text)
    assert not outside.exists()
    assert not (gw.data_dir / "escape").exists() and not (bundles / "escape").exists()
    # The refused uploads left the stored bundle as it was, and no debris.
    assert (d / "a.txt").read_bytes() == b"hello"
    assert not [p for p in bundles.iterdir() if p.name.startswith(".")]

    assert put_bundle(gw, "safe/img:1", b"not gzip at all").status == 400
    assert put_bundle(gw, "safe/img:1", gzip.compress(b"not a tar archive" * 100)).status == 400
    assert put_bundle(gw, ".hidden", ok).status == 400
    assert put_bundle(gw, "..", ok).status == 400
    # A member that claims more than the cap is refused before it is written.
    big = tarfile.TarInfo("big")
    big.size = 300 * 1024 * 1024
    hdr = big.tobuf(format=tarfile.GNU_FORMAT)
    assert put_bundle(gw, "big:1", gzip.compress(hdr + b"\0" * 4096)).status == 413
    assert not (bundles / "big_1").exists()

    # Without credentials: 401.
    r = helpers.http_request(gw.port, "PUT", "/system/bundles/x:1", ok, {}, timeout=30)
    assert r.status == 401

    # Uploading again replaces the bundle atomically: 202.
    r = put_bundle(gw, "safe/img:1", targz([member("only.txt", b"2")]))
    assert r.status == 202, r
    assert sorted(p.name for p in d.iterdir()) == ["only.txt"]


# ---------------------------------------------------------------- quick start

def quick_start_blocks(path):
    """The ```sh blocks of the 'Quick start' section that use `cfaas new`."""
    text = path.read_text()
    m = re.search(r"^## Quick start.*?(?=^## |\Z)", text, re.M | re.S)
    if not m:
        return []
    return [b for b in re.findall(r"```sh\n(.*?)```", m.group(0), re.S) if "cfaas new" in b]


def run_quick_start(cli, gw, tmp_path, script):
    """Runs the block verbatim in a folder that has the gateway's cfaas-data
    next to it, as in a clone where `make run` was started."""
    home = tmp_path / "home"
    home.mkdir(parents=True)
    where = tmp_path / "clone"
    where.mkdir()
    (where / "cfaas-data").symlink_to(gw.data_dir)
    env = dict(cli.env)
    env["HOME"] = str(home)
    p = subprocess.run(["bash", "-e", "-c", script], cwd=str(where), env=env,
                       capture_output=True, timeout=300)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert not SANITIZER_RE.search(err), err
    assert p.returncode == 0, f"quick start failed:\n{script}\nstdout:\n{out}\nstderr:\n{err}"
    return out, where


def test_quick_start_in_docs_runs_verbatim(cli, gw, tmp_path):
    blocks = quick_start_blocks(REPO / "docs" / "cli.md")
    assert len(blocks) == 1, "docs/cli.md has no quick start block"
    out, where = run_quick_start(cli, gw, tmp_path, blocks[0])
    assert out.rstrip().endswith("Hello! You said: cfaas"), out
    cli.run("remove", "hello", check=0)


def test_quick_start_in_readme_runs_verbatim(cli, gw, tmp_path):
    blocks = quick_start_blocks(REPO / "README.md")
    if not blocks:
        pytest.skip("README.md has no `cfaas new` quick start block yet")
    for i, block in enumerate(blocks):
        out, _ = run_quick_start(cli, gw, tmp_path / f"b{i}", block)
        assert "Hello! You said:" in out, out
        cli.run("remove", "hello")
