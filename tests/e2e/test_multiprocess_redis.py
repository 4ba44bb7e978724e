"""Two server processes on one database, fanning out through Redis: a user connected to
process A and an operator connected to process B hear each other, whichever process stores
the message.

Redis is required, not optional: when it is not reachable this test fails and says how to
start it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.dbutil import backends
from tests.e2e.conftest import ServerProcess, World, two_processes, world_on

REDIS_URL = os.environ.get("SUPPORT_API_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'


def _redis_problem() -> str | None:
    """Why Redis cannot be used, or None when it answers PING."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return (f"Redis is not reachable at {REDIS_URL} ({exc}). The multi-process test needs it; start it with:\n"
                f"    {START_REDIS}\n(or point SUPPORT_API_TEST_REDIS_URL at a running Redis).")
    finally:
        client.close()
    return None


@pytest.fixture(scope="module", params=backends())
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess] | None]:
    """Processes A and B: same database, same token secret, same Redis (None without Redis:
    the test then fails, rather than erroring in set-up or being skipped)."""
    if _redis_problem():
        yield None
        return
    with two_processes(request.param, tmp_path_factory.mktemp("cluster"), REDIS_URL) as pair:
        yield pair


@pytest.fixture
def world(cluster: tuple[ServerProcess, ServerProcess] | None) -> Iterator[World | None]:
    if cluster is None:
        yield None
        return
    with world_on(*cluster) as w:
        yield w


def _in(session_id: str) -> Any:
    return lambda data: data.get("session_id", data.get("id")) == session_id


def test_events_cross_processes_through_redis(world: World | None,
                                             cluster: tuple[ServerProcess, ServerProcess] | None) -> None:
    problem = _redis_problem()
    if problem or world is None or cluster is None:
        pytest.fail(problem or "Redis went away while the test started", pytrace=False)
    a, b = cluster
    assert a.proc.pid != b.proc.pid and a.port != b.port
    user = world.user("roaming", server=a)
    op = world.operator(["funds"], label="remote-op", server=b)
    u_sock = user.socket(label="user@A")
    o_sock = op.socket(label="op@B")

    # Opened on A: the operator on B hears the new chat and its first message.
    opened = user.open_session("funds", first="Withdrawal pending for 3 days")
    session_id = opened["id"]
    assert o_sock.wait_for("session:updated", _in(session_id))[0]["status"] == "waiting"
    assert o_sock.wait_for("message:new", _in(session_id)) == [opened["first_message"]]

    # Claimed on B: the user on A hears it, and the claim's "joined" (seq 2) reaches both.
    op.claim(session_id)
    update = u_sock.wait_for("session:updated", lambda s: s["id"] == session_id and s["status"] == "active")[0]
    assert update["operator"]["id"] == op.id
    for sock in (u_sock, o_sock):
        joined = sock.wait_for("message:new", lambda m: m["session_id"] == session_id and m["seq"] == 2)
        assert [(m["sender"]["type"], m["body"]) for m in joined] == [("system", f"{op.name} joined")]
    u_sock.join(session_id)
    o_sock.join(session_id)

    # User socket on A → operator socket on B.
    ack = u_sock.send(session_id, "Any news?", "u-1")
    assert ack["ok"] is True and ack["message"]["seq"] == 3
    assert o_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "u-1") == [ack["message"]]

    # Operator socket on B → user socket on A.
    ack = o_sock.send(session_id, "It was released just now", "o-1")
    assert ack["ok"] is True and ack["message"]["seq"] == 4
    assert u_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "o-1") == [ack["message"]]

    # The operator writes over REST to process A (another load-balanced request): their own
    # socket on B and the user on A both get it.
    response = world.api(op.token, server=a).post(f"/v1/sessions/{session_id}/messages",
                                                  json={"body": "Anything else?", "client_msg_id": "o-2"})
    assert response.status_code == 201
    stored = response.json()
    assert stored["seq"] == 5
    assert o_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "o-2") == [stored]
    assert u_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "o-2") == [stored]

    # Typing and read receipts cross too; the typist does not hear itself.
    assert u_sock.call("typing", {"session_id": session_id, "is_typing": True}) == {"ok": True}
    typing = o_sock.wait_for("typing")[0]
    assert typing["sender"] == {"type": "user", "id": user.id, "name": user.name} and typing["is_typing"] is True
    assert o_sock.call("session:read", {"session_id": session_id, "seq": 5})["ok"] is True
    receipt = u_sock.wait_for("session:read", lambda e: e["reader"]["type"] == "operator")[0]
    assert receipt == {"session_id": session_id, "reader": {"type": "operator", "id": op.id}, "last_read_seq": 5}

    # Each message reached each socket once, and no socket heard its own socket sends. A last
    # message stored on B flushes both sockets first.
    marker = op.post_message(session_id, "Closing now", "o-3")
    for sock in (u_sock, o_sock):
        sock.wait_for("message:new", lambda m: m["id"] == marker["id"])
    heard_by_user = Counter(m["client_msg_id"] for m in u_sock.received("message:new", _in(session_id)))
    # (The user's first message came over REST, so the user's socket got it too; None is the "joined".)
    assert heard_by_user == {opened["first_message"]["client_msg_id"]: 1, None: 1, "o-1": 1, "o-2": 1, "o-3": 1}
    heard_by_op = Counter(m["client_msg_id"] for m in o_sock.received("message:new", _in(session_id)))
    assert heard_by_op == {opened["first_message"]["client_msg_id"]: 1, None: 1, "u-1": 1, "o-2": 1, "o-3": 1}
    assert u_sock.received("typing") == []

    # Closed on A: the operator on B hears it.
    response = user.api.post(f"/v1/sessions/{session_id}/close")
    assert response.status_code == 200
    o_sock.wait_for("session:updated", lambda s: s["id"] == session_id and s["status"] == "closed")

    # Both processes read the same stored history.
    for server in (a, b):
        history = world.api(user.token, server=server).get(f"/v1/sessions/{session_id}/messages")
        assert history.status_code == 200
        assert [(m["seq"], m["client_msg_id"]) for m in history.json()["items"]] == [
            (1, opened["first_message"]["client_msg_id"]), (2, None), (3, "u-1"), (4, "o-1"), (5, "o-2"), (6, "o-3")]


