"""A phone loses its connection mid-chat: after reconnecting and joining with `after_seq`, it
gets exactly the messages it missed, in seq order, with no gap and no duplicate."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.e2e.conftest import Sock, World, wait_until


def _drop(sock: Sock, how: str) -> None:
    if how == "transport_killed":
        sock.kill_transport()
    else:
        sock.client.disconnect()
        sock.wait_disconnected()
    assert not sock.client.connected


@pytest.mark.parametrize("how", ["transport_killed", "clean_disconnect"])
def test_resume_after_a_dropped_connection_gets_exactly_the_missed_messages(world: World, how: str) -> None:
    user, op = world.user("hanako"), world.operator(["account"])
    session_id = user.open_session("account", first="I am locked out")["id"]
    op.claim(session_id)
    u_sock, o_sock = user.socket(label="phone"), op.socket(label="op")
    u_sock.join(session_id)
    o_sock.join(session_id)

    for i in range(2):
        assert o_sock.send(session_id, f"before {i}")["ok"] is True
    seen = u_sock.wait_for("message:new", lambda m: m["session_id"] == session_id, count=2)
    k = max(m["seq"] for m in seen)
    assert k == 4  # after the first message and the claim's "joined"

    _drop(u_sock, how)

    missed = []
    for i in range(5):
        ack = o_sock.send(session_id, f"while you were away {i}", f"away-{i}")
        assert ack["ok"] is True
        missed.append(ack["message"])
    assert [m["seq"] for m in missed] == [5, 6, 7, 8, 9]

    # The app reconnects (the same client object, as a Socket.IO client reconnects) and resumes.
    u_sock.connect()
    resumed = u_sock.join(session_id, after_seq=k)
    assert resumed["messages"] == missed
    assert resumed["has_more"] is False
    assert resumed["session"]["last_seq"] == 9

    # The same gap read in pages of two: every message once, in order.
    paged, after = [], k
    while True:
        page = u_sock.join(session_id, after_seq=after, limit=2)
        assert len(page["messages"]) <= 2
        paged += page["messages"]
        if not page["has_more"]:
            break
        after = page["messages"][-1]["seq"]
    assert paged == missed

    # Live again: the next messages arrive once each (joining repeatedly joins the room once).
    live = [o_sock.send(session_id, f"welcome back {i}")["message"] for i in range(2)]
    u_sock.wait_for("message:new", lambda m: m["id"] == live[-1]["id"])
    after_reconnect = u_sock.received("message:new", lambda m: m["seq"] > k)
    assert after_reconnect == live

    # A second device that was never connected catches up the same way from seq 0.
    tablet = user.socket(label="tablet")
    full = tablet.join(session_id, after_seq=0)["messages"]
    assert [m["seq"] for m in full] == list(range(1, 12))
    assert (full[1]["sender"]["type"], full[1]["body"]) == ("system", f"{op.name} joined")
    assert full[k:k + 5] == missed


def test_joining_while_messages_flow_leaves_no_gap(world: World) -> None:
    """A watcher that relies on the session room alone (an operator who does not hold the chat)
    joins in the middle of a burst: the join ack plus the live events cover every seq."""
    user, op = world.user("busy"), world.operator(["trading"], label="holder")
    session_id = user.open_session("trading")["id"]
    op.claim(session_id)
    o_sock = op.socket(label="holder")
    o_sock.join(session_id)
    watchers = [world.operator(["trading"], label=f"supervisor{i}").socket(label=f"supervisor{i}") for i in range(3)]

    total = 50  # under the default limit of 60 messages a minute per sender
    acks: list[dict[str, Any]] = []

    def burst() -> None:
        for i in range(total):
            acks.append(o_sock.send(session_id, f"burst {i}", f"b-{i}"))

    sender = threading.Thread(target=burst, name="burst")
    sender.start()
    joined: list[list[int]] = []
    try:
        for i, watcher in enumerate(watchers):
            wait_until(lambda: len(acks) >= 10 * (i + 1), what=f"{10 * (i + 1)} sends")
            joined.append([m["seq"] for m in watcher.join(session_id, after_seq=0, limit=200)["messages"]])
    finally:
        sender.join(60)
    assert not sender.is_alive() and len(acks) == total and all(ack["ok"] for ack in acks)
    # Seq 1 is the claim's "joined"; the burst follows it.
    last = total + 1
    assert sorted(ack["message"]["seq"] for ack in acks) == list(range(2, last + 1))

    for watcher, in_ack in zip(watchers, joined):
        assert in_ack == list(range(1, len(in_ack) + 1)), f"{watcher.name}: the join ack has a gap"
        watcher.wait_for("message:new", lambda m: m["seq"] == last)
        live = [m["seq"] for m in watcher.received("message:new", lambda m: m["session_id"] == session_id)]
        assert len(live) == len(set(live)), f"{watcher.name}: duplicate live events"
        assert set(in_ack) | set(live) == set(range(1, last + 1)), \
            f"{watcher.name}: missing {sorted(set(range(1, last + 1)) - set(in_ack) - set(live))}"
        # Live events only start around the join: nothing before the ack's overlap.
        assert min(live) <= len(in_ack) + 1
