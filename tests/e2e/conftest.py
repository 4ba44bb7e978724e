"""Fixtures for end-to-end tests: a real `support-api serve` process on 127.0.0.1, real HTTP
(requests, every response checked against openapi.yaml) and real Socket.IO clients.

- `server` (module scope, one per backend of `tests.dbutil.backends()`): a server process
  on a fresh migrated database, stopped at the end of the module.
- `world` (per test): makes users and operators with tokens minted for that server, their
  REST clients and sockets, and closes them all afterwards. It also fails the test when the
  server logged an unhandled error while the test ran.
- `run_server(...)`: start extra servers (other async modes, several processes on Redis,
  other settings through `extra_env`); `world_on(*servers)` is `world` for those.

Clients: `Api` (requests; `check()` on every response), `Sock` (python-socketio client that
records `message:new`, `session:updated`, `session:read`, `typing` and any other event, with
bounded `wait_for`), `Actor` (a user or operator: token, `Api`, sockets on demand).
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import engineio
import pytest
import requests
import socketio

from support_api.config import Settings
from support_api.lib.auth import Role, mint_token
from tests import socket_contract
from tests.contract import check
from tests.dbutil import backends, fresh_database

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
WAIT = 10.0  # the bound of every wait for an event or an ack
HTTP_TIMEOUT = 15.0

# Server events every test socket records, in arrival order.
RECORDED_EVENTS = ("message:new", "session:updated", "session:read", "typing")
# Log lines that mean the server hit a bug: tracebacks, and anything our own code logs at
# ERROR (500s log "unhandled error", failed socket handlers "socket handler ... failed").
SERVER_ERROR_MARKERS = ("Traceback (most recent call last)", " ERROR support_api", " CRITICAL support_api",
                        '"level": "ERROR", "logger": "support_api', '"level": "CRITICAL", "logger": "support_api',
                        "unhandled error", "socket handler")


def uid(prefix: str) -> str:
    """A fresh id, so tests sharing one server never see each other's data by accident."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


# --- the server process ------------------------------------------------------------------


class ServerProcess:
    """One `support-api serve` child process and its combined stdout/stderr log file."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int) -> None:
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "support_api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.settings = Settings.from_env(env)

    @property
    def async_mode(self) -> str:
        return self.settings.async_mode

    def log_text(self, start: int = 0) -> str:
        return self.log_path.read_bytes()[start:].decode("utf-8", "replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last_error = "no answer yet"
        with requests.Session() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode} before it was ready; "
                                       f"its output:\n{self.log_text()}")
                try:
                    response = http.get(f"{self.url}/v1/health", timeout=2)
                    if response.status_code == 200:
                        check(response)
                        return
                    last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                except requests.RequestException as exc:
                    last_error = str(exc)
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer GET /v1/health with 200 within {STARTUP_TIMEOUT}s "
                           f"(last: {last_error}); its output:\n{self.log_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self._log.close()

    def token(self, sub: str, role: Role = Role.USER, *, name: str | None = None,
              departments: list[str] | None = None, ttl_seconds: int = 3600) -> str:
        return mint_token(self.settings, sub, role, name=name, departments=departments, ttl_seconds=ttl_seconds)


def server_env(database_url: str, var_dir: Path, *, jwt_secret: str | None = None, async_mode: str = "eventlet",
               redis_url: str | None = None, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: ours without any SUPPORT_API_* setting, plus the test's
    (`extra_env` last, e.g. {"SUPPORT_API_RATE_LIMIT_MESSAGES": "1000/minute"})."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SUPPORT_API_")}
    env.update({
        "SUPPORT_API_DATABASE_URL": database_url,
        "SUPPORT_API_JWT_SECRET": jwt_secret or secrets.token_urlsafe(32),
        "SUPPORT_API_ASYNC_MODE": async_mode,
        "SUPPORT_API_VAR_DIR": str(var_dir),
        "SUPPORT_API_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        # The bot's FAQ answer (issue 12) would take chats out of the queue these tests exercise;
        # tests/e2e/test_self_service_e2e.py turns it on through `extra_env`.
        "SUPPORT_API_SELF_SERVICE_CATEGORIES": "none",
    })
    if redis_url:
        env["SUPPORT_API_REDIS_URL"] = redis_url
    env.update(extra_env or {})
    return env


@contextmanager
def run_server(database_url: str, var_dir: Path, **options: Any) -> Iterator[ServerProcess]:
    """Start a server on a free port, wait until it is healthy, stop it afterwards."""
    var_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = ServerProcess(server_env(database_url, var_dir, **options), var_dir / f"server-{port}.log", port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@contextmanager
def two_processes(backend: str, var_dir: Path, redis_url: str,
                  extra_env: dict[str, str] | None = None) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Processes A and B: one fresh database, one token secret, one Redis."""
    secret = secrets.token_urlsafe(32)
    with fresh_database(backend) as url, \
            run_server(url, var_dir, jwt_secret=secret, redis_url=redis_url, extra_env=extra_env) as a, \
            run_server(url, var_dir, jwt_secret=secret, redis_url=redis_url, extra_env=extra_env) as b:
        yield a, b


