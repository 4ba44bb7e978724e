"""Prometheus metrics (prometheus-client), served on their own port (`SUPPORT_API_METRICS_PORT`).

Across processes: **each process serves its own metrics** (a server process, or a
`support-api push-worker`), and Prometheus scrapes every one of them; dashboards sum
counters over instances (deploy/grafana-dashboard.json). This stays right when a process is
killed -9 (its target goes down with its numbers) and needs no shared directory, which is
why we do not use prometheus-client's multiprocess mode. One exception: the queue length is
read from the database at scrape time, so every process reports the same value — take
`max by (department)`, never a sum (docs/production.md).

Metrics live in their own registry (not the library's global one), so several apps in one
test process never register a name twice; they are module-level, as the library expects.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
# process_cpu_seconds_total, process_resident_memory_bytes, open fds: what says when to scale.
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

MESSAGES = Counter("support_api_messages", "Messages stored and delivered, by who sent them",
                   ["sender_type"], registry=REGISTRY)
# Receipt of the request or socket event that carried the message -> its transaction committed.
MESSAGE_STORE_SECONDS = Histogram(
    "support_api_message_store_seconds", "Receipt of a message to its commit", registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
SOCKET_CONNECTIONS = Gauge("support_api_socket_connections", "Socket.IO connections open on this process",
                           registry=REGISTRY)
# The bound on socket events in progress (realtime/gate.py, SUPPORT_API_MAX_INFLIGHT_EVENTS):
# the gauges are read from the gate at scrape time (`watch_slots`), nothing is counted per event.
SOCKET_EVENTS_IN_PROGRESS = Gauge("support_api_socket_events_in_progress",
                                  "Socket events being handled on this process", registry=REGISTRY)
SOCKET_EVENTS_WAITING = Gauge("support_api_socket_events_waiting",
                              "Connections whose next socket event waits for a free slot", registry=REGISTRY)
SOCKET_EVENT_WAITS = Counter("support_api_socket_event_waits",
                             "Socket events that waited for a free slot (the process was saturated)",
                             registry=REGISTRY)
PUSH = Counter("support_api_push", "Push notifications handled, by outcome (sent, skipped, retried, failed)",
               ["outcome"], registry=REGISTRY)
HTTP_REQUESTS = Counter("support_api_http_requests", "REST requests answered",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_DURATION = Histogram("support_api_http_request_duration_seconds", "REST request duration", ["route"],
                          registry=REGISTRY,
                          buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
GUARD_BLOCKS = Counter("support_api_guard_blocks", "Messages refused by the sensitive-content guard", ["kind"],
                       registry=REGISTRY)
RATE_LIMITED = Counter("support_api_rate_limited", "Requests refused by a rate limit", ["limit"],
                       registry=REGISTRY)

# The label of a request that matched no route: a bounded value instead of the raw path.
UNMATCHED_ROUTE = "unmatched"


class QueueCollector(Collector):
    """`support_api_queue_waiting{department}`: waiting chats per department, read at scrape time."""

    def __init__(self) -> None:
        self._count: Callable[[], Iterable[tuple[str, int]]] | None = None

    def bind(self, count: Callable[[], Iterable[tuple[str, int]]]) -> None:
        self._count = count

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("support_api_queue_waiting", "Chats waiting for an operator", labels=["department"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("support_api_queue_waiting", "Chats waiting for an operator",
                                   labels=["department"])
        if self._count is not None:
            try:
                for department, waiting in self._count():
                    family.add_metric([department], waiting)
            except Exception as exc:  # noqa: BLE001 - a scrape must not fail because the database is away
                log.warning("metrics: queue length unavailable (%s: %s)", type(exc).__name__, exc)
        yield family


QUEUE = QueueCollector()
REGISTRY.register(QUEUE)


def waiting_counter(db: Any) -> Callable[[], list[tuple[str, int]]]:
    """The queue length per department, for `QueueCollector.bind`; every category is listed
    (0 when none wait), so a department's series never disappears."""

    def count() -> list[tuple[str, int]]:
        from sqlalchemy import func, select

        from support_api.models import Category, ChatSession, SessionStatus

        with db.read() as session:
            rows = dict(session.execute(
                select(ChatSession.department, func.count()).where(ChatSession.status == SessionStatus.WAITING.value)
                .group_by(ChatSession.department)).all())
        departments = [c.value for c in Category] + sorted(set(rows) - {c.value for c in Category})
        return [(d, int(rows.get(d, 0))) for d in departments]

    return count


class _Slots(Protocol):
    @property
    def busy(self) -> int: ...

    @property
    def waiting(self) -> int: ...


def watch_slots(slots: _Slots) -> None:
    """Report the gate's slots (realtime/gate.FairSlots) in the two gauges above."""
    SOCKET_EVENTS_IN_PROGRESS.set_function(lambda: slots.busy)
    SOCKET_EVENTS_WAITING.set_function(lambda: slots.waiting)


# Pauses longer than ~10 ms show in the delivery p99 (bench/README.md, issue 16, third pass).
GC_PAUSE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)


class GcPauses(Collector):
    """`support_api_gc_pause_seconds{generation}`: how long each garbage collection stopped
    the process — what a p99 full of 40–150 ms stalls once was. Gathered by a `gc` callback
    into plain lists: a collection can start inside any code, a metrics lock held included,
    so the callback takes no lock (nothing else runs while it does); read at scrape time."""

    def __init__(self) -> None:
        self._started = 0.0
        self._counts = [[0] * (len(GC_PAUSE_BUCKETS) + 1) for _ in range(3)]  # per generation, per bucket
        self._sums = [0.0, 0.0, 0.0]

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        generation = info["generation"]
        self._counts[generation][bisect.bisect_left(GC_PAUSE_BUCKETS, pause)] += 1
        self._sums[generation] += pause

    def describe(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily("support_api_gc_pause_seconds", "Garbage collection pauses",
                                    labels=["generation"])

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily("support_api_gc_pause_seconds", "Garbage collection pauses",
                                       labels=["generation"])
        for generation in range(3):
            cumulative = list(itertools.accumulate(self._counts[generation]))
            buckets = [(str(bound), n) for bound, n in zip(GC_PAUSE_BUCKETS, cumulative, strict=False)]
            family.add_metric([str(generation)], [*buckets, ("+Inf", cumulative[-1])], self._sums[generation])
        yield family


GC_PAUSES = GcPauses()
REGISTRY.register(GC_PAUSES)


def watch_garbage_collector() -> None:
    """Time every collection of this process from now on (once per process)."""
    if GC_PAUSES.callback not in gc.callbacks:
        gc.callbacks.append(GC_PAUSES.callback)


def serve_metrics(host: str, port: int) -> int:
    """Expose REGISTRY on host:port (a daemon thread, a greenlet after monkey-patching);
    returns the port actually bound (0 picks a free one)."""
    server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    bound: int = server.server_address[1]
    log.info("metrics on http://%s:%s/metrics", host, bound)
    return bound
