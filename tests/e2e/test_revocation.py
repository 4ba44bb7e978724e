"""Room membership follows access on every process (issue 10): two server processes on one
Redis; the socket that loses a chat is on the other process than the change."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from support_api.lib.auth import LEEWAY_SECONDS, Role
from tests.e2e.conftest import ServerProcess, World, uid, world_on
from tests.e2e.test_multiprocess_redis import _redis_problem, cluster  # noqa: F401 - the two-process fixture


@pytest.fixture
def pair(cluster: tuple[ServerProcess, ServerProcess] | None) -> Iterator[tuple[World, ServerProcess, ServerProcess]]:
    problem = _redis_problem()
    if problem or cluster is None:
        pytest.fail(problem or "Redis went away while the test started", pytrace=False)
    a, b = cluster
    with world_on(a, b) as world:
        yield world, a, b


def test_a_transfer_revokes_the_old_departments_socket_on_the_other_process(
        pair: tuple[World, ServerProcess, ServerProcess]) -> None:
    world, a, b = pair
    user = world.user("victim", server=a)
    funds = world.operator(["funds"], label="funds", server=a)
    security = world.operator(["security"], label="security", server=a)
    sid = user.open_session("funds", first="my withdrawal is stuck")["id"]
    funds.claim(sid)
    funds_sock = funds.socket(label="funds@B", server=b)
    funds_sock.join(sid)
    user_sock = user.socket(label="user@A", server=a)
    user_sock.join(sid)
    security_sock = security.socket(label="security@B", server=b)

    # Transferred on A, by the holder; the holder's socket lives on B.
    moved = funds.api.post(f"/v1/sessions/{sid}/transfer", json={"department": "security"})
    assert moved.status_code == 200, moved.text
    funds_sock.wait_for("session:updated", lambda s: s["id"] == sid and s["department"] == "security")
    assert funds.api.get(f"/v1/sessions/{sid}").status_code == 404

    security.claim(sid)
    security_sock.join(sid)
    secret = "my e-mail is victim@example.com"
    user_sock.call("typing", {"session_id": sid, "is_typing": True})
    user.post_message(sid, secret)
    security_sock.wait_for("message:new", lambda m: m["body"] == secret)
    security_sock.wait_for("typing", lambda t: t["session_id"] == sid)
    time.sleep(0.5)  # anything still on its way to the revoked socket arrives meanwhile
    leaked = [e for e in funds_sock.events
              if e[0] in ("message:new", "typing") and e[1].get("session_id") == sid]
    assert all(e[1]["sender"]["type"] == "system" or e[1]["body"] != secret for e in leaked if e[0] == "message:new")
    assert not [e for e in leaked if e[0] == "typing"], leaked
    assert not [e for e in leaked if e[0] == "message:new" and e[1]["seq"] > 2], leaked
    # Nor can it type into the room any more; the socket itself stays connected for its other chats.
    ack = funds_sock.call("typing", {"session_id": sid, "is_typing": True})
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    assert funds_sock.client.connected
    updates_before = len(funds_sock.received("session:updated", lambda s: s["id"] == sid))
    assert security.api.post(f"/v1/sessions/{sid}/close").status_code == 200
    user_sock.wait_for("session:updated", lambda s: s["id"] == sid and s["status"] == "closed")
    time.sleep(0.3)
    assert len(funds_sock.received("session:updated", lambda s: s["id"] == sid)) == updates_before


def test_a_department_leaving_the_token_narrows_older_sockets_everywhere(
        pair: tuple[World, ServerProcess, ServerProcess]) -> None:
    world, a, b = pair
    user = world.user("narrowed", server=a)
    op_id = uid("both")
    broad = a.token(op_id, Role.OPERATOR, name="Both", departments=["funds", "security"])
    narrow = a.token(op_id, Role.OPERATOR, name="Both", departments=["security"])
    funds_chat = user.open_session("funds", first="funds question")["id"]
    security_chat = user.open_session("security", first="security question")["id"]
    old_sock = world.socket(broad, name="broad@B", server=b).connect()
    old_sock.join(funds_chat)
    old_sock.join(security_chat)

    # The operator's newest token names only security (their status call goes to A).
    assert world.api(narrow, server=a).request("PUT", "/v1/operators/me/status",
                                               json={"status": "away"}).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ack = old_sock.call("typing", {"session_id": funds_chat, "is_typing": True})
        if ack["ok"] is False:
            break
        time.sleep(0.1)
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    user.post_message(funds_chat, "funds secret")
    user.post_message(security_chat, "security follow-up")
    old_sock.wait_for("message:new", lambda m: m["body"] == "security follow-up")
    time.sleep(0.3)
    assert not old_sock.received("message:new", lambda m: m["body"] == "funds secret")
    # It no longer joins funds chats either.
    assert old_sock.call("session:join", {"session_id": funds_chat})["error"]["code"] == "not_found"


def test_expired_tokens_are_disconnected_on_both_processes(pair: tuple[World, ServerProcess, ServerProcess]) -> None:
    world, a, b = pair
    socks = []
    for server in (a, b):
        token = server.token(uid("short"), ttl_seconds=2 - LEEWAY_SECONDS)
        socks.append(world.socket(token, name=f"short@{server.port}", server=server).connect())
    for sock in socks:
        sock.wait_disconnected(timeout=8)
        closing = sock.wait_for("connection:closing")
        assert closing and closing[0]["code"] == "unauthorized" and closing[0]["details"]["reason"] == "expired"