@pytest.fixture(scope="module", params=backends())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server (eventlet, the default runtime) on a fresh database, one per module and backend."""
    with fresh_database(request.param) as url, run_server(url, tmp_path_factory.mktemp("server")) as proc:
        yield proc


# --- clients -----------------------------------------------------------------------------


class Api:
    """A requests session for one caller; every response is validated against openapi.yaml."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        return check(self.http.request(method, self.base_url + path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self.http.close()


class _InOrderEngineIO(engineio.Client):
    """python-engineio runs the handler of each incoming message on a thread of its own, so a
    socket's events were recorded in the order those threads got to the recorder, not the
    order the server sent them. This client runs the message handler on the reading thread:
    events are recorded in arrival order (the handlers only record and notify; nothing in them
    waits for the server). Relies on the pinned python-engineio (pyproject.toml)."""

    def start_background_task(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if target is self.handlers.get("message"):
            return target(*args, **kwargs)
        return super().start_background_task(target, *args, **kwargs)


class _InOrderClient(socketio.Client):
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InOrderEngineIO


class Sock:
    """A python-socketio client that records server events, in the order they arrive, and
    waits for them, bounded."""

    def __init__(self, base_url: str, token: str | None, *, transports: tuple[str, ...] = ("websocket",),
                 name: str = "socket") -> None:
        self.base_url = base_url
        self.token = token
        self.transports = transports
        self.name = name
        # Our own HTTP session (used by the polling transport), so we can close it.
        self.http = requests.Session()
        self.client = _InOrderClient(reconnection=False, http_session=self.http, request_timeout=10)
        self._cond = threading.Condition()
        self.events: list[tuple[str, Any]] = []
        self.connect_errors: list[Any] = []
        # Events arrive on the client's threads: violations are kept and raised on the test's side.
        self.contract_violations: list[str] = []
        self.connects = 0
        self.disconnects = 0
        for event in RECORDED_EVENTS:
            self.client.on(event, self._recorder(event))
        self.client.on("*", self._record_other)
        self.client.on("connect", self._on_connect)
        self.client.on("connect_error", self._on_connect_error)
        self.client.on("disconnect", self._on_disconnect)

    # handlers run on the client's threads
    def _recorder(self, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self._record(event, args[0] if len(args) == 1 else list(args))

        return record

    def _record_other(self, event: str, *args: Any) -> None:
        self._record(event, args[0] if len(args) == 1 else list(args))

    def _record(self, event: str, data: Any) -> None:
        try:
            socket_contract.check_event(event, data)
        except socket_contract.ContractViolation as violation:
            self.contract_violations.append(str(violation))
        with self._cond:
            self.events.append((event, data))
            self._cond.notify_all()

    def _on_connect(self) -> None:
        with self._cond:
            self.connects += 1
            self._cond.notify_all()

    def _on_connect_error(self, data: Any = None) -> None:
        try:
            socket_contract.check("connectError", data)
        except socket_contract.ContractViolation as violation:
            self.contract_violations.append(str(violation))
        with self._cond:
            self.connect_errors.append(data)
            self._cond.notify_all()

    def _on_disconnect(self, *_: Any) -> None:
        with self._cond:
            self.disconnects += 1
            self._cond.notify_all()

    # the test's side
    def connect(self, *, auth: Any = "token", headers: dict[str, str] | None = None) -> "Sock":
        """Connect with `auth={"token": ...}` (the default), or the `auth` and `headers` given."""
        if auth == "token":
            auth = {"token": self.token}
        self.client.connect(self.base_url, auth=auth, headers=headers or {}, transports=list(self.transports),
                            wait_timeout=WAIT)
        return self

    @property
    def sid(self) -> str | None:
        sid: str | None = self.client.get_sid()
        return sid

    def call(self, event: str, data: Any = None, timeout: float = WAIT) -> Any:
        self.assert_contract()
        return socket_contract.check_ack(event, self.client.call(event, data, timeout=timeout))

    def assert_contract(self) -> None:
        assert not self.contract_violations, f"{self.name}: {self.contract_violations[:3]}"

    def join(self, session_id: str, **options: Any) -> dict[str, Any]:
        ack: dict[str, Any] = self.call("session:join", {"session_id": session_id, **options})
        assert ack["ok"] is True, f"{self.name}: session:join failed: {ack}"
        return ack

    def send(self, session_id: str, body: str, client_msg_id: str | None = None) -> dict[str, Any]:
        ack: dict[str, Any] = self.call("message:send", {"session_id": session_id, "body": body,
                                                         "client_msg_id": client_msg_id or uid("cm")})
        return ack

    def received(self, event: str, predicate: Callable[[Any], bool] = lambda _: True) -> list[Any]:
        self.assert_contract()
        with self._cond:
            return [data for name, data in self.events if name == event and predicate(data)]

    def wait_for(self, event: str, predicate: Callable[[Any], bool] = lambda _: True, *, count: int = 1,
                 timeout: float = WAIT) -> list[Any]:
        """At least `count` events named `event` matching `predicate`; fails after `timeout` seconds."""

        def matches() -> list[Any]:
            return [data for name, data in self.events if name == event and predicate(data)]

        self.assert_contract()
        with self._cond:
            if not self._cond.wait_for(lambda: len(matches()) >= count, timeout):
                raise AssertionError(f"{self.name}: expected {count} {event!r} event(s) matching within {timeout}s, "
                                     f"got {len(matches())}; last events: {self.events[-10:]}")
            return matches()

    def wait_disconnected(self, timeout: float = WAIT) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.disconnects > 0 and not self.client.connected, timeout):
                raise AssertionError(f"{self.name}: still connected after {timeout}s")

    def kill_transport(self) -> None:
        """Drop the connection the way a phone losing its network does: the TCP socket goes away
        under the client, without a Socket.IO or Engine.IO goodbye."""
        ws = self.client.eio.ws
        assert ws is not None and ws.sock is not None, "kill_transport needs the websocket transport"
        ws.sock.shutdown(socket.SHUT_RDWR)
        self.wait_disconnected()
        ws.close()

    def close(self) -> None:
        violations = list(self.contract_violations)
        self._shut()
        assert not violations, f"{self.name}: {violations[:3]}"

    def _shut(self) -> None:
        ws = self.client.eio.ws if self.client.eio.current_transport == "websocket" else None
        if ws is not None:
            # websocket-client's close() waits up to 3 s for the server's close frame, which the
            # client's own read thread has usually consumed already; don't wait that long.
            ws.close = functools.partial(ws.close, timeout=0.5)  # type: ignore[method-assign]
        if self.client.connected:
            self.client.disconnect()
        # A refused or killed connection can leave the Engine.IO client half open.
        self.client.eio.disconnect(abort=True)
        self.http.close()


class Actor:
    """A user or operator of the test: a token, a REST client, and sockets on demand."""

    def __init__(self, world: "World", sub: str, role: Role, name: str, departments: list[str] | None,
                 home: ServerProcess) -> None:
        self.world = world
        self.id = sub
        self.role = role
        self.name = name
        self.departments = departments
        self.home = home
        self.token = home.token(sub, role, name=name, departments=departments)
        self.api = world.api(self.token, server=home)

    def socket(self, *, transports: tuple[str, ...] = ("websocket",), connect: bool = True,
               label: str | None = None, server: ServerProcess | None = None) -> Sock:
        """A socket of this actor (another device when called again), on `server` or their home server."""
        sock = self.world.socket(self.token, transports=transports, name=label or self.id, server=server or self.home)
        return sock.connect() if connect else sock

    def open_session(self, category: str = "funds", first: str | None = None, client_msg_id: str | None = None,
                     expect: int = 201, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"category": category, **extra}
        if first is not None:
            body["message"] = {"body": first, "client_msg_id": client_msg_id or uid("open")}
        response = self.api.post("/v1/sessions", json=body)
        assert response.status_code == expect, response.text
        data: dict[str, Any] = response.json()
        return data

    def claim(self, session_id: str) -> dict[str, Any]:
        response = self.api.post(f"/v1/sessions/{session_id}/claim")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def post_message(self, session_id: str, body: str, client_msg_id: str | None = None,
                     expect: int = 201) -> dict[str, Any]:
        response = self.api.post(f"/v1/sessions/{session_id}/messages",
                                 json={"body": body, "client_msg_id": client_msg_id or uid("cm")})
        assert response.status_code == expect, response.text
        data: dict[str, Any] = response.json()
        return data

    def history(self, session_id: str, page: int = 50) -> list[dict[str, Any]]:
        """The whole history, read page by page with after_seq."""
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            response = self.api.get(f"/v1/sessions/{session_id}/messages", params={"after_seq": after, "limit": page})
            assert response.status_code == 200, response.text
            data = response.json()
            items += data["items"]
            if not data["has_more"]:
                return items
            assert data["items"], "has_more with an empty page"
            after = data["items"][-1]["seq"]

    def unread(self) -> dict[str, int]:
        response = self.api.get("/v1/me/unread")
        assert response.status_code == 200, response.text
        data: dict[str, int] = response.json()
        return data


class World:
    """Everything one test creates against one or more servers, closed when the test ends."""

    def __init__(self, *servers: ServerProcess) -> None:
        self.servers = servers
        self.server = servers[0]
        self._log_starts = {id(s): s.log_size() for s in servers}
        self._apis: list[Api] = []
        self._socks: list[Sock] = []

    def api(self, token: str | None = None, server: ServerProcess | None = None) -> Api:
        api = Api((server or self.server).url, token)
        self._apis.append(api)
        return api

    def socket(self, token: str | None, *, transports: tuple[str, ...] = ("websocket",), name: str = "socket",
               server: ServerProcess | None = None) -> Sock:
        sock = Sock((server or self.server).url, token, transports=transports, name=name)
        self._socks.append(sock)
        return sock

    def user(self, label: str = "user", server: ServerProcess | None = None) -> Actor:
        return Actor(self, uid(label), Role.USER, label.title(), None, server or self.server)

    def operator(self, departments: list[str] | None = None, label: str = "op",
                 server: ServerProcess | None = None) -> Actor:
        return Actor(self, uid(label), Role.OPERATOR, label.title(), departments, server or self.server)

    def close(self) -> None:
        for sock in reversed(self._socks):
            sock.close()
        for api in self._apis:
            api.close()

    def check_servers(self) -> None:
        """Every server is alive and logged no unhandled error while the test ran."""
        for server in self.servers:
            start = self._log_starts[id(server)]
            assert server.proc.poll() is None, f"the server on port {server.port} died:\n{server.log_text(start)}"
            text = server.log_text(start)
            bad = [line for line in text.splitlines() if any(marker in line for marker in SERVER_ERROR_MARKERS)]
            assert not bad, f"the server on port {server.port} logged errors during the test:\n{text}"


@contextmanager
def world_on(*servers: ServerProcess) -> Iterator[World]:
    w = World(*servers)
    try:
        yield w
    finally:
        w.close()
    w.check_servers()


@pytest.fixture
def world(server: ServerProcess) -> Iterator[World]:
    with world_on(server) as w:
        yield w
