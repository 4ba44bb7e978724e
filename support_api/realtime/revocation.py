"""Room membership follows access, on every process, at once.

A socket joins `session:<id>` after the access gate let it see the session; it used to stay
there whatever happened next, so an operator whose chat was transferred to another
department kept receiving its messages. Now every change that can take access away sends a
*control message* through the Socket.IO message queue (the Redis channel every process
already listens to; in-process without Redis), and each process re-checks its own sockets:

- `session`: a session's user or department changed (transfer, close, admin actions):
  every local socket in its room that `lib.access.can_see` no longer admits leaves the room
  and its presence there ends. It stays connected and hears nothing more of that chat.
- `staff`: an operator presented a token naming fewer departments (`PUT
  /operators/me/status`, or a new socket): their older sockets are narrowed to the new
  departments, leave the department rooms they lost and the session rooms of those
  departments.

Control messages ride the queue as an emit of a reserved event to a reserved room, which
the manager below intercepts before any client could receive it; they keep their order with
the events published after them by the same process, so a revocation always lands before
the messages that follow it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import socketio
from sqlalchemy import select

from support_api.lib import redis_pool
from support_api.lib.access import can_see_parts
from support_api.lib.auth import Principal, Role
from support_api.lib.db import Database
from support_api.lib.events import CONTROL_EVENT, dept_room, session_room
from support_api.models import ChatSession
from support_api.realtime import connections

log = logging.getLogger(__name__)


Handler = Callable[[dict[str, Any]], None]


class _Intercept:
    """Mixin: emits of CONTROL_EVENT go to the handler instead of any client."""

    control_handler: Handler | None = None

    def _control(self, data: Any) -> None:
        payload = data[0] if isinstance(data, (list, tuple)) and data else data
        if self.control_handler is not None and isinstance(payload, dict):
            try:
                self.control_handler(payload)
            except Exception:  # noqa: BLE001 - the queue listener must keep running
                log.warning("revocation: a control message failed", exc_info=True)


class ControlRedisManager(_Intercept, socketio.RedisManager):
    def _redis_connect(self) -> None:
        """python-socketio's own connect, on a blocking pool (lib/redis_pool.py: a publish
        refused by a full pool made the manager reconnect and lose what its listener had not
        read yet). Overrides a private hook of python-socketio 5.18.1, pinned exactly;
        sentinel URLs keep the library's own path."""
        if urlsplit(self.redis_url).scheme.endswith("+sentinel"):
            super()._redis_connect()  # type: ignore[misc]
            return
        self.redis = redis_pool.connect(self.redis_url, **self.redis_options)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("event") == CONTROL_EVENT:
            self._control(message.get("data"))
            return
        super()._handle_emit(message)  # type: ignore[misc]


class ControlManager(_Intercept, socketio.Manager):
    """One process, no queue: the control message is handled right here."""

    def emit(self, event: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        if event == CONTROL_EVENT:
            self._control(data)
            return None
        return super().emit(event, data, *args, **kwargs)


def make_manager(redis_url: str | None) -> socketio.Manager:
    if redis_url:
        return ControlRedisManager(redis_url, channel="flask-socketio")
    return ControlManager()


@dataclasses.dataclass
class Revoker:
    """Runs a control message against this process's sockets."""

    server: socketio.Server
    leave_presence: Callable[[str, str], None]
    departments_of: Callable[[list[str]], dict[str, tuple[str, str]]]  # session ids -> (user id, department)
    close: Callable[[str, str, str, dict[str, Any]], None]  # sid, code, message, details

    def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "session":
            self._session(str(message["session_id"]), str(message["user_id"]), str(message["department"]))
        elif kind == "staff":
            self._staff(str(message["staff_id"]), tuple(message["departments"]))

    def _leave(self, sid: str, session_id: str) -> None:
        self.server.leave_room(sid, session_room(session_id), namespace="/")
        self.leave_presence(sid, session_id)

    def _session(self, session_id: str, user_id: str, department: str) -> None:
        room = session_room(session_id)
        for sid, _ in list(self.server.manager.get_participants("/", room)):
            principal = connections.principal_of(sid)
            if principal is None or not can_see_parts(principal, user_id, department):
                log.info("revocation: socket %s leaves %s (no longer visible)", sid, room)
                self._leave(sid, session_id)

    def _staff(self, staff_id: str, departments: tuple[str, ...]) -> None:
        for sid in connections.sockets_of(f"operator:{staff_id}"):
            principal = connections.principal_of(sid)
            if principal is None or principal.role is not Role.OPERATOR:
                continue
            narrowed = _narrow(principal, departments)
            if narrowed is None:
                continue
            if not narrowed.departments:
                # No department left in common (an empty list would mean "all"): nothing to keep.
                self.close(sid, "forbidden", "Your departments changed; reconnect with your new token",
                           {"reason": "departments_changed"})
                continue
            connections.replace_principal(sid, narrowed)
            rooms = self.server.rooms(sid, namespace="/")
            for room in rooms:
                if room.startswith("dept:") and room[len("dept:"):] not in narrowed.departments:
                    self.server.leave_room(sid, room, namespace="/")
            for dept in narrowed.departments:
                if dept_room(dept) not in rooms:
                    self.server.enter_room(sid, dept_room(dept), namespace="/")
            joined = [room[len("session:"):] for room in self.server.rooms(sid, namespace="/")
                      if room.startswith("session:")]
            for session_id, (user_id, department) in self.departments_of(joined).items():
                if not can_see_parts(narrowed, user_id, department):
                    log.info("revocation: socket %s of %s leaves session %s (department %s left the token)",
                             sid, staff_id, session_id, department)
                    self._leave(sid, session_id)


def _narrow(principal: Principal, departments: tuple[str, ...]) -> Principal | None:
    """The principal seeing only what both it and `departments` allow; None when that is no
    narrower (a newer token never widens an older socket: it reconnects for that)."""
    if not departments:
        return None
    kept = tuple(d for d in departments if not principal.departments or d in principal.departments)
    if principal.departments and set(kept) == set(principal.departments):
        return None
    return dataclasses.replace(principal, departments=kept)


def sessions_of(db: Database, session_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Session id -> (user id, department), for the session rooms a socket is in."""
    if not session_ids:
        return {}
    with db.read() as session:
        rows = session.execute(select(ChatSession.id, ChatSession.user_id, ChatSession.department)
                               .where(ChatSession.id.in_(session_ids))).all()
    return {row.id: (row.user_id, row.department) for row in rows}
