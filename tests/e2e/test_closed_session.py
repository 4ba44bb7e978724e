"""A closed chat refuses new messages on both transports; the user reopens it, it goes back to
the queue with its history, and the seq continues where it stopped."""

from __future__ import annotations

from tests.e2e.conftest import World


def test_closed_session_refuses_messages_until_the_user_reopens_it(world: World) -> None:
    user, op = world.user("closer"), world.operator(["system_error"])
    session_id = user.open_session("system_error", first="The app crashes on launch", client_msg_id="m-1",
                                   client_context={"app_version": "5.1.9", "error_code": "E-1042"})["id"]
    op.claim(session_id)
    u_sock, o_sock = user.socket(label="user"), op.socket(label="op")
    u_sock.join(session_id)
    o_sock.join(session_id)
    # seq 2 is the claim's "joined".
    assert o_sock.send(session_id, "Please update to 5.2.0", "o-1")["message"]["seq"] == 3
    sent_before = user.post_message(session_id, "Updated, works now", "m-2")
    assert sent_before["seq"] == 4

    response = user.api.post(f"/v1/sessions/{session_id}/close")
    assert response.status_code == 200
    closed = response.json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None and closed["last_seq"] == 4
    o_sock.wait_for("session:updated", lambda s: s["status"] == "closed")
    # Closing again changes nothing.
    response = op.api.post(f"/v1/sessions/{session_id}/close")
    assert response.status_code == 200 and response.json()["closed_at"] == closed["closed_at"]

    # New messages are refused over REST (both sides) and over the socket.
    for actor in (user, op):
        response = actor.api.post(f"/v1/sessions/{session_id}/messages", json={"body": "hello?", "client_msg_id": "late"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"
        assert response.json()["error"]["details"]["reason"] == "session_closed"
    for sock in (u_sock, o_sock):
        ack = sock.send(session_id, "hello?", "late-ws")
        assert ack["ok"] is False and ack["error"]["code"] == "conflict"
        assert ack["error"]["details"]["reason"] == "session_closed"
    # A retry of a message stored before the close still answers with that message.
    response = user.api.post(f"/v1/sessions/{session_id}/messages", json={"body": "Updated, works now", "client_msg_id": "m-2"})
    assert response.status_code == 200 and response.json() == sent_before
    # Nobody can claim it, and operators cannot reopen it.
    response = op.api.post(f"/v1/sessions/{session_id}/claim")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    response = op.api.post(f"/v1/sessions/{session_id}/reopen")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert [m["seq"] for m in user.history(session_id)] == [1, 2, 3, 4]

    # The user reopens: back in the queue, without an operator, history kept.
    response = user.api.post(f"/v1/sessions/{session_id}/reopen")
    assert response.status_code == 200
    reopened = response.json()
    assert reopened["status"] == "waiting" and reopened["operator"] is None and reopened["closed_at"] is None
    assert reopened["last_seq"] == 4 and reopened["id"] == session_id
    assert reopened["client_context"] == {"app_version": "5.1.9", "error_code": "E-1042"}
    # The operator who held it hears that it left their hands.
    update = o_sock.wait_for("session:updated", lambda s: s["status"] == "waiting")[0]
    assert update["id"] == session_id and update["operator"] is None
    history = user.history(session_id)
    assert [(m["seq"], m["sender"]["type"], m["client_msg_id"]) for m in history] == [
        (1, "user", "m-1"), (2, "system", None), (3, "operator", "o-1"), (4, "user", "m-2")]
    assert history[1]["body"] == f"{op.name} joined"

    # New messages continue the seq; the former operator must claim again before replying.
    ack = u_sock.send(session_id, "Actually, it crashed again", "m-3")
    assert ack["ok"] is True and ack["message"]["seq"] == 5
    refused = o_sock.send(session_id, "On it", "o-2")
    assert refused["ok"] is False and refused["error"]["code"] == "conflict"
    assert refused["error"]["details"]["reason"] == "not_assigned"
    assert op.claim(session_id)["status"] == "active"
    # Claiming again says so again (seq 6).
    rejoined = u_sock.wait_for("message:new", lambda m: m["seq"] == 6)
    assert [(m["sender"]["type"], m["body"]) for m in rejoined] == [("system", f"{op.name} joined")]
    assert o_sock.send(session_id, "On it", "o-2")["message"]["seq"] == 7
    assert u_sock.wait_for("message:new", lambda m: m["client_msg_id"] == "o-2")[0]["seq"] == 7
    assert [m["seq"] for m in user.history(session_id)] == [1, 2, 3, 4, 5, 6, 7]
