"""Socket.IO emission, used by services only after their transaction has committed.

Rooms (every socket joins its own on connect, and session rooms on `session:join`):
- `session:<id>`   sockets that joined the session (both sides, every device);
- `user:<sub>`     every socket of one user, for their session list and badge;
- `staff:<sub>`    every socket of one operator or admin;
- `dept:<code>`    operators of a department; `dept:*` operators of all departments and admins.

A list of rooms reaches each socket once (python-socketio deduplicates by sid), also across
processes through the Redis message queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask_socketio import SocketIO

from support_api.lib import metrics, request_context

from support_api.models import ChatSession

ALL_DEPARTMENTS = "*"
# Control messages between server processes (realtime/revocation.py): an emit of this event to
# this room is intercepted by every process's client manager and never reaches a client.
CONTROL_EVENT = "~support_api:control"
CONTROL_ROOM = "~support_api:control"

log = logging.getLogger(__name__)


def session_room(session_id: str) -> str:
    return f"session:{session_id}"


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def staff_room(staff_id: str) -> str:
    return f"staff:{staff_id}"


def dept_room(department: str) -> str:
    return f"dept:{department}"


def status_audience(chat: ChatSession) -> list[str]:
    """Who hears that a session changed: its room, its user, its operator and the department."""
    rooms = [session_room(chat.id), user_room(chat.user_id), dept_room(chat.department), dept_room(ALL_DEPARTMENTS)]
    if chat.operator_id:
        rooms.append(staff_room(chat.operator_id))
    return rooms


def message_audience(chat: ChatSession) -> list[str]:
    """Who receives a new message: both sides; the whole department while nobody holds it."""
    rooms = [session_room(chat.id), user_room(chat.user_id)]
    if chat.operator_id:
        rooms.append(staff_room(chat.operator_id))
    else:
        rooms += [dept_room(chat.department), dept_room(ALL_DEPARTMENTS)]
    return rooms


def staff_audience(chat: ChatSession) -> list[str]:
    """Who receives an internal note: staff only — never the session room, which the user's
    sockets join too. The department's operators and admins are everyone who may see it."""
    rooms = [dept_room(chat.department), dept_room(ALL_DEPARTMENTS)]
    if chat.operator_id:
        rooms.append(staff_room(chat.operator_id))
    return rooms


# Events that carry a stored message or note, whose retried send may deliver them again.
_STORED_EVENTS = frozenset({"message:new", "note:new"})


class _RecentIds:
    """The last `size` ids added, as an ordered set; safe across threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: dict[str, None] = {}
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        with self._lock:
            self._ids[key] = None
            if len(self._ids) > self._size:
                del self._ids[next(iter(self._ids))]

    def __contains__(self, key: object) -> bool:
        return key in self._ids


class Events:
    def __init__(self, socketio: SocketIO) -> None:
        self._socketio = socketio
        # Messages and notes this process emitted lately (≈ 20 s at 1,000 msgs/s, 2 MB).
        self._emitted = _RecentIds(20_000)

    def emit(self, event: str, payload: dict[str, Any], rooms: list[str], *, skip_sid: str | None = None) -> None:
        if event == "message:new":
            # Every stored message is emitted once after its commit (again only by redeliver):
            # the one place that sees them all (REST, sockets, system and bot messages).
            metrics.MESSAGES.labels(payload["sender"]["type"]).inc()
            received = request_context.current_meta().received
            if received:
                metrics.MESSAGE_STORE_SECONDS.observe(time.perf_counter() - received)
        if event in _STORED_EVENTS:
            self._emitted.add(payload["id"])
        self._socketio.emit(event, payload, to=rooms, skip_sid=skip_sid)

    def expect(self, stored_id: str) -> None:
        """This process stored `stored_id` and will emit it after the commit: call before the
        commit. A retry of the same send on this process, answered between that commit and the
        emit (its sender waited on the same row lock or batch), then delivers nothing more."""
        self._emitted.add(stored_id)

    def redeliver(self, event: str, payload: dict[str, Any], rooms: list[str], *,
                  skip_sid: str | None = None) -> None:
        """A retried send found its message (or note) stored: deliver it again unless this
        process emitted it itself lately (or is about to: `expect`). A process killed -9
        between the commit and the emit never sent it, and its sender retries through another
        process (or this one, restarted): without this the other side, still connected, would
        miss it for good.
        A retry on another process than the first send's delivers it twice; clients drop a
        seq they hold (docs/asyncapi.yaml)."""
        if payload["id"] in self._emitted:
            return
        self._emitted.add(payload["id"])
        self._socketio.emit(event, payload, to=rooms, skip_sid=skip_sid)

    def revoke_session(self, chat: ChatSession) -> None:
        """Sockets in the session's room that may no longer see it leave the room, on every
        process. Call after the commit and before emitting the change itself."""
        self._socketio.emit(CONTROL_EVENT, {"kind": "session", "session_id": chat.id, "user_id": chat.user_id,
                                            "department": chat.department}, to=CONTROL_ROOM)

    def revoke_staff(self, staff_id: str, departments: tuple[str, ...]) -> None:
        """An operator's newest token names these departments: older sockets are narrowed."""
        self._socketio.emit(CONTROL_EVENT, {"kind": "staff", "staff_id": staff_id, "departments": list(departments)},
                            to=CONTROL_ROOM)

    def broadcast(self, event: str, payload: dict[str, Any]) -> None:
        """To every connected socket of every process (through the message queue), user or
        staff: public news such as `status:updated` (services/incidents.py)."""
        self._socketio.emit(event, payload)

    def later(self, delay: float, task: Callable[[], None]) -> None:
        """Run `task` after `delay` seconds in a background task of the server's async mode
        (a greenlet under eventlet/gevent); its errors are logged, never raised here."""

        def run() -> None:
            self._socketio.sleep(delay)
            try:
                task()
            except Exception:  # noqa: BLE001 - a background task has nobody to raise to
                log.exception("background task failed")

        self._socketio.start_background_task(run)
