"""deploy/compose.yaml rehearsed without containers (CI has no Docker engine): a broken compose
file, env.example, Dockerfile, nginx.conf or prometheus.yml fails here, not at a deploy.

Docs note: the compose topology has never run under Docker in CI; this test runs each
service's own `command` and `environment` (interpolated from deploy/env.example) as local
processes, rewriting only what the container network provides (host names, ports, /data).

1. `test_compose_topology` (no database needed) reads the file as Compose would (PyYAML,
   `<<: *api` merges, `${VAR:-default}` / `${VAR:?message}` interpolated from
   deploy/env.example) and checks the wiring: the services, the start order (migrate completed,
   Redis healthy), every SUPPORT_API_* variable read by `Settings.from_env`, servers with
   PUSH_EMBEDDED=false and a Redis URL, one shared /data volume that is the image's
   SUPPORT_API_VAR_DIR, nginx's upstream = the api services on SUPPORT_API_PORT, Prometheus
   scraping every process on SUPPORT_API_METRICS_PORT, stop_grace_period above the drain.
2. `test_compose_rehearsal` (PostgreSQL): the services' own commands with their own
   environment (the Dockerfile's ENV under it), rewritten only where a container network would
   differ: `postgres`/`redis` -> the test's servers (a fresh, empty database), container ports
   -> free local ports, the /data volume -> a temp dir. `migrate` runs to exit 0; api1, api2
   and push-worker start; each api's own healthcheck command passes; nginx runs
   deploy/nginx.conf in front of them; a user (on api1) and an operator (on api2) chat through
   nginx; every process's metrics port answers; SIGTERM stops every process with exit 0 within
   stop_grace_period.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from support_api.config import Settings
from support_api.lib import migrate
from support_api.lib.auth import Role, mint_token
from tests.dbutil import PG_ENV, fresh_database
from tests.e2e.conftest import SERVER_ERROR_MARKERS, Api, Sock, free_port, uid
from tests.e2e.test_nginx_cluster import REDIS_URL, cookie_for, run_nginx

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"
NGINX_CONF = DEPLOY / "nginx.conf"
VENV_BIN = Path(sys.executable).parent  # where `support-api` is installed (the image's PATH)
REQUIRED = ("postgres", "redis", "migrate", "push-worker", "nginx", "prometheus")
SERVE = ["support-api", "serve"]


class ComposeError(Exception):
    pass


# --- reading the files as Compose and Docker do ---------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}; an unset variable without a default is empty."""

    def sub(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        name = match.group(2) or match.group(5)
        op, arg = match.group(3), match.group(4) or ""
        current = variables.get(name)
        missing = (not current) if op and op.startswith(":") else current is None
        if op and op.endswith("-"):
            return arg if missing else str(current)
        if op and op.endswith("?") and missing:
            raise ComposeError(f"required variable {name} is missing a value: {arg}")
        return current or ""

    return _VAR.sub(sub, value)


def interpolated(node: Any, variables: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, dict):
        return {key: interpolated(value, variables) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(value, variables) for value in node]
    return node


def load_compose(variables: dict[str, str]) -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())  # resolves the `<<: *api` merge keys
    result: dict[str, Any] = interpolated(data, variables)
    return result


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items()}


def api_services(compose: dict[str, Any]) -> list[str]:
    return [name for name, svc in compose["services"].items() if command_of(svc) == SERVE]


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(duration))
    assert match and any(match.groups()), f"unparsed duration {duration!r}"
    return int(match.group(1) or 0) * 60 + float(match.group(2) or 0)


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        if raw.strip().startswith("#") or (not raw.strip() and not pending):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    out = []
    for line in lines:
        instruction, _, args = line.strip().partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def image_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile(path):
        if instruction == "ENV":
            for part in shlex.split(args):
                key, _, value = part.partition("=")
                env[key] = value
    return env


class RecordingEnv(dict):  # type: ignore[type-arg]
    """An environment that remembers which variables were read."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        self.read.add(key)
        return super().__contains__(key)


def upstream_servers() -> list[str]:
    """host:port of each `server` line in deploy/nginx.conf's `upstream support_api` block."""
    block = re.search(r"upstream\s+support_api\s*\{(.*?)\n\s*\}", NGINX_CONF.read_text(), re.DOTALL)
    assert block, "deploy/nginx.conf has no `upstream support_api` block"
    return re.findall(r"^\s*server\s+([^\s;]+)", block.group(1), re.MULTILINE)


