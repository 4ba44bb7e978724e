"""CPU-heavy work off the event loop: a bounded pool of native threads.

Under eventlet or gevent every request shares one OS thread; decoding and re-encoding a
48 MP photo there froze the whole process (50 concurrent uploads stalled `/v1/health` for
8 s). Pillow releases the GIL while it decodes, resamples and encodes, so the same work
on a native thread (eventlet's `tpool`, gevent's hub threadpool) leaves the loop free.
At most `SUPPORT_API_CPU_WORKERS` such jobs run at once per process; the others wait their
turn cooperatively (a green semaphore), so a burst of uploads cannot take every core.
Without a green runtime (threading mode, tests) the function simply runs in the caller.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_slots: threading.BoundedSemaphore | None = None
_slots_size = 0
_lock = threading.Lock()


def _runtime() -> str:
    # Only look at modules already imported: importing eventlet here would have side effects,
    # and a runtime nobody imported cannot have patched anything.
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return "eventlet"
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        return "gevent"
    return "threading"


def _semaphore(workers: int) -> threading.BoundedSemaphore:
    # Created on first use, after monkey-patching: then it is a green semaphore.
    global _slots, _slots_size
    with _lock:
        if _slots is None or _slots_size != workers:
            _slots, _slots_size = threading.BoundedSemaphore(workers), workers
        return _slots


def run_cpu(workers: int, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on a native thread (at most `workers` at once), waiting cooperatively."""
    runtime = _runtime()
    if runtime == "threading":
        return fn(*args)
    with _semaphore(workers):
        if runtime == "eventlet":
            from eventlet import tpool

            result: T = tpool.execute(fn, *args)
            return result
        import gevent

        pooled: T = gevent.get_hub().threadpool.apply(fn, args)
        return pooled
