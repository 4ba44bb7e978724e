"""The push sender loop: embedded in `support-api serve` by default, or on its own as
`support-api push-worker` (set `SUPPORT_API_PUSH_EMBEDDED=false` on the servers then).

Any number of loops may run against one database: claims never hand a row to two of them
(services/push_delivery.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask

from support_api.config import Settings
from support_api.lib import metrics
from support_api.lib.db import Database
from support_api.lib.presence import HEARTBEAT_SECONDS, REFRESH_SECONDS, Presence
from support_api.lib.runtime import Runtime
from support_api.lib.push_sender import PushSender, make_sender
from support_api.services.push_delivery import (
    CLAIM_BATCH,
    DeliveryReport,
    deliver_due,
    purge_done,
)

log = logging.getLogger(__name__)

# How often an idle loop looks for due rows: the latency of an undelayed push.
POLL_SECONDS = 0.5
PURGE_EVERY_SECONDS = 600.0


class PushWorker:
    def __init__(self, settings: Settings, db: Database, sender: PushSender, presence: Presence, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.db = db
        self.sender = sender
        self.presence = presence
        self._sleep = sleep
        self._stop = threading.Event()
        self.running = False  # a draining server waits for the round in flight (serving.drain)

    def run_once(self, now=None) -> DeliveryReport:  # type: ignore[no-untyped-def]
        """One claim-send-record round (tests pass `now` to step through delays and backoff)."""
        report = deliver_due(self.db, self.settings, self.sender, self.presence, now=now)
        for outcome in ("sent", "skipped", "retried", "failed"):
            if getattr(report, outcome):
                metrics.PUSH.labels(outcome).inc(getattr(report, outcome))
        return report

    def stop(self) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        log.info("push sender running (backend %s, delay %d s)", self.settings.push.backend,
                 self.settings.push.delay_seconds)
        last_purge = time.monotonic()
        self.running = True
        while not self._stop.is_set():
            busy = False
            try:
                report = self.run_once()
                busy = report.claimed >= CLAIM_BATCH
                if report.claimed:
                    log.info("push: %d sent, %d skipped, %d to retry, %d failed", report.sent, report.skipped,
                             report.retried, report.failed)
                if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                    last_purge = time.monotonic()
                    purge_done(self.db)
            except Exception as exc:  # noqa: BLE001 - the database may be restarting: keep going
                log.warning("push: a round failed (%s: %s); trying again shortly", type(exc).__name__, exc)
                self._sleep(POLL_SECONDS * 4)
            if not busy:
                self._sleep(POLL_SECONDS)
        self.sender.close()
        self.running = False


def start_embedded(app: Flask) -> None:
    """Background tasks of a server process: the sender loop (unless SUPPORT_API_PUSH_EMBEDDED
    is false), the inactivity sweep (services/auto_close.py; unless SUPPORT_API_AUTO_CLOSE_SECONDS
    is 0) and, with Redis, the refresh of this process's presence entries."""
    from support_api.app import socketio_of

    rt: Runtime = app.extensions["support_api"]
    socketio = socketio_of(app)
    if rt.settings.push.embedded:
        worker = PushWorker(rt.settings, rt.db, make_sender(rt.settings.push), rt.presence, sleep=socketio.sleep)
        app.extensions["support_api_push_worker"] = worker
        socketio.start_background_task(worker.run_forever)
    if rt.settings.routing.auto_close_seconds:
        socketio.start_background_task(_auto_close_loop, rt, socketio.sleep)
    if rt.settings.redis_url:
        def refresh_presence() -> None:
            while True:
                socketio.sleep(REFRESH_SECONDS)
                rt.presence.refresh()

        socketio.start_background_task(refresh_presence)

        def heartbeat() -> None:
            while True:
                rt.presence.heartbeat()
                socketio.sleep(HEARTBEAT_SECONDS)

        socketio.start_background_task(heartbeat)
    from support_api.realtime import expiry

    expiry.start(socketio.server, app.extensions["support_api_gate"])


def _auto_close_loop(rt: Runtime, sleep: Callable[[float], None]) -> None:
    from support_api.services.auto_close import sweep

    while True:
        sleep(rt.settings.routing.auto_close_interval_seconds)
        try:
            closed = sweep(rt)
            if closed:
                log.info("auto-close: closed %d quiet chat(s)", len(closed))
        except Exception as exc:  # noqa: BLE001 - the database may be restarting: keep going
            log.warning("auto-close: a sweep failed (%s: %s); trying again later", type(exc).__name__, exc)
