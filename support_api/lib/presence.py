"""Who is connected to which session room: the push sender asks before it notifies anyone.

Socket.IO rooms only know this process's sockets, so presence is kept beside them:
- in memory when one process serves every socket (no `SUPPORT_API_REDIS_URL`);
- in Redis when several do: one sorted set per (session, participant) whose members are this
  process's sockets, scored with an expiry time. Each process re-scores its own members every
  `REFRESH_SECONDS`, so the sockets of a process that died (no disconnect ever ran) drop out
  after `TTL_SECONDS`, and the key itself expires once nobody refreshes it.

Presence cannot lie for long (issue 10): every server process also writes a heartbeat key
`support_api:presence:proc:<process>` (its time, expiring after `HEARTBEAT_TTL_SECONDS`) every
`HEARTBEAT_SECONDS`. An entry counts only while its process's heartbeat exists, so the
sockets of a process killed with -9 stop counting within seconds instead of 90. For the push
sender `present_since` is stricter still: a recipient counts as having seen a message live
only if a process holding their socket beat *after* the message was stored; when the only
evidence is older, the answer is "unsure" and the sender looks again after the next beat
(services/push_delivery.py), so a reply during the seconds after a crash is still pushed.

A Redis failure never breaks a socket event: it is logged, and an unknown presence counts as
"not connected" (better a notification too many than a reply nobody hears of).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Protocol

log = logging.getLogger(__name__)

TTL_SECONDS = 90
REFRESH_SECONDS = 30
HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TTL_SECONDS = 6
_KEY_PREFIX = "support_api:presence"

Member = tuple[str, str, str]  # (session id, participant type, participant id)

# A pseudo session every staff socket joins on connect: `is_present(CONNECTED, "operator", sub)`
# says whether an operator has any socket on any process (their availability, services/operators.py).
CONNECTED = "~connected"


class Presence(Protocol):
    def join(self, sid: str, session_id: str, participant_type: str, participant_id: str) -> None: ...

    def leave(self, sid: str, session_id: str) -> None: ...

    def disconnect(self, sid: str) -> None: ...

    def is_present(self, session_id: str, participant_type: str, participant_id: str) -> bool: ...

    def present_since(self, session_id: str, participant_type: str, participant_id: str,
                      since: float) -> bool | None:
        """True: connected, and alive at or after `since` (epoch seconds); False: not
        connected; None: only evidence older than `since` (look again after a heartbeat)."""
        ...

    def refresh(self) -> None: ...

    def heartbeat(self) -> None: ...


class _Local:
    """The sockets of this process and the session rooms each joined."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_sid: dict[str, dict[str, Member]] = {}

    def add(self, sid: str, member: Member) -> None:
        with self._lock:
            self._by_sid.setdefault(sid, {})[member[0]] = member

    def remove(self, sid: str, session_id: str) -> Member | None:
        with self._lock:
            rooms = self._by_sid.get(sid, {})
            member = rooms.pop(session_id, None)
            if not rooms:
                self._by_sid.pop(sid, None)
            return member

    def remove_all(self, sid: str) -> list[Member]:
        with self._lock:
            return list(self._by_sid.pop(sid, {}).values())

    def items(self) -> list[tuple[str, Member]]:
        with self._lock:
            return [(sid, member) for sid, rooms in self._by_sid.items() for member in rooms.values()]

    def has(self, member: Member) -> bool:
        with self._lock:
            return any(member in rooms.values() for rooms in self._by_sid.values())


class MemoryPresence:
    """Presence of a single server process (the embedded default)."""

    def __init__(self) -> None:
        self._local = _Local()

    def join(self, sid: str, session_id: str, participant_type: str, participant_id: str) -> None:
        self._local.add(sid, (session_id, participant_type, participant_id))

    def leave(self, sid: str, session_id: str) -> None:
        self._local.remove(sid, session_id)

    def disconnect(self, sid: str) -> None:
        self._local.remove_all(sid)

    def is_present(self, session_id: str, participant_type: str, participant_id: str) -> bool:
        return self._local.has((session_id, participant_type, participant_id))

    def present_since(self, session_id: str, participant_type: str, participant_id: str,
                      since: float) -> bool | None:
        # This very process holds the sockets and is alive now.
        return self.is_present(session_id, participant_type, participant_id)

    def refresh(self) -> None:
        """Nothing expires in memory: a process's sockets die with it."""

    def heartbeat(self) -> None:
        """No other process needs to know this one is alive."""


