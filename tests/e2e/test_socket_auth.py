"""Who may open a socket, and what a socket may do: refused connections carry the
`unauthorized` error, unknown events and typing outside a joined session are refused, and
typing reaches the other side only."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from support_api.config import Settings
from support_api.lib.auth import LEEWAY_SECONDS, Role, mint_token
from tests.e2e.conftest import ServerProcess, World


def _refusal(world: World, auth: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Connect with `auth`, expect a refusal, and return the connect_error payload."""
    sock = world.socket(None, name="intruder")
    with pytest.raises(socketio.exceptions.ConnectionError):
        sock.connect(auth=auth, headers=headers)
    assert not sock.client.connected
    assert len(sock.connect_errors) == 1, sock.connect_errors
    error: dict[str, Any] = sock.connect_errors[0]
    return error


def _forged_token(server: ServerProcess) -> str:
    other = Settings.from_env({**server.env, "SUPPORT_API_JWT_SECRET": "not-the-servers-secret-" + "x" * 20})
    return mint_token(other, "mallory", Role.ADMIN)


def test_connections_without_a_valid_token_are_refused_with_unauthorized(world: World) -> None:
    server = world.server
    cases = {
        "no auth": (None, None),
        "no token": ({}, None),
        "not a JWT": ({"token": "not-a-token"}, None),
        "forged": ({"token": _forged_token(server)}, None),
        "expired": ({"token": server.token("late", ttl_seconds=-120)}, None),
        "bad header": (None, {"Authorization": "Bearer garbage"}),
    }
    for case, (auth, headers) in cases.items():
        error = _refusal(world, auth, headers)
        # The Socket.IO connect_error payload: {"message": ..., "data": <the API error body>}.
        assert isinstance(error, dict) and isinstance(error.get("message"), str), (case, error)
        assert error.get("data", {}).get("code") == "unauthorized", (case, error)
        assert error["data"]["message"] == error["message"], (case, error)
    assert _refusal(world, {"token": server.token("late", ttl_seconds=-120)})["data"]["details"]["reason"] == "expired"

    # The same token is refused over REST with the same code.
    response = world.api(_forged_token(server)).get("/v1/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"

    # A valid token connects, in the auth payload or in the Authorization header.
    user = world.user("valid")
    assert user.socket().client.connected
    header_sock = world.socket(None, name="header-auth")
    header_sock.connect(auth=None, headers={"Authorization": f"Bearer {user.token}"})
    assert header_sock.call("session:join", {"session_id": "ses_" + "0" * 28})["error"]["code"] == "not_found"


def test_a_socket_whose_token_expires_is_told_to_reconnect(world: World) -> None:
    # Both REST and sockets allow LEEWAY_SECONDS of clock skew past `exp`: this token is
    # still inside that grace when it connects and outside it ~3 s later, when the server
    # closes the socket and says why (issue 10: it used to stay connected and keep listening).
    token = world.server.token("short-lived", ttl_seconds=2 - LEEWAY_SECONDS)
    sock = world.socket(token, name="short").connect()
    ack = sock.call("session:join", {"session_id": "ses_" + "0" * 28})
    assert ack["error"]["code"] == "not_found"  # authenticated, the session just does not exist
    sock.wait_disconnected(timeout=6)
    closing = sock.wait_for("connection:closing")
    assert closing and closing[0]["code"] == "unauthorized" and closing[0]["details"]["reason"] == "expired"


def test_unknown_events_and_bad_payloads_get_an_error_ack(world: World) -> None:
    user = world.user("curious")
    sock = user.socket()
    ack = sock.call("support:self_destruct", {"now": True})
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_event"
    ack = sock.call("message:send", {"session_id": "ses_" + "0" * 28})
    assert ack["ok"] is False and ack["error"]["code"] == "validation_error"
    assert set(ack["error"]["details"]["fields"]) == {"body", "client_msg_id"}
    ack = sock.call("session:join", "not an object")
    assert ack["ok"] is False and ack["error"]["code"] == "validation_error"
    # The socket is still usable afterwards.
    session_id = user.open_session("other")["id"]
    assert sock.join(session_id)["session"]["id"] == session_id


def test_typing_needs_a_joined_session_and_reaches_only_the_other_side(world: World) -> None:
    user, op = world.user("typist"), world.operator(["trading"])
    session_id = user.open_session("trading", first="My order is stuck")["id"]
    op.claim(session_id)
    phone, tablet, o_sock = user.socket(label="phone"), user.socket(label="tablet"), op.socket(label="op")

    # Not joined: refused, and nothing is sent to anyone.
    refused = phone.call("typing", {"session_id": session_id, "is_typing": True})
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"
    assert refused["error"]["details"] == {"reason": "not_joined"}
    # Joined to a different session does not help either.
    stranger = world.user("stranger")
    s_sock = stranger.socket(label="stranger")
    s_sock.join(stranger.open_session("trading")["id"])
    assert s_sock.call("typing", {"session_id": session_id})["error"]["code"] == "not_found"
    assert s_sock.call("session:join", {"session_id": session_id})["error"]["code"] == "not_found"

    for sock in (phone, tablet, o_sock):
        sock.join(session_id)
    ack = phone.call("typing", {"session_id": session_id, "is_typing": True})
    assert ack == {"ok": True}
    expected = {"session_id": session_id, "sender": {"type": "user", "id": user.id, "name": user.name},
                "is_typing": True}
    assert o_sock.wait_for("typing") == [expected]
    assert tablet.wait_for("typing") == [expected]  # the user's other device shows it too

    ack = o_sock.call("typing", {"session_id": session_id, "is_typing": False})
    assert ack == {"ok": True}
    back = {"session_id": session_id, "sender": {"type": "operator", "id": op.id, "name": op.name}, "is_typing": False}
    assert phone.wait_for("typing") == [back]
    assert tablet.wait_for("typing", count=2)[1] == back
    # The typist's own socket never hears itself; the stranger hears nobody.
    assert phone.received("typing") == [back]
    assert o_sock.received("typing") == [expected]
    assert s_sock.received("typing") == []

    # After leaving the session, typing is refused again.
    assert phone.call("session:leave", {"session_id": session_id}) == {"ok": True}
    refused = phone.call("typing", {"session_id": session_id, "is_typing": True})
    assert refused["ok"] is False and refused["error"]["details"] == {"reason": "not_joined"}
