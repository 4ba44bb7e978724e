"""Who else has a chat open: the console's collision detection (issue 11, `session:viewers`).

Each staff socket that joined a session (`session:join`) is a *viewer* of it until it leaves
(`session:leave`), disconnects, or loses access (realtime/revocation.py). Every change sends
`session:viewers {session_id, viewers: [{id, name, role}]}` (one entry per staff member, however
many tabs they have) to the room `viewers:<session id>`, which only staff sockets join: the
session room itself cannot carry it, since the user's sockets are in it too.

The set must be whole across processes, so it is kept beside presence (lib/presence.py):
- in memory without `SUPPORT_API_REDIS_URL` (one process holds every socket);
- with Redis, one hash per session, `support_api:viewers:<session>`, field `<process>:<sid>`,
  value the viewer as JSON. An entry counts only while its process's presence heartbeat lives,
  so the viewers of a process killed with -9 drop out on the next change, as presence entries do.

Only join, leave and disconnect touch it (one pipeline each): never `message:send`.
A Redis failure is logged and the announcement skipped; the socket event still succeeds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import socketio

from support_api.lib.auth import Principal
from support_api.lib.presence import HEARTBEAT_TTL_SECONDS

log = logging.getLogger(__name__)

EVENT = "session:viewers"
_KEY_PREFIX = "support_api:viewers"
_BEAT_PREFIX = "support_api:presence:proc"  # lib/presence.py writes these heartbeats
# A hash nobody touched for this long is gone (each join re-arms it); entries of live sockets
# are rewritten on their next join, so this only bounds the garbage of crashed processes.
_KEY_TTL_SECONDS = 24 * 3600


def viewers_room(session_id: str) -> str:
    """Staff sockets viewing a session (never the user's)."""
    return f"viewers:{session_id}"


def _viewer(principal: Principal) -> dict[str, Any]:
    return {"id": principal.id, "name": principal.name, "role": principal.role.value}


def _collapse(viewers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per staff member, in a stable order."""
    by_id = {v["id"]: v for v in viewers}
    return sorted(by_id.values(), key=lambda v: ((v.get("name") or "").lower(), v["id"]))


class Viewers:
    def __init__(self, server: socketio.Server, redis_url: str | None, process: str | None = None) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._mine: dict[str, set[str]] = {}  # sid -> sessions it views (this process)
        self._memory: dict[str, dict[str, dict[str, Any]]] = {}  # session -> sid -> viewer (no Redis)
        self._redis: Any = None
        self._process = process or "local"
        if redis_url:
            import redis

            from support_api.lib import redis_pool

            self._redis = redis_pool.connect(redis_url, socket_timeout=5, socket_connect_timeout=5)
            self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    # --- changes -------------------------------------------------------------------------

    def joined(self, sid: str, session_id: str, principal: Principal) -> None:
        if not principal.is_staff:
            return
        self._server.enter_room(sid, viewers_room(session_id), namespace="/")
        with self._lock:
            self._mine.setdefault(sid, set()).add(session_id)
        viewer = _viewer(principal)
        if self._redis is None:
            with self._lock:
                self._memory.setdefault(session_id, {})[sid] = viewer
        elif not self._write(session_id, sid, viewer):
            return
        self._announce(session_id)

    def left(self, sid: str, session_id: str) -> None:
        with self._lock:
            sessions = self._mine.get(sid)
            if not sessions or session_id not in sessions:
                return
            sessions.discard(session_id)
            if not sessions:
                self._mine.pop(sid, None)
        self._server.leave_room(sid, viewers_room(session_id), namespace="/")
        self._remove(sid, [session_id])
        self._announce(session_id)

    def disconnected(self, sid: str) -> None:
        with self._lock:
            sessions = sorted(self._mine.pop(sid, set()))
        if not sessions:
            return
        self._remove(sid, sessions)
        for session_id in sessions:
            self._announce(session_id)

    # --- the set -------------------------------------------------------------------------

    def current(self, session_id: str) -> list[dict[str, Any]]:
        if self._redis is None:
            with self._lock:
                return _collapse(list(self._memory.get(session_id, {}).values()))
        entries = self._redis.hgetall(f"{_KEY_PREFIX}:{session_id}")
        if not entries:
            return []
        decoded = {bytes(field).decode(): bytes(value).decode() for field, value in entries.items()}
        processes = sorted({field.split(":", 1)[0] for field in decoded})
        beats = self._redis.mget([f"{_BEAT_PREFIX}:{p}" for p in processes])
        alive = {p for p, beat in zip(processes, beats) if beat is not None}
        return _collapse([json.loads(value) for field, value in decoded.items()
                          if field.split(":", 1)[0] in alive])

    def _write(self, session_id: str, sid: str, viewer: dict[str, Any]) -> bool:
        key = f"{_KEY_PREFIX}:{session_id}"
        try:
            pipe = self._redis.pipeline(transaction=False)
            # Entries count while this process's heartbeat lives: make sure it does right now.
            pipe.set(f"{_BEAT_PREFIX}:{self._process}", repr(time.time()), ex=HEARTBEAT_TTL_SECONDS)
            pipe.hset(key, f"{self._process}:{sid}", json.dumps(viewer))
            pipe.expire(key, _KEY_TTL_SECONDS)
            pipe.execute()
            return True
        except self._errors:
            log.warning("viewers: Redis is unreachable; session:viewers not sent", exc_info=True)
            return False

    def _remove(self, sid: str, session_ids: list[str]) -> None:
        if self._redis is None:
            with self._lock:
                for session_id in session_ids:
                    room = self._memory.get(session_id, {})
                    room.pop(sid, None)
                    if not room:
                        self._memory.pop(session_id, None)
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for session_id in session_ids:
                pipe.hdel(f"{_KEY_PREFIX}:{session_id}", f"{self._process}:{sid}")
            pipe.execute()
        except self._errors:
            log.warning("viewers: Redis is unreachable; a viewer stays listed until its process dies",
                        exc_info=True)

    def _announce(self, session_id: str) -> None:
        try:
            viewers = self.current(session_id)
        except Exception:  # Redis errors: never fail the socket event for this
            log.warning("viewers: could not read the viewers of %s", session_id, exc_info=True)
            return
        self._server.emit(EVENT, {"session_id": session_id, "viewers": viewers},
                          to=viewers_room(session_id), namespace="/")
