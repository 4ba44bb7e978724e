"""Push notifications end to end: real `support-api serve` processes (eventlet) send through
the real firebase-admin to a fake FCM server on 127.0.0.1, with the sender embedded in the
server; and two `support-api push-worker` processes sharing the work through the database
while reading presence from Redis.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from support_api.lib.auth import Role
from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import (
    Actor,
    ServerProcess,
    World,
    free_port,
    server_env,
    uid,
    world_on,
)
from tests.fake_fcm import FakeFcm

REDIS_URL = os.environ.get("SUPPORT_API_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
QUIET = 1.5  # three polls of the embedded sender: long enough to be sure nothing else goes out


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFcm]:
    fake = FakeFcm()
    yield fake
    fake.close()


@pytest.fixture(scope="module", params=backends())
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The database of the module's server."""
    with fresh_database(request.param) as url:
        yield url


@pytest.fixture(params=backends())
def own_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of one test's own, where no other server's sender takes its rows."""
    with fresh_database(request.param) as url:
        yield url


def push_env(database_url: str, var_dir: Path, fcm: FakeFcm, secret: str, **extra: str) -> dict[str, str]:
    var_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(database_url, var_dir, jwt_secret=secret)
    env.update({
        "SUPPORT_API_PUSH_BACKEND": "fcm",
        "SUPPORT_API_FCM_CREDENTIALS": str(fcm.service_account(var_dir / "service-account.json")),
        "SUPPORT_API_FCM_ENDPOINT": fcm.url,
        **extra,
    })
    return env


@contextmanager
def push_server(env: dict[str, str], var_dir: Path) -> Iterator[ServerProcess]:
    port = free_port()
    server = ServerProcess(env, var_dir / f"server-{port}.log", port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(database_url: str, fcm: FakeFcm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    var_dir = tmp_path_factory.mktemp("push-server")
    with push_server(push_env(database_url, var_dir, fcm, secrets.token_urlsafe(32)), var_dir) as proc:
        yield proc


def register(actor: Actor, token: str, platform: str = "ios", locale: str = "ja") -> None:
    response = actor.api.request("PUT", "/v1/devices", json={"token": token, "platform": platform, "locale": locale,
                                                             "app_version": "5.2.0"})
    assert response.status_code == 201, response.text


def claimed_chat(user: Actor, op: Actor) -> dict[str, Any]:
    chat = user.open_session("funds", first="入金が反映されません")
    op.claim(chat["id"])
    return chat


def test_an_away_user_gets_exactly_one_push(server: ServerProcess, fcm: FakeFcm) -> None:
    with world_on(server) as world:
        user, op = world.user(), world.operator(["funds"])
        token = uid("phone-token")
        register(user, token)
        chat = claimed_chat(user, op)
        reply = op.post_message(chat["id"], "残高を確認しました。口座 123-4567 です")

        [send] = fcm.wait_for(1, token)
        time.sleep(QUIET)
        assert len(fcm.attempts(token)) == 1  # the reply; the claim's "joined" (seq 2) is not pushed
        assert send.data == {"type": "message", "session_id": chat["id"], "message_id": reply["id"], "seq": "3"}
        assert send.message["notification"]["title"] == "サポートから返信があります"
        assert "123-4567" not in str(send.message)
        assert send.message["apns"]["payload"]["aps"]["thread-id"] == chat["id"]
        assert send.message["apns"]["payload"]["aps"]["badge"] == 2  # the "joined" and the reply are unread


def test_a_user_in_the_chat_is_not_pushed(server: ServerProcess, fcm: FakeFcm) -> None:
    with world_on(server) as world:
        user, op = world.user(), world.operator(["funds"])
        token = uid("phone-token")
        register(user, token)
        chat = claimed_chat(user, op)
        sock = user.socket()
        sock.join(chat["id"])

        op.post_message(chat["id"], "見えていますか")
        sock.wait_for("message:new", lambda m: m["seq"] == 3)  # 2 is the claim's "joined"
        time.sleep(QUIET)
        assert fcm.attempts(token) == []

        # The control: once the user has left the chat, the sender (still running) pushes.
        assert sock.call("session:leave", {"session_id": chat["id"]})["ok"] is True
        op.post_message(chat["id"], "もう一通")
        [send] = fcm.wait_for(1, token)
        assert send.data["seq"] == "4"


def test_a_push_committed_before_sigkill_goes_out_after_restart(own_database_url: str, fcm: FakeFcm,
                                                                tmp_path: Path) -> None:
    # The delay keeps the row unsent long enough for the kill to land between commit and send.
    env = push_env(own_database_url, tmp_path, fcm, secrets.token_urlsafe(32), SUPPORT_API_PUSH_DELAY_SECONDS="3")
    token = uid("phone-token")
    first = ServerProcess(env, tmp_path / "first.log", free_port())
    world = World(first)
    try:
        first.wait_ready()
        user, op = world.user(), world.operator(["funds"])
        register(user, token)
        chat = claimed_chat(user, op)
        reply = op.post_message(chat["id"], "返信します")  # 201: committed, the push row with it
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
    finally:
        world.close()
        first.stop()
    assert first.proc.returncode == -signal.SIGKILL
    assert fcm.attempts(token) == []

    with push_server(env, tmp_path) as second:
        [send] = fcm.wait_for(1, token, timeout=20)
        time.sleep(QUIET)
        assert len(fcm.attempts(token)) == 1
        assert send.data["message_id"] == reply["id"]
        assert "push: 1 sent" in second.log_text()


def _redis_problem() -> str | None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {REDIS_URL} ({exc}); `support-api push-worker` needs it"
    finally:
        client.close()
    return None


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def test_two_push_worker_processes_send_each_row_once(own_database_url: str, fcm: FakeFcm, tmp_path: Path) -> None:
    problem = _redis_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    env = push_env(own_database_url, tmp_path, fcm, secrets.token_urlsafe(32), SUPPORT_API_PUSH_EMBEDDED="false",
                   SUPPORT_API_REDIS_URL=REDIS_URL)
    fcm.latency = 0.005  # slow sends keep both workers busy at once
    workers: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    try:
        with push_server(env, tmp_path) as server, world_on(server) as world:
            for log in logs:
                with log.open("wb") as out:  # the child keeps its own copy of the descriptor
                    workers.append(subprocess.Popen([sys.executable, "-m", "support_api.cli", "push-worker"],
                                                    env=env, stdout=out, stderr=subprocess.STDOUT))
            admin = world.api(server.token(uid("admin"), Role.ADMIN))
            user, op = world.user(), world.operator(["funds"])
            tokens = [uid(f"device-{n}") for n in range(10)]
            for token in tokens:
                register(user, token, "android", "en")
            chat = claimed_chat(user, op)

            # The user is in the chat on the server process; the workers, other processes, see it in Redis.
            sock = user.socket()
            sock.join(chat["id"])
            op.post_message(chat["id"], "seen live, never pushed")
            _wait(lambda: admin.get("/v1/admin/push/metrics").json()["skipped"] >= len(tokens), 30,
                  "the workers to skip the pushes of a connected user")
            assert [s for s in fcm.sends if s.target in tokens] == []
            assert sock.call("session:leave", {"session_id": chat["id"]})["ok"] is True

            replies = [op.post_message(chat["id"], f"reply {n}")["id"] for n in range(12)]
            expected = {(token, reply) for token in tokens for reply in replies}
            _wait(lambda: len(fcm.sent()) >= len(expected) and len([s for s in fcm.sent() if s.target in tokens])
                  >= len(expected), 60, f"{len(expected)} pushes")
            time.sleep(QUIET)
            pairs = [(s.target, s.data["message_id"]) for s in fcm.sends if s.target in tokens]
            assert len(pairs) == len(set(pairs)) and set(pairs) == expected
            for worker, log in zip(workers, logs):
                assert worker.poll() is None, log.read_text()
    finally:
        fcm.latency = 0.0
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
    texts = [log.read_text() for log in logs]
    assert all("Traceback" not in text for text in texts), texts
    assert all(worker.returncode == 0 for worker in workers), texts
