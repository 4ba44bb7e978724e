"""Coalesced `queue:updated` fan-out: a long queue is published at most once per interval.

Publishing a department's queue costs one event per waiting user (each gets their own
position and estimate, on their own `user:<sub>` room — no user may learn another's session).
Publishing at every move made an incident's surge quadratic: n waiting users × one publish per
chat taken or closed. Here, per process and per department:

- a queue that had at most `IMMEDIATE_MAX` waiting chats when last published is published at
  once (what clients always saw; at most that many events);
- a longer one is published at once only if its last publish is at least
  `SUPPORT_API_QUEUE_PUBLISH_INTERVAL_MS` (default 1000) old; otherwise one publish is
  scheduled for the end of that interval, and every move until then rides on it.

So a long queue costs at most n events per interval however fast it moves, and the last
publish always reflects the state after the last move (a trailing publish reads the queue
when it runs). Positions and estimates stay exact at every publish, and REST and
`session:join` give them at any moment. See docs/incidents.md ("The surge").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from support_api.lib.runtime import Runtime

IMMEDIATE_MAX = 20
DEFAULT_INTERVAL_SECONDS = 1.0


class QueueFanout:
    def __init__(self, publish: Callable[[str], int], later: Callable[[float, Callable[[], None]], None],
                 interval: float) -> None:
        self._publish = publish  # publishes one department, returns its waiting count
        self._later = later  # runs a function after a delay, in the background
        self._interval = interval
        self._lock = threading.Lock()
        self._last_at: dict[str, float] = {}
        self._last_size: dict[str, int] = {}
        self._pending: set[str] = set()

    def request(self, department: str) -> None:
        now = time.monotonic()
        with self._lock:
            if department in self._pending:
                return  # the scheduled publish will include this move
            small = self._last_size.get(department, 0) <= IMMEDIATE_MAX
            due_in = self._last_at.get(department, float("-inf")) + self._interval - now
            if not small and due_in > 0:
                self._pending.add(department)
                self._later(due_in, lambda: self._run_pending(department))
                return
            self._last_at[department] = now
        self._run(department)

    def _run_pending(self, department: str) -> None:
        with self._lock:
            self._pending.discard(department)
            self._last_at[department] = time.monotonic()
        self._run(department)

    def _run(self, department: str) -> None:
        size = self._publish(department)
        with self._lock:
            self._last_size[department] = size


def fanout(rt: Runtime, publish: Callable[[str], int]) -> QueueFanout:
    """The app's one fan-out coalescer, kept with its database like the group committer."""
    existing = rt.db.shared.get("queue_fanout")
    if isinstance(existing, QueueFanout):
        return existing
    interval = rt.settings.routing.queue_publish_interval_ms / 1000
    created = QueueFanout(publish, rt.events.later, interval)
    rt.db.shared["queue_fanout"] = created
    return created
