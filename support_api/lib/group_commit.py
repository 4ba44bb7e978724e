"""Group commit: jobs submitted at about the same time share one transaction.

A send's own work in the database is small next to what every transaction costs (taking a
pooled connection, BEGIN, COMMIT, the driver's round trips). `GroupCommit.submit` queues a job
and blocks its caller until the job is stored: the first caller to find nobody writing becomes
the *leader*, lets every other ready sender queue its job (one cooperative yield), runs all
queued jobs in one transaction through `run_batch`, and wakes their callers. When its own job
is done, it hands the lead to the oldest job still queued, so no caller serves others forever.

A batch that fails as a whole (a conflict one job caused, a deadlock between processes) is
rolled back and its jobs run again one transaction each through the same `run_batch`, so one
bad job costs only itself. Every caller gets exactly its own result or exception, after the
commit that stored it: services still emit only what is committed.

Built on `threading` primitives, which the server's runtime has made cooperative (eventlet or
gevent monkey-patching) or which are real threads (the threading mode of the tests), so the
same code batches greenlets and threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Connection

from support_api.lib.db import Database

J = TypeVar("J")
R = TypeVar("R")

log = logging.getLogger(__name__)

MAX_BATCH = 64


class _Waiter(Generic[J, R]):
    __slots__ = ("job", "done", "result", "error", "lead")

    def __init__(self, job: J) -> None:
        self.job = job
        self.done = threading.Event()
        self.result: R | None = None
        self.error: BaseException | None = None
        self.lead = False  # woken to become the leader, not because its job is done


class GroupCommit(Generic[J, R]):
    def __init__(self, db: Database, run_batch: Callable[[Connection, list[J]], list[R]], *, cooperative: bool,
                 max_batch: int = MAX_BATCH) -> None:
        """`cooperative`: greenlets (eventlet, gevent), which queue their jobs only when the
        leader yields; real threads queue theirs while it writes, and a yield (a sleep
        system call) would only cost time."""
        self._db = db
        self._cooperative = cooperative
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiter[J, R]] = []
        self._leading = False

    @property
    def idle(self) -> bool:
        """Nothing queued and nobody writing: every submitted job is committed (or failed).
        A draining server waits for this before it exits (serving.py)."""
        with self._lock:
            return not self._leading and not self._queue

    def submit(self, job: J) -> R:
        """Store `job` (with whatever else is queued) and return its result once committed."""
        waiter: _Waiter[J, R] = _Waiter(job)
        with self._lock:
            self._queue.append(waiter)
            leads = not self._leading
            self._leading = True
        while not leads:
            waiter.done.wait()
            if not waiter.lead:
                return self._outcome(waiter)
            waiter.lead, leads = False, True
            waiter.done.clear()
        self._lead(waiter)
        return self._outcome(waiter)

    @staticmethod
    def _outcome(waiter: _Waiter[J, R]) -> R:
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]

    def _lead(self, mine: _Waiter[J, R]) -> None:
        """Run batches until `mine` is stored, then pass the lead on (or give it up)."""
        try:
            while True:
                if self._cooperative:
                    time.sleep(0)  # let every sender that is ready to submit join this batch
                with self._lock:
                    batch = self._queue[:self._max_batch]
                    del self._queue[:len(batch)]
                self._run(batch)
                if mine.done.is_set():
                    return
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._leading = False

    def _run(self, batch: list[_Waiter[J, R]]) -> None:
        try:
            with self._db.write_connection() as conn:
                results = self._run_batch(conn, [w.job for w in batch])
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        except Exception as exc:  # noqa: BLE001 - retried below, one job per transaction
            if len(batch) == 1:
                batch[0].error = exc  # it already ran alone: running it again would repeat the work
            else:
                log.debug("group commit: a batch of %d failed (%r); running its jobs one by one", len(batch), exc)
                self._run_alone(batch)
        for waiter in batch:
            waiter.done.set()

    def _run_alone(self, batch: list[_Waiter[J, R]]) -> None:
        for waiter in batch:
            try:
                with self._db.write_connection() as conn:
                    waiter.result = self._run_batch(conn, [waiter.job])[0]
            except Exception as exc:  # noqa: BLE001 - the caller gets its own exception
                waiter.error = exc
