"""Who else is viewing a chat (issue 11, `session:viewers`): staff sockets in a session hear
who has it open; the user never does; a socket that leaves, disconnects or loses access drops
out — on one process (in-memory set) and across two processes on one Redis."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import ServerProcess, Sock, World
from tests.e2e.test_multiprocess_redis import cluster  # noqa: F401 - the two-process fixture
from tests.e2e.test_revocation import pair  # noqa: F401 - two processes on one Redis


def _ids(payload: dict[str, Any]) -> set[str]:
    return {v["id"] for v in payload["viewers"]}


def _viewers_are(sock: Sock, session_id: str, ids: set[str], timeout: float = 10) -> dict[str, Any]:
    """The latest `session:viewers` of this session the socket received names exactly `ids`
    (what a console shows), within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    latest: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        got = sock.received("session:viewers", lambda p: p["session_id"] == session_id)
        latest = got[-1] if got else None
        if latest is not None and _ids(latest) == ids:
            return latest
        time.sleep(0.05)
    raise AssertionError(f"{sock.name}: viewers of {session_id} never became {ids}; latest {latest}")


def test_operators_see_each_other_and_the_user_never_hears_of_it(world: World) -> None:
    user = world.user("viewed")
    alice = world.operator(["funds"], label="alice")
    bob = world.operator(["funds"], label="bob")
    sid = user.open_session("funds", first="where is my deposit?")["id"]
    user_sock = user.socket()
    user_sock.join(sid)

    bob_sock = bob.socket()
    bob_sock.join(sid)
    _viewers_are(bob_sock, sid, {bob.id})  # the joiner hears the list, itself included

    alice_sock = alice.socket()
    alice_sock.join(sid)
    seen = _viewers_are(bob_sock, sid, {alice.id, bob.id})
    assert {v["id"]: (v["name"], v["role"]) for v in seen["viewers"]} == {
        alice.id: ("Alice", "operator"), bob.id: ("Bob", "operator")}
    _viewers_are(alice_sock, sid, {alice.id, bob.id})

    # A second tab of Alice's adds no second entry; leaving with one tab keeps her listed.
    alice_tab = alice.socket(label="alice-tab")
    alice_tab.join(sid)
    assert len(_viewers_are(alice_tab, sid, {alice.id, bob.id})["viewers"]) == 2
    count = len(bob_sock.received("session:viewers"))
    assert alice_tab.call("session:leave", {"session_id": sid})["ok"] is True
    bob_sock.wait_for("session:viewers", count=count + 1)  # the leave was announced...
    assert _ids(bob_sock.received("session:viewers")[-1]) == {alice.id, bob.id}  # ...and Alice stays

    # Alice leaves: Bob's list shrinks.
    assert alice_sock.call("session:leave", {"session_id": sid})["ok"] is True
    _viewers_are(bob_sock, sid, {bob.id})
    # Alice comes back, then disconnects: it shrinks again.
    alice_sock.join(sid)
    _viewers_are(bob_sock, sid, {alice.id, bob.id})
    alice_sock.close()
    alice_tab.close()
    _viewers_are(bob_sock, sid, {bob.id})

    # The user is in the session room all along and never receives the event.
    user.post_message(sid, "still there?")
    bob_sock.wait_for("message:new", lambda m: m["body"] == "still there?")
    user_sock.wait_for("message:new", lambda m: m["body"] == "still there?")
    assert not user_sock.received("session:viewers")

    # Access revoked in this process (transfer to another department): Bob drops out.
    chief = world.operator(None, label="chief")  # every department
    chief_sock = chief.socket()
    chief_sock.join(sid)
    _viewers_are(chief_sock, sid, {bob.id, chief.id})
    bob.claim(sid)
    assert bob.api.post(f"/v1/sessions/{sid}/transfer", json={"department": "security"}).status_code == 200
    _viewers_are(chief_sock, sid, {chief.id})
    assert not user_sock.received("session:viewers")


def test_viewers_across_processes_and_revocation(
        pair: tuple[World, ServerProcess, ServerProcess]) -> None:  # noqa: F811 - the fixture
    world, a, b = pair
    user = world.user("transferred", server=a)
    funds = world.operator(["funds"], label="funds", server=a)
    security = world.operator(["security"], label="security", server=b)
    chief = world.operator(None, label="chief", server=b)  # every department
    sid = user.open_session("funds", first="my withdrawal is stuck")["id"]
    user_sock = user.socket(server=a)
    user_sock.join(sid)

    funds_sock = funds.socket(label="funds@A", server=a)
    funds_sock.join(sid)
    chief_sock = chief.socket(label="chief@B", server=b)
    chief_sock.join(sid)
    # The process of the other socket knows too: one set across processes.
    _viewers_are(chief_sock, sid, {funds.id, chief.id})
    _viewers_are(funds_sock, sid, {funds.id, chief.id})

    # Transferred away from funds: the funds operator's socket loses access and drops out.
    funds.claim(sid)
    moved = funds.api.post(f"/v1/sessions/{sid}/transfer", json={"department": "security"})
    assert moved.status_code == 200, moved.text
    _viewers_are(chief_sock, sid, {chief.id})

    security_sock = security.socket(label="security@B", server=b)
    security_sock.join(sid)
    _viewers_are(chief_sock, sid, {chief.id, security.id})
    # The revoked socket hears nothing more of this chat's viewers.
    time.sleep(0.3)
    assert not funds_sock.received("session:viewers", lambda p: p["session_id"] == sid and security.id in _ids(p))

    # Disconnecting on B is seen on A's side of the set as well.
    chief_sock.close()
    _viewers_are(security_sock, sid, {security.id})
    assert not user_sock.received("session:viewers")