def test_a_retry_on_another_process_delivers_again(world: World | None,
                                                   cluster: tuple[ServerProcess, ServerProcess] | None) -> None:
    """A send retried through another process than the first (the first may have been killed
    between its commit and its emit) is delivered again; retried through the same process,
    which knows it emitted it, it is not."""
    problem = _redis_problem()
    if problem or world is None or cluster is None:
        pytest.fail(problem or "Redis went away while the test started", pytrace=False)
    a, b = cluster
    user = world.user("retrying", server=a)
    op = world.operator(["funds"], label="retry-op", server=b)
    session_id = user.open_session("funds")["id"]
    op.claim(session_id)
    o_sock = op.socket(label="op@B")
    o_sock.join(session_id)

    first = world.api(user.token, server=a).post(f"/v1/sessions/{session_id}/messages",
                                                 json={"body": "Deposit missing", "client_msg_id": "r-1"})
    assert first.status_code == 201
    stored = first.json()
    assert o_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "r-1") == [stored]
    for server in (a, b):  # the same process first (nothing again), then the other one
        again = world.api(user.token, server=server).post(f"/v1/sessions/{session_id}/messages",
                                                          json={"body": "Deposit missing", "client_msg_id": "r-1"})
        assert again.status_code == 200 and again.json() == stored
    assert o_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "r-1", count=2) == [stored, stored]
    # Flushed by a later message: no third delivery.
    marker = op.post_message(session_id, "Checking", "o-r")
    o_sock.wait_for("message:new", lambda m: m["id"] == marker["id"])
    assert len(o_sock.received("message:new", lambda m: m["client_msg_id"] == "r-1")) == 2
