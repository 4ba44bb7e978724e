"""Readiness and graceful shutdown through the real `support-api serve` process.

On SIGTERM the server answers readiness 503 (`not_ready`, draining), closes its listener,
drops every socket at the transport level (clients read it as a network loss and reconnect
elsewhere, not as "the server sent me away"), finishes what is in flight and exits 0 within
`SUPPORT_API_SHUTDOWN_GRACE_SECONDS`. Every message acked before the signal is stored.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from support_api.lib.auth import Role
from tests.contract import check
from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import ServerProcess, World, run_server

REDIS_URL = os.environ.get("SUPPORT_API_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
GRACE = 10


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_ready_when_database_and_redis_answer(tmp_path: Path) -> None:
    with fresh_database("sqlite") as url, run_server(url, tmp_path, redis_url=REDIS_URL) as server:
        response = check(requests.get(f"{server.url}/v1/health/ready", timeout=5))
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready" and body["database"] == "ok" and body["redis"] == "ok"
        assert body["draining"] is False
        # Liveness is unchanged beside it.
        assert check(requests.get(f"{server.url}/v1/health", timeout=5)).status_code == 200


def test_not_ready_when_redis_is_down(tmp_path: Path) -> None:
    """A configured Redis that does not answer (its port closed) makes the process unready; the
    error envelope says which dependency failed. The socket layer's own queue reconnects quietly."""
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]
    # Presence and rate limits use Redis too: keep them in memory so only readiness looks at it.
    with fresh_database("sqlite") as url:
        from support_api.app import create_app
        from support_api.config import Settings

        settings = Settings.from_env({"SUPPORT_API_DATABASE_URL": url, "SUPPORT_API_JWT_SECRET": "x",
                                      "SUPPORT_API_VAR_DIR": str(tmp_path), "SUPPORT_API_ASYNC_MODE": "threading"})
        app = create_app(settings.with_overrides(redis_url=None))
        # Only the readiness probe reads the setting at request time.
        app.extensions["support_api"] = app.extensions["support_api"].__class__(
            **{**app.extensions["support_api"].__dict__,
               "settings": settings.with_overrides(redis_url=f"redis://127.0.0.1:{dead_port}/8")})
        response = check(app.test_client().get("/v1/health/ready"))
        assert response.status_code == 503
        assert response.get_json() == {"error": {"code": "not_ready", "message": "Not ready: a dependency does not answer",
                                                 "details": {"database": "ok", "redis": "unavailable",
                                                             "draining": False}}}


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_sigterm_drains_and_exits_zero(tmp_path: Path, async_mode: str, backend: str) -> None:
    extra = {"SUPPORT_API_SHUTDOWN_DELAY_SECONDS": "2", "SUPPORT_API_SHUTDOWN_GRACE_SECONDS": str(GRACE),
             "SUPPORT_API_RATE_LIMIT_MESSAGES": "100000/minute"}
    with fresh_database(backend) as url, \
            run_server(url, tmp_path, async_mode=async_mode, redis_url=REDIS_URL, extra_env=extra) as server:
        # Not world_on(): that checks the server is still alive at the end, and this one exits.
        world = World(server)
        _drain_scenario(world, server, url, tmp_path, async_mode)
        world.close()


def _drain_scenario(world: World, server: ServerProcess, url: str, tmp_path: Path, async_mode: str) -> None:
    user = world.user("leaving")
    op = world.operator(["funds"])
    session_id = user.open_session("funds", first="hello")["id"]
    op.claim(session_id)

    # How the socket is dropped decides whether the apps' clients come back by themselves.
    reasons: list[Any] = []
    dropped = threading.Event()
    http = requests.Session()
    client = socketio.Client(reconnection=False, http_session=http)
    client.on("disconnect", lambda reason=None: (reasons.append((reason, time.monotonic())), dropped.set()))
    client.connect(server.url, auth={"token": user.token}, transports=["websocket"], wait_timeout=10)
    ws = client.eio.ws  # closed by hand at the end: a transport dropped by the server stays open otherwise
    assert client.call("session:join", {"session_id": session_id}, timeout=10)["ok"] is True

    # Messages keep going until the signal: each acked one must be stored.
    acked: list[int] = []
    stop = threading.Event()

    def sender() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                ack = client.call("message:send", {"session_id": session_id, "body": f"m{n}",
                                                   "client_msg_id": f"drain-{n}"}, timeout=5)
            except Exception:  # noqa: BLE001 - the socket went away mid-call: unacked
                return
            if ack.get("ok"):
                acked.append(ack["message"]["seq"])
            time.sleep(0.01)

    thread = threading.Thread(target=sender)
    thread.start()
    time.sleep(1.0)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)

    # Draining: readiness says so while the delay keeps the listener open.
    time.sleep(0.5)
    response = check(requests.get(f"{server.url}/v1/health/ready", timeout=5))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "not_ready"
    assert response.json()["error"]["details"]["draining"] is True

    assert server.proc.wait(GRACE + 5) == 0, server.log_text()
    elapsed = time.monotonic() - started
    assert elapsed < GRACE, f"took {elapsed:.1f} s"
    stop.set()
    thread.join(10)
    assert dropped.wait(10), "the socket was not dropped"
    # A transport loss, which clients answer by reconnecting (not "io server disconnect").
    assert reasons[0][0] != client.reason.SERVER_DISCONNECT, reasons
    assert reasons[0][1] > started, f"dropped {started - reasons[0][1]:.2f} s before the signal: {reasons}"
    client.shutdown()
    client.eio.disconnect(abort=True)
    if ws is not None:
        ws.shutdown()  # close() does nothing once the connection is gone; shutdown() closes the socket
    http.close()
    assert _refused(server.port)
    log = server.log_text()
    drain_lines = [line for line in log.splitlines() if "drain" in line]
    assert any("drained cleanly" in line for line in drain_lines), drain_lines
    assert acked, "no message was acked before the signal"

    # Every acked message is in the history (read from a fresh process on the same database).
    with run_server(url, tmp_path / "after", async_mode=async_mode,
                    jwt_secret=server.env["SUPPORT_API_JWT_SECRET"]) as again:
        token = again.token(user.id, Role.USER, name=user.name)
        items: list[dict[str, Any]] = []
        while True:
            page = requests.get(f"{again.url}/v1/sessions/{session_id}/messages",
                                params={"limit": 100, "after_seq": items[-1]["seq"] if items else 0},
                                headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
            items += page["items"]
            if not page["has_more"]:
                break
        stored = {m["seq"] for m in items}
        assert set(acked) <= stored
        assert [m["seq"] for m in items] == list(range(1, len(items) + 1))
