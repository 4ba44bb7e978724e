"""Draining: what a server process is doing when it has been asked to stop.

`Lifecycle` is per app (`app.extensions["support_api_lifecycle"]`). REST requests and
Socket.IO events count themselves in and out (`work()`), so the shutdown sequence in
serving.py can wait for the ones in flight; `/v1/health/ready` answers 503 once `draining`
is set, so a load balancer that polls it takes the process out before it goes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, current_app

EXTENSION = "support_api_lifecycle"


class Lifecycle:
    def __init__(self) -> None:
        self.draining = False
        self._in_flight = 0
        # threading primitives are cooperative after monkey-patching (like lib/group_commit.py).
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def work(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    @staticmethod
    def wait(done: Callable[[], bool], deadline: float, sleep: Callable[[float], None]) -> bool:
        """Poll `done` until it holds or the monotonic `deadline` passes; whether it held."""
        while not done():
            if time.monotonic() >= deadline:
                return False
            sleep(0.05)
        return True


def lifecycle_of(app: Flask) -> Lifecycle:
    life: Lifecycle = app.extensions[EXTENSION]
    return life


def current_lifecycle() -> Lifecycle:
    return lifecycle_of(current_app)