class RedisPresence:
    """Presence shared by every process on one Redis (see the module docstring)."""

    def __init__(self, redis_url: str) -> None:
        import redis

        from support_api.lib import redis_pool

        self._redis = redis_pool.connect(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self._errors = (redis.RedisError, OSError)
        self._process = uuid.uuid4().hex[:12]
        self._local = _Local()

    @property
    def process_id(self) -> str:
        """This process's name in entries and heartbeats (realtime/viewers.py shares them)."""
        return self._process

    @staticmethod
    def _key(member: Member) -> str:
        return f"{_KEY_PREFIX}:{member[0]}:{member[1]}:{member[2]}"

    def _entry(self, sid: str) -> str:
        return f"{self._process}:{sid}"

    @staticmethod
    def _beat_key(process: str) -> str:
        return f"{_KEY_PREFIX}:proc:{process}"

    def heartbeat(self) -> None:
        """This process is alive: run every HEARTBEAT_SECONDS (see `support_api.push_worker`)."""
        try:
            self._redis.set(self._beat_key(self._process), repr(time.time()), ex=HEARTBEAT_TTL_SECONDS)
        except self._errors:
            log.warning("presence: Redis is unreachable; this process's sockets stop counting", exc_info=True)

    def _beats(self, member: Member) -> list[float]:
        """The last heartbeat of each live process holding a socket of `member` (dead ones drop out)."""
        entries = self._redis.zrangebyscore(self._key(member), time.time(), "+inf")
        processes = sorted({bytes(entry).split(b":", 1)[0].decode() for entry in entries})  # type: ignore[union-attr]
        if not processes:
            return []
        beats = self._redis.mget([self._beat_key(process) for process in processes])
        return [float(beat) for beat in beats if beat is not None]  # type: ignore[union-attr]

    def _score(self, members: list[tuple[str, Member]]) -> None:
        if not members:
            return
        now = time.time()
        try:
            pipe = self._redis.pipeline(transaction=False)
            # Entries count only while this process's heartbeat lives: write it with them.
            pipe.set(self._beat_key(self._process), repr(now), ex=HEARTBEAT_TTL_SECONDS)
            for sid, member in members:
                key = self._key(member)
                # Entries of dead processes stop counting at their score; this drops them.
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.zadd(key, {self._entry(sid): now + TTL_SECONDS})
                pipe.expire(key, TTL_SECONDS)
            pipe.execute()
        except self._errors:
            log.warning("presence: Redis is unreachable; connected sockets may be pushed", exc_info=True)

    def _unscore(self, sid: str, members: list[Member]) -> None:
        if not members:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for member in members:
                pipe.zrem(self._key(member), self._entry(sid))
            pipe.execute()
        except self._errors:
            # The entries expire by themselves within TTL_SECONDS.
            log.warning("presence: Redis is unreachable; a leave is recorded late", exc_info=True)

    def join(self, sid: str, session_id: str, participant_type: str, participant_id: str) -> None:
        member = (session_id, participant_type, participant_id)
        self._local.add(sid, member)
        self._score([(sid, member)])

    def leave(self, sid: str, session_id: str) -> None:
        member = self._local.remove(sid, session_id)
        self._unscore(sid, [member] if member else [])

    def disconnect(self, sid: str) -> None:
        self._unscore(sid, self._local.remove_all(sid))

    def is_present(self, session_id: str, participant_type: str, participant_id: str) -> bool:
        try:
            return bool(self._beats((session_id, participant_type, participant_id)))
        except self._errors:
            log.warning("presence: Redis is unreachable; treating the recipient as away", exc_info=True)
            return False

    def present_since(self, session_id: str, participant_type: str, participant_id: str,
                      since: float) -> bool | None:
        try:
            beats = self._beats((session_id, participant_type, participant_id))
        except self._errors:
            log.warning("presence: Redis is unreachable; treating the recipient as away", exc_info=True)
            return False
        if not beats:
            return False
        return True if max(beats) >= since else None

    def refresh(self) -> None:
        """Extend this process's entries; run every REFRESH_SECONDS (see `support_api.push_worker`)."""
        self._score(self._local.items())


def make_presence(redis_url: str | None) -> Presence:
    return RedisPresence(redis_url) if redis_url else MemoryPresence()
