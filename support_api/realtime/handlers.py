"""Socket.IO events. See docs/asyncapi.yaml for payloads and acks."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError as SocketConnectionRefused
from flask_socketio import SocketIO, join_room
from socketio import Server as SocketServer

from support_api.lib import metrics, request_context
from support_api.lib.access import get_session
from support_api.lib.auth import Principal
from support_api.lib.errors import NotFound, Unauthorized
from support_api.lib.events import (
    ALL_DEPARTMENTS,
    dept_room,
    session_room,
    staff_room,
    user_room,
)
from support_api.lib.presence import CONNECTED
from support_api.lib.ratelimit import RateLimited
from support_api.lib.runtime import get_runtime
from support_api.models import utcnow
from support_api.realtime import expiry
from support_api.realtime.connections import acked, event_meta, forget, in_app_context, remember
from support_api.realtime.gate import current_gate
from support_api.realtime.viewers import Viewers
from support_api.schemas.requests import (
    SocketJoinSchema,
    SocketMessageSendSchema,
    SocketReadSchema,
    SocketSessionRefSchema,
    SocketTypingSchema,
)
from support_api.schemas.responses import dump_message, dump_note, dump_session
from support_api.services import messages, notes, queries, queue, read_state, routing
from support_api.services.authentication import authenticate


def _token_from(auth: Any) -> str:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    # Clients that cannot send an auth payload may send the usual header instead.
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def on_connect(auth: Any = None) -> bool:
    try:
        with request_context.scoped(event_meta(request.remote_addr)):
            principal = authenticate(get_runtime(), _token_from(auth))
    except (Unauthorized, RateLimited) as exc:
        # python-socketio's exception (the builtin one would be answered with a generic message):
        # connect_error then carries {"message": ..., "data": {"code", "message", "details"}}.
        raise SocketConnectionRefused(exc.message, exc.to_dict()) from exc
    sid = request.sid  # type: ignore[attr-defined]
    gate = current_gate()
    gate.authenticated(gate.eio_sid(sid))
    mine = remember(sid, principal)
    cap = get_runtime().settings.protection.max_sockets_per_user
    # Over the cap the oldest sockets go, not the new one: a phone that reconnects after losing
    # its network must not be locked out by its own half-dead socket.
    for old in mine[:-cap]:
        gate.close(old, "too_many_connections",
                   f"More than {cap} connections with this identity: the oldest is closed", {"max": cap})
    expiry.watch(sid, principal.expires_at)
    metrics.SOCKET_CONNECTIONS.inc()
    if principal.is_staff:
        join_room(staff_room(principal.id))
        for department in principal.departments or (ALL_DEPARTMENTS,):
            join_room(dept_room(department))
        _staff_connected(sid, principal)
        if principal.departments:
            # A department that left the token leaves the operator's older sockets too.
            get_runtime().events.revoke_staff(principal.id, principal.departments)
    else:
        join_room(user_room(principal.id))
    return True


def _staff_connected(sid: str, principal: Principal) -> None:
    """An operator's socket is their availability (services/operators.py): it counts them
    connected on every process, and an online operator who reconnects takes waiting chats."""
    rt = get_runtime()
    rt.presence.join(sid, CONNECTED, "operator", principal.id)
    with request_context.scoped(event_meta(request.remote_addr)):
        routing.operator_socket(rt, principal, connected=True)


def on_disconnect(*_: Any) -> None:
    principal = forget(request.sid)  # type: ignore[attr-defined]
    if principal is not None:
        metrics.SOCKET_CONNECTIONS.dec()
    _typing_sent.pop(request.sid, None)  # type: ignore[attr-defined]
    rt = get_runtime()
    rt.presence.disconnect(request.sid)  # type: ignore[attr-defined]
    _viewers().disconnected(request.sid)  # type: ignore[attr-defined]
    if principal is not None and principal.is_staff:
        # The away grace runs from the moment the last socket went.
        with request_context.scoped(event_meta(request.remote_addr)):
            routing.operator_socket(rt, principal, connected=False)


@acked(SocketJoinSchema())
def on_join(sid: str, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    rt = get_runtime()
    with rt.db.read() as db:
        chat = get_session(db, principal, data["session_id"])
    # Join before reading the history: a message committed in between then arrives both in
    # the ack and as message:new (clients drop a seq they hold) instead of in neither.
    _server().enter_room(sid, session_room(chat.id))
    # The push sender skips whoever is in the room (lib/presence.py).
    rt.presence.join(sid, chat.id, principal.participant_type, principal.id)
    with rt.db.read() as db:
        items, has_more = queries.list_messages(db, chat, after_seq=data["after_seq"], limit=data["limit"])
        unread = queries.unread_counts(db, principal, [chat.id]).get(chat.id, 0)
        chat = get_session(db, principal, chat.id)
        where = queue.info(db, rt, chat, utcnow())
    # Staff only: the others viewing this chat hear of it (collision detection, issue 11).
    _viewers().joined(sid, chat.id, principal)
    return {"session": dump_session(chat, unread_count=unread, queue=where),
            "messages": [dump_message(m, rt.signer) for m in items], "has_more": has_more}


@acked(SocketSessionRefSchema())
def on_leave(sid: str, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    _server().leave_room(sid, session_room(data["session_id"]))
    get_runtime().presence.leave(sid, data["session_id"])
    _viewers().left(sid, data["session_id"])
    return {}


@acked(SocketMessageSendSchema())
def on_send(sid: str, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    if data["visibility"] == "internal":
        noted = notes.post_note(get_runtime(), principal, data["session_id"], body=data["body"],
                                client_msg_id=data["client_msg_id"], confirm_sensitive=data["confirm_sensitive"],
                                origin_sid=sid)
        note_ack = {"message": dump_note(noted.note), "duplicate": not noted.created}
        if noted.masked_kinds:
            note_ack["masked_kinds"] = list(noted.masked_kinds)
        return note_ack
    result = messages.send_message(get_runtime(), principal, data["session_id"], body=data["body"],
                                   client_msg_id=data["client_msg_id"], attachment_ids=data["attachment_ids"],
                                   confirm_sensitive=data["confirm_sensitive"],
                                   origin_sid=sid)
    ack = {"message": result.dumped(get_runtime().signer), "duplicate": not result.created}
    if result.masked_kinds:
        ack["masked_kinds"] = list(result.masked_kinds)
    return ack


@acked(SocketReadSchema())
def on_read(sid: str, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    return read_state.mark_read(get_runtime(), principal, data["session_id"], data["seq"])


@acked(SocketTypingSchema())
def on_typing(sid: str, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    room = session_room(data["session_id"])
    # Only a socket that joined the session (and so passed the access gate) may type in it;
    # this keeps a keystroke-rate event off the database.
    if room not in _server().rooms(sid):
        raise NotFound("Join the session first", {"reason": "not_joined"})
    # Coalesced: a repeat of the state this socket last announced in this session within
    # SUPPORT_API_TYPING_COALESCE_MS is acked but not broadcast (clients send one per keystroke).
    now = time.monotonic()
    last = _typing_sent.setdefault(sid, {})
    previous = last.get(data["session_id"])
    window = get_runtime().settings.protection.typing_coalesce_ms / 1000
    if previous is not None and previous[0] == data["is_typing"] and now - previous[1] < window:
        return {}
    last[data["session_id"]] = (data["is_typing"], now)
    _server().emit("typing", {"session_id": data["session_id"],
                              "sender": {"type": principal.participant_type, "id": principal.id,
                                         "name": principal.name},
                              "is_typing": data["is_typing"]}, to=room, skip_sid=sid)
    return {}


def _server() -> SocketServer:
    server: SocketServer = current_app.extensions["socketio"].server
    return server


def _viewers() -> Viewers:
    chat_viewers: Viewers = current_app.extensions["support_api_viewers"]
    return chat_viewers


# sid -> session id -> (is_typing, when it was last broadcast): typing coalescing.
_typing_sent: dict[str, dict[str, tuple[bool, float]]] = {}


def on_unknown(event: str, *args: Any) -> dict[str, Any]:
    """An event this server does not know still gets an ack, so a client never waits forever."""
    return {"ok": False, "error": {"code": "unknown_event", "message": f"Unknown event {event[:64]!r}",
                                   "details": {}}}


def register(socketio: SocketIO, app: Flask) -> None:
    # Connecting and disconnecting (once per socket) read the handshake's headers: through
    # Flask-SocketIO, in a Flask request context.
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
    socketio.on_event("*", on_unknown)
    # Every other event: on python-socketio's server directly, in an app context only
    # (connections.acked says why).
    for name, handler in (("session:join", on_join), ("session:leave", on_leave), ("message:send", on_send),
                          ("session:read", on_read), ("typing", on_typing)):
        socketio.server.on(name, in_app_context(app, handler))
