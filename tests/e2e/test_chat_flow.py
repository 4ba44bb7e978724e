"""Two users and an operator through the real server: the queue, claiming, replies both ways
over Socket.IO and REST, closing, and the access gate between the two users."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Sock, World


def _about(session_id: str) -> Any:
    """A predicate: the event (a Session or a Message payload) concerns `session_id`."""
    return lambda data: data.get("session_id", data.get("id")) == session_id


def test_two_users_one_operator_full_conversation(world: World) -> None:
    alice, bob = world.user("alice"), world.user("bob")
    op = world.operator(["funds", "trading"], label="sato")
    security_op = world.operator(["security"], label="kato")

    # The operators are online before the chats open, so their department queues reach them live.
    op_sock = op.socket(label="op")
    security_sock = security_op.socket(label="security-op")

    a_open = alice.open_session("funds", first="I cannot withdraw my BTC",
                                client_context={"app_version": "5.2.0", "os": "iOS 18.1"})
    b_open = bob.open_session("funds")
    a_id, b_id = a_open["id"], b_open["id"]
    assert a_id != b_id
    assert a_open["status"] == "waiting" and a_open["operator"] is None and a_open["user_id"] == alice.id
    assert a_open["last_seq"] == 1 and a_open["client_context"] == {"app_version": "5.2.0", "os": "iOS 18.1"}
    first = a_open["first_message"]
    assert (first["seq"], first["body"], first["sender"]["type"], first["sender"]["id"]) == \
        (1, "I cannot withdraw my BTC", "user", alice.id)
    assert b_open["status"] == "waiting" and b_open["last_seq"] == 0 and "first_message" not in b_open

    # The department hears both new chats and Alice's first message.
    assert op_sock.wait_for("session:updated", _about(a_id))[0]["status"] == "waiting"
    assert op_sock.wait_for("session:updated", _about(b_id))[0]["status"] == "waiting"
    assert op_sock.wait_for("message:new", _about(a_id))[0] == first

    # The operator's queue lists both, oldest first; another department's operator sees neither.
    response = op.api.get("/v1/sessions", params={"status": "waiting", "order": "asc"})
    assert response.status_code == 200
    queue = [s for s in response.json()["items"] if s["id"] in (a_id, b_id)]
    assert [s["id"] for s in queue] == [a_id, b_id]
    assert [s["status"] for s in queue] == ["waiting", "waiting"]
    assert [s["unread_count"] for s in queue] == [1, 0]
    response = security_op.api.get("/v1/sessions", params={"status": "waiting"})
    assert response.status_code == 200
    assert {s["id"] for s in response.json()["items"]} & {a_id, b_id} == set()
    response = security_op.api.post(f"/v1/sessions/{a_id}/claim")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"

    # Each user lists only their own chat.
    response = bob.api.get("/v1/sessions")
    assert response.status_code == 200 and [s["id"] for s in response.json()["items"]] == [b_id]

    a_sock, b_sock = alice.socket(label="alice"), bob.socket(label="bob")
    a_join = a_sock.join(a_id)
    assert a_join["session"]["id"] == a_id and a_join["session"]["status"] == "waiting"
    assert [m["id"] for m in a_join["messages"]] == [first["id"]] and a_join["has_more"] is False
    assert b_sock.join(b_id)["messages"] == []

    # Claim: Alice's chat becomes active, says so in a system message (seq 2), and both sides hear it.
    claimed = op.claim(a_id)
    assert claimed["status"] == "active" and claimed["operator"] == {"id": op.id, "name": op.name}
    assert claimed["last_seq"] == 2
    assert claimed["unread_count"] == 0  # the operator has read up to their own "joined"
    for sock in (a_sock, op_sock):
        update = sock.wait_for("session:updated", lambda s: s["id"] == a_id and s["status"] == "active")[0]
        assert update["operator"] == {"id": op.id, "name": op.name}
        joined = sock.wait_for("message:new", lambda m: m["session_id"] == a_id and m["seq"] == 2)
        assert [(m["sender"]["type"], m["body"]) for m in joined] == [("system", f"{op.name} joined")]

    op_join = op_sock.join(a_id)
    assert op_join["session"]["status"] == "active" and [m["seq"] for m in op_join["messages"]] == [1, 2]

    # Operator → Alice over the socket.
    ack = op_sock.send(a_id, "Let me check your withdrawal", "op-reply-1")
    assert ack["ok"] is True and ack["duplicate"] is False
    reply = ack["message"]
    assert (reply["seq"], reply["sender"], reply["client_msg_id"]) == \
        (3, {"type": "operator", "id": op.id, "name": op.name}, "op-reply-1")
    assert a_sock.wait_for("message:new", lambda m: m["id"] == reply["id"]) == [reply]

    # Alice → operator over REST.
    answer = alice.post_message(a_id, "The address starts with bc1q", "alice-2")
    assert (answer["seq"], answer["sender"]["type"], answer["sender"]["id"]) == (4, "user", alice.id)
    assert op_sock.wait_for("message:new", lambda m: m["id"] == answer["id"]) == [answer]
    # A REST send has no socket to skip: Alice's own socket (her other device) shows it too.
    assert a_sock.wait_for("message:new", lambda m: m["id"] == answer["id"]) == [answer]
    # The operator's sending socket has its ack; it gets no echo of its own message.
    assert op_sock.received("message:new", lambda m: m["id"] == reply["id"]) == []

    # The access gate: Bob's chat does not exist for Alice, over REST and over the socket alike.
    for path in (f"/v1/sessions/{b_id}", f"/v1/sessions/{b_id}/messages"):
        response = alice.api.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path
    response = alice.api.post(f"/v1/sessions/{b_id}/messages", json={"body": "hi", "client_msg_id": "x-1"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    refused = a_sock.call("session:join", {"session_id": b_id})
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"
    # ...indistinguishable from a session that does not exist at all.
    unknown = a_sock.call("session:join", {"session_id": "ses_" + "0" * 28})
    assert unknown == refused
    refused = a_sock.call("message:send", {"session_id": b_id, "body": "hi", "client_msg_id": "x-2"})
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"

    # Close: both sides hear it.
    response = op.api.post(f"/v1/sessions/{a_id}/close")
    assert response.status_code == 200
    closed = response.json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None and closed["last_seq"] == 4
    for sock in (a_sock, op_sock):
        update = sock.wait_for("session:updated", lambda s: s["id"] == a_id and s["status"] == "closed")[0]
        assert update["closed_at"] == closed["closed_at"]

    # Bob heard nothing of Alice's chat. Flush his socket with an event of his own first: the
    # server sends to one socket in order, so anything about Alice's chat would have come before.
    own = bob.post_message(b_id, "Anyone there?")
    assert b_sock.wait_for("message:new", lambda m: m["id"] == own["id"]) == [own]
    assert _foreign(b_sock, b_id) == []
    # Neither did the operator of another department, flushed the same way.
    c_id = bob.open_session("security", first="Is my account compromised?")["id"]
    security_sock.wait_for("message:new", _about(c_id))
    assert _foreign(security_sock, c_id) == []
    assert [name for name, _ in security_sock.events] == ["session:updated", "message:new"]

    history = [m["seq"] for m in alice.history(a_id)]
    assert history == [1, 2, 3, 4]
    assert [m["body"] for m in bob.history(b_id)] == ["Anyone there?"]


def _foreign(sock: Sock, own_session_id: str) -> list[tuple[str, Any]]:
    """Events a socket received that concern any session but `own_session_id`."""
    return [(name, data) for name, data in sock.events
            if isinstance(data, dict) and data.get("session_id", data.get("id")) != own_session_id]



def test_a_socket_records_events_in_the_order_the_server_sent_them(world: World) -> None:
    """Opening a chat sends the department `session:updated` then `message:new` back to back.
    The test client records events in arrival order (tests/e2e/conftest.py _InOrderEngineIO:
    python-engineio handles each message on a thread of its own), which order assertions
    such as the one above rely on."""
    op_sock = world.operator(["trading"], label="orderly-op").socket(label="op")
    users = [world.user(f"orderly-{n}") for n in range(3)]  # 10 new chats per user and hour
    opened = [users[n % 3].open_session("trading", first=f"注文が通らない {n}")["id"] for n in range(15)]
    op_sock.wait_for("message:new", lambda m: m["session_id"] in opened, count=len(opened))
    for sid in opened:
        assert [name for name, data in op_sock.events if _about(sid)(data)] == ["session:updated", "message:new"]