class Topology:
    """compose.yaml interpolated, with what the checks and the rehearsal derive from it."""

    def __init__(self, variables: dict[str, str]) -> None:
        self.compose = load_compose(variables)
        self.services: dict[str, dict[str, Any]] = self.compose["services"]
        self.apis = api_services(self.compose)
        build = self.services[self.apis[0]]["build"] if self.apis else {"context": "..", "dockerfile": "Dockerfile"}
        self.context = (DEPLOY / build["context"]).resolve()
        self.dockerfile = self.context / build.get("dockerfile", "Dockerfile")
        self.image_env = image_env(self.dockerfile)

    def env(self, name: str) -> dict[str, str]:
        """What the container's process sees: the image's ENV, then the service's environment."""
        return {**self.image_env, **environment_of(self.services[name])}

    def settings(self, name: str) -> Settings:
        return Settings.from_env(self.env(name))

    def volume_target(self, name: str, volume: str) -> str:
        for entry in self.services[name].get("volumes") or []:
            source, _, target = str(entry).partition(":")
            if source == volume:
                return target.split(":")[0]
        raise AssertionError(f"{name} does not mount the volume {volume!r}")


def example_variables() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


# --- 1. the wiring -------------------------------------------------------------------------


def test_compose_topology() -> None:
    variables = example_variables()
    top = Topology(variables)
    services = top.services
    missing = [name for name in REQUIRED if name not in services]
    assert not missing, f"compose.yaml lacks the services {missing}"
    assert len(top.apis) >= 2, f"at least two `support-api serve` services expected, got {top.apis}"
    workers = [name for name, svc in services.items() if command_of(svc) == ["support-api", "push-worker"]]
    assert workers == ["push-worker"], workers
    assert command_of(services["migrate"]) == ["support-api", "db", "upgrade"]
    assert str(services["migrate"].get("restart")) == "no", "a one-shot migration must not restart"

    # A required secret left out of deploy/.env stops `docker compose up` with its message.
    with pytest.raises(ComposeError, match="POSTGRES_PASSWORD"):
        load_compose({k: v for k, v in variables.items() if k != "POSTGRES_PASSWORD"})

    # The image: every COPY source is in the build context; its ENV and ports match the services.
    assert top.dockerfile.is_file(), f"build context {top.context} has no {top.dockerfile.name}"
    for instruction, args in dockerfile(top.dockerfile):
        if instruction == "COPY":
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            for source in parts[:-1]:
                assert (top.context / source).exists(), f"Dockerfile: COPY {source}: not in the build context"
    var_dir = top.image_env.get("SUPPORT_API_VAR_DIR")
    assert var_dir, "the image sets no SUPPORT_API_VAR_DIR"
    volumes = [args for instruction, args in dockerfile(top.dockerfile) if instruction == "VOLUME"]
    assert any(var_dir in v for v in volumes), f"the image does not declare {var_dir} a volume"
    postgres_env = environment_of(services["postgres"])
    installs = [args for instruction, args in dockerfile(top.dockerfile) if instruction == "RUN" and "pip install" in args]

    for name in [*top.apis, "push-worker", "migrate"]:
        svc = services[name]
        assert (DEPLOY / svc["build"]["context"]).resolve() == top.context, f"{name}: another build context"
        env = top.env(name)
        recorder = RecordingEnv(env)
        settings = Settings.from_env(recorder)  # raises ConfigError on a bad value
        unread = sorted(k for k in env if k.startswith("SUPPORT_API_") and k not in recorder.read)
        assert not unread, f"{name}: variables no setting reads (misspelt?): {unread}"
        # The database is the postgres service, with its own credentials.
        db = make_url(settings.database_url)
        assert (db.drivername, db.host, db.port or 5432) == ("postgresql+psycopg", "postgres", 5432), name
        assert (db.database, db.username, db.password) == (
            postgres_env["POSTGRES_DB"], postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"]), \
            f"{name}: the database URL does not match the postgres service's database and credentials"
        assert settings.redis_url and make_url(settings.redis_url).host == "redis", f"{name}: no Redis URL"
        # The var dir (and with it local uploads) is the one volume every container shares.
        target = top.volume_target(name, "shared")
        assert settings.var_dir == Path(target) == Path(var_dir), (name, settings.var_dir, target)
        if settings.storage_backend == "local":
            assert settings.upload_dir.is_relative_to(target), f"{name}: uploads outside the shared volume"
        if name != "migrate":
            assert settings.metrics_port, f"{name}: no SUPPORT_API_METRICS_PORT (Prometheus scrapes it)"
        if settings.async_mode == "gevent":
            # gevent is an extra: an image installed without it would fail at the first start.
            assert any(re.search(r"\.\[[^\]]*\bgevent\b", args) for args in installs), \
                f"{name} runs gevent but the image installs no `gevent` extra: {installs}"
    # The servers run the runtime production uses (docs/production.md).
    assert {top.env(name).get("SUPPORT_API_ASYNC_MODE") for name in top.apis} == {"gevent"}
    assert "shared" in (top.compose.get("volumes") or {}), "the `shared` volume is not declared"

    # Start order: postgres healthy -> migrate completed -> servers and worker (Redis healthy).
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in [*top.apis, "push-worker"]:
        depends = services[name].get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        assert depends.get("migrate") == {"condition": "service_completed_successfully"}, \
            f"{name}: must start after migrate completed, depends_on {depends}"
        assert depends.get("redis") == {"condition": "service_healthy"}, \
            f"{name}: must start once redis is healthy, depends_on {depends}"
    assert services["postgres"].get("healthcheck"), "migrate waits for postgres healthy: it needs a healthcheck"
    assert services["redis"].get("healthcheck"), "the servers wait for redis healthy: it needs a healthcheck"

    api_ports = {}
    for name in top.apis:
        settings = top.settings(name)
        assert settings.push.embedded is False, f"{name}: SUPPORT_API_PUSH_EMBEDDED must be false (push-worker sends)"
        assert settings.auto_migrate is False, f"{name}: only `migrate` migrates"
        assert settings.proxy_count == 1, f"{name}: nginx is one proxy in front"
        api_ports[name] = settings.port
        check = services[name].get("healthcheck") or {}
        assert not check.get("disable") and check.get("test"), f"{name}: no healthcheck"
        assert f"127.0.0.1:{settings.port}/" in " ".join(check["test"]), f"{name}: healthcheck on another port"
        # Docker sends SIGKILL after stop_grace_period: the drain must fit in it.
        assert seconds(services[name]["stop_grace_period"]) > settings.shutdown_grace_seconds, \
            f"{name}: stop_grace_period within SUPPORT_API_SHUTDOWN_GRACE_SECONDS={settings.shutdown_grace_seconds}"
        exposed = " ".join(args for instruction, args in dockerfile(top.dockerfile) if instruction == "EXPOSE")
        assert str(settings.port) in exposed.split(), f"{name}: port {settings.port} not EXPOSEd by the image"

    # nginx: this very nginx.conf, in front of exactly the api services.
    nginx = services["nginx"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in nginx.get("volumes", []), "nginx does not mount deploy/nginx.conf"
    depends = nginx.get("depends_on") or []
    assert set(top.apis) <= set(depends), f"nginx depends_on {depends}, not every api service"
    upstreams = upstream_servers()
    assert sorted(upstreams) == sorted(f"{name}:{api_ports[name]}" for name in top.apis), \
        f"deploy/nginx.conf upstream {upstreams} != the api services {api_ports}"
    listen = re.findall(r"^\s*listen\s+(\d+)\s*;", NGINX_CONF.read_text(), re.MULTILINE)
    published = [str(p).split(":")[-1] for p in nginx.get("ports", [])]
    assert listen and set(listen) <= set(published), f"nginx listens on {listen}, compose publishes {published}"

    # Prometheus: every process on its metrics port, nothing else.
    mounts = services["prometheus"].get("volumes") or []
    source = next((m.split(":")[0] for m in mounts if ":/etc/prometheus/prometheus.yml" in m), None)
    assert source, "prometheus does not mount a prometheus.yml"
    scrape = yaml.safe_load((DEPLOY / source).read_text())
    targets = sorted(t for job in scrape["scrape_configs"] for sc in job.get("static_configs", [])
                     for t in sc.get("targets", []))
    expected = sorted(f"{name}:{top.settings(name).metrics_port}" for name in [*top.apis, "push-worker"])
    assert targets == expected, f"prometheus.yml scrapes {targets}, the processes serve metrics on {expected}"


# --- 2. the rehearsal ----------------------------------------------------------------------


class Proc:
    """One service's `command` run as a local process, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.log_path = logs / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        # The image's WORKDIR is the repository copied to /app: here, the checkout itself.
        self.proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def text(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def errors(self) -> list[str]:
        return [line for line in self.text().splitlines() if any(m in line for m in SERVER_ERROR_MARKERS)]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def healthcheck_argv(test: list[str] | str, port_from: int, port_to: int) -> list[str]:
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    kind, rest = test[0], [p.replace(f"127.0.0.1:{port_from}/", f"127.0.0.1:{port_to}/") for p in test[1:]]
    assert rest != test[1:], "the healthcheck names no 127.0.0.1:<SUPPORT_API_PORT>"
    if kind == "CMD":
        return rest
    assert kind == "CMD-SHELL", f"unknown healthcheck form {kind}"
    return ["sh", "-c", rest[0]]


def metric_names(port: int) -> set[str]:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200, response.text[:200]
    return {family.name for family in text_string_to_metric_families(response.text)}


def gauge(port: int, name: str) -> float:
    text_ = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text_):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"no {name} on port {port}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database without any schema: `migrate` creates it."""
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set: the compose topology runs on PostgreSQL only (CI sets it)")
    with fresh_database("postgresql", migrated=False) as url:
        yield url


def test_compose_rehearsal(postgres_url: str, tmp_path: Path) -> None:
    # deploy/.env as an operator fills it in: env.example plus a token secret of our own.
    variables = {**example_variables(), "SUPPORT_API_JWT_SECRET": secrets.token_urlsafe(32)}
    top = Topology(variables)
    shared = tmp_path / "shared"  # the `shared` volume, mounted at the image's SUPPORT_API_VAR_DIR
    shared.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    var_target = top.image_env["SUPPORT_API_VAR_DIR"]
    ports = {name: free_port() for name in top.apis}
    metrics_ports = {name: free_port() for name in [*top.apis, "push-worker"]}

    def local_env(name: str) -> dict[str, str]:
        """The container's environment with only what its network and volume provide rewritten."""
        env = top.env(name)
        db = make_url(env["SUPPORT_API_DATABASE_URL"])
        assert db.host == "postgres", env["SUPPORT_API_DATABASE_URL"]
        env["SUPPORT_API_DATABASE_URL"] = postgres_url
        assert make_url(env["SUPPORT_API_REDIS_URL"]).host == "redis"
        env["SUPPORT_API_REDIS_URL"] = REDIS_URL
        for key, value in env.items():
            if value == var_target or value.startswith(var_target + "/"):
                env[key] = str(shared) + value[len(var_target):]
        if name in ports:
            env["SUPPORT_API_PORT"] = str(ports[name])
        if env.get("SUPPORT_API_METRICS_PORT"):
            env["SUPPORT_API_METRICS_PORT"] = str(metrics_ports.get(name) or free_port())
        # The image's OS environment: PATH with the installed console script; HOME is /data.
        env.update({"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
                    "HOME": str(shared), "LANG": "C.UTF-8"})
        return env

    procs: list[Proc] = []
    started = time.monotonic()
    try:
        # migrate: to completion, exit 0, the schema at head.
        migrate_proc = Proc("migrate", command_of(top.services["migrate"]), local_env("migrate"), logs)
        procs.append(migrate_proc)
        assert migrate_proc.proc.wait(60) == 0, f"migrate failed:\n{migrate_proc.text()}"
        head = ScriptDirectory.from_config(migrate.alembic_config(postgres_url)).get_current_head()
        engine = create_engine(postgres_url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
        finally:
            engine.dispose()

        # The servers and the worker, all at once (what `up` does once migrate has completed).
        servers = {name: Proc(name, command_of(top.services[name]), local_env(name), logs) for name in top.apis}
        procs += servers.values()
        worker = Proc("push-worker", command_of(top.services["push-worker"]), local_env("push-worker"), logs)
        procs.append(worker)

        # Each api's own healthcheck, on its local port: exit 0 (retried as Docker does, until up).
        for name, proc in servers.items():
            container_port = top.settings(name).port
            argv = healthcheck_argv(top.services[name]["healthcheck"]["test"], container_port, ports[name])
            env = local_env(name)
            deadline = time.monotonic() + 40
            while True:
                assert proc.proc.poll() is None, f"{name} exited with {proc.proc.returncode}:\n{proc.text()}"
                check = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, timeout=10, check=False)
                if check.returncode == 0:
                    break
                assert time.monotonic() < deadline, \
                    f"{name}: healthcheck still failing ({check.stderr.decode()[-300:]}):\n{proc.text()}"
                time.sleep(0.3)
        assert worker.proc.poll() is None, f"push-worker exited:\n{worker.text()}"

        # nginx with deploy/nginx.conf, its upstream servers rewritten to the local ports.
        order = [server.split(":")[0] for server in upstream_servers()]
        with run_nginx(tmp_path / "nginx", [ports[name] for name in order]) as (nginx_url, _access_log):
            _chat_through_nginx(top, nginx_url, ports, metrics_ports)

        # Every process serves its own metrics.
        for name, port in metrics_ports.items():
            names = metric_names(port)
            assert any(n.startswith("support_api_") for n in names), f"{name}: no support_api_ metrics: {names}"

        # `docker compose stop`: SIGTERM to every process at once; each exits 0 within its grace.
        for proc in [*servers.values(), worker]:
            assert proc.proc.poll() is None, f"{proc.name} died:\n{proc.text()}"
            proc.proc.send_signal(signal.SIGTERM)
        for proc in [*servers.values(), worker]:
            grace = seconds(top.services[proc.name].get("stop_grace_period", "10s"))
            try:
                code = proc.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{proc.name} still running {grace}s after SIGTERM (Docker would SIGKILL it):\n"
                            f"{proc.text()}")
            assert code == 0, f"{proc.name} exited with {code} after SIGTERM:\n{proc.text()}"
        for proc in procs:
            assert not proc.errors(), f"{proc.name} logged errors:\n{proc.text()}"
        assert time.monotonic() - started < 60
    finally:
        for proc in procs:
            proc.close()


def _chat_through_nginx(top: Topology, nginx_url: str, ports: dict[str, int], metrics_ports: dict[str, int]) -> None:
    """A user on the first api and an operator on the second chat through nginx (REST to open
    and claim, sockets both ways): the message crosses processes through Redis."""
    first, second = top.apis[0], top.apis[1]
    settings = top.settings(first)  # the token secret of deploy/.env, as the identity provider has it
    user_id, op_id = uid("compose-user"), uid("compose-op")
    user_token = mint_token(settings, user_id, Role.USER, name="Compose User")
    op_token = mint_token(settings, op_id, Role.OPERATOR, name="Compose Op", departments=["security"])
    user_api, op_api = Api(nginx_url, user_token), Api(nginx_url, op_token)
    user_sock = Sock(nginx_url, user_token, name="user")
    op_sock = Sock(nginx_url, op_token, name="operator")
    try:
        # `security`: a category the FAQ bot (on by default, as in production) leaves to people.
        opened = user_api.post("/v1/sessions", json={"category": "security"})
        assert opened.status_code == 201, opened.text
        session_id = opened.json()["id"]
        claimed = op_api.post(f"/v1/sessions/{session_id}/claim")
        assert claimed.status_code == 200, claimed.text

        user_sock.http.cookies.set("support_api_lb", cookie_for(nginx_url, ports[first]))
        op_sock.http.cookies.set("support_api_lb", cookie_for(nginx_url, ports[second]))
        user_sock.connect()
        op_sock.connect()
        # nginx's cookie put each on its own process.
        assert gauge(metrics_ports[first], "support_api_socket_connections") == 1
        assert gauge(metrics_ports[second], "support_api_socket_connections") == 1
        user_sock.join(session_id)
        op_sock.join(session_id)

        ack = user_sock.send(session_id, "My account shows a login I do not recognise")
        assert ack["ok"] is True, ack
        mine = ack["message"]
        assert op_sock.wait_for("message:new", lambda m: m["id"] == mine["id"]) == [mine]
        ack = op_sock.send(session_id, "I have locked withdrawals while we check")
        assert ack["ok"] is True, ack
        reply = ack["message"]
        assert user_sock.wait_for("message:new", lambda m: m["id"] == reply["id"]) == [reply]
    finally:
        for sock in (user_sock, op_sock):
            sock.close()
        user_api.close()
        op_api.close()
