"""Read positions through the real server: reading on one device clears the badge everywhere,
and an operator's badge counts the user messages of the sessions they hold."""

from __future__ import annotations

from tests.e2e.conftest import World


def test_reading_clears_the_badge_on_every_device_and_for_the_operator(world: World) -> None:
    user, op = world.user("reader"), world.operator(["funds"])
    session_id = user.open_session("funds", first="Where is my deposit?")["id"]
    op.claim(session_id)
    assert user.unread() == {"sessions": 1, "messages": 1}  # the claim's "joined" (seq 2)
    # An unassigned waiting chat in the operator's department does not count for their badge.
    bystander = world.user("bystander")
    waiting_id = bystander.open_session("funds", first="hello?")["id"]
    bystander.post_message(waiting_id, "anyone?")

    phone, tablet, o_sock = user.socket(label="phone"), user.socket(label="tablet"), op.socket(label="op")
    phone.join(session_id)
    o_sock.join(session_id)  # the tablet stays on the chat list: it only has the user room

    replies = [op.post_message(session_id, f"reply {i}") for i in range(3)]
    assert [m["seq"] for m in replies] == [3, 4, 5]
    phone.wait_for("message:new", lambda m: m["seq"] == 5)
    assert user.unread() == {"sessions": 1, "messages": 4}
    response = user.api.get(f"/v1/sessions/{session_id}")
    assert response.status_code == 200 and response.json()["unread_count"] == 4
    # The operator wrote last, so has read everything up to their own message.
    assert op.unread() == {"sessions": 0, "messages": 0}

    # The phone reads up to seq 4: one message stays unread.
    ack = phone.call("session:read", {"session_id": session_id, "seq": 4})
    assert ack == {"ok": True, "session_id": session_id, "reader": {"type": "user", "id": user.id},
                   "last_read_seq": 4, "unread_count": 1}
    assert user.unread() == {"sessions": 1, "messages": 1}

    # Then to the end: the badge is clear, and the tablet and the operator hear of it.
    ack = phone.call("session:read", {"session_id": session_id, "seq": 5})
    assert ack["ok"] is True and ack["last_read_seq"] == 5 and ack["unread_count"] == 0
    assert user.unread() == {"sessions": 0, "messages": 0}
    event = {"session_id": session_id, "reader": {"type": "user", "id": user.id}, "last_read_seq": 5}
    assert tablet.wait_for("session:read", lambda e: e["last_read_seq"] == 5) == [event]
    assert o_sock.wait_for("session:read", lambda e: e["last_read_seq"] == 5) == [event]
    assert [e["last_read_seq"] for e in tablet.received("session:read")] == [4, 5]

    # A position never moves back, and one past the end is clamped to the last seq.
    response = user.api.post(f"/v1/sessions/{session_id}/read", json={"seq": 1})
    assert response.status_code == 200 and response.json()["last_read_seq"] == 5
    response = user.api.post(f"/v1/sessions/{session_id}/read", json={"seq": 999})
    assert response.status_code == 200 and response.json()["last_read_seq"] == 5
    assert user.unread() == {"sessions": 0, "messages": 0}

    # The user writes twice: the operator's badge counts them (and not the bystander's chat).
    for body in ("thanks", "one more thing"):
        user.post_message(session_id, body)
    o_sock.wait_for("message:new", lambda m: m["seq"] == 7)
    assert op.unread() == {"sessions": 1, "messages": 2}
    response = op.api.get("/v1/sessions", params={"assigned": "me"})
    assert response.status_code == 200
    assert [(s["id"], s["unread_count"]) for s in response.json()["items"]] == [(session_id, 2)]
    # The user's own messages never count for the user.
    assert user.unread() == {"sessions": 0, "messages": 0}

    # The operator reads over REST; the user's devices learn the operator has read it.
    response = op.api.post(f"/v1/sessions/{session_id}/read", json={"seq": 7})
    assert response.status_code == 200
    assert response.json() == {"session_id": session_id, "reader": {"type": "operator", "id": op.id},
                               "last_read_seq": 7, "unread_count": 0}
    assert op.unread() == {"sessions": 0, "messages": 0}
    seen = phone.wait_for("session:read", lambda e: e["reader"]["type"] == "operator")
    assert seen == [{"session_id": session_id, "reader": {"type": "operator", "id": op.id}, "last_read_seq": 7}]
    # The tablet never joined the session room, so the operator's receipt is not sent to it
    # (flushed by a later message, which reaches the tablet through the user's own room).
    bye = op.post_message(session_id, "bye")
    tablet.wait_for("message:new", lambda m: m["id"] == bye["id"])
    assert tablet.received("session:read", lambda e: e["reader"]["type"] == "operator") == []
    assert user.unread() == {"sessions": 1, "messages": 1}
