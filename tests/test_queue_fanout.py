"""The coalesced `queue:updated` fan-out (services/queue_fanout.py): short queues are published
at every move, as before; a long one at most once per interval, the moves in between riding on
one trailing publish that reads the queue when it runs."""

from __future__ import annotations

from collections.abc import Callable

from support_api.services.queue_fanout import IMMEDIATE_MAX, QueueFanout


class Harness:
    def __init__(self, interval: float = 1.0) -> None:
        self.sizes: dict[str, int] = {}
        self.published: list[str] = []
        self.scheduled: list[tuple[float, Callable[[], None]]] = []
        self.fanout = QueueFanout(self._publish, lambda delay, task: self.scheduled.append((delay, task)), interval)

    def _publish(self, department: str) -> int:
        self.published.append(department)
        return self.sizes.get(department, 0)

    def run_scheduled(self) -> None:
        tasks, self.scheduled = self.scheduled, []
        for _, task in tasks:
            task()


def test_a_short_queue_is_published_at_every_move() -> None:
    h = Harness()
    h.sizes["funds"] = IMMEDIATE_MAX
    for _ in range(5):
        h.fanout.request("funds")
    assert h.published == ["funds"] * 5 and h.scheduled == []


def test_a_long_queue_is_published_once_per_interval_with_one_trailing_publish() -> None:
    h = Harness()
    h.sizes["trading"] = 1000
    h.fanout.request("trading")  # leading edge: nothing published recently
    assert h.published == ["trading"]
    for _ in range(100):  # 100 moves within the interval
        h.fanout.request("trading")
    assert h.published == ["trading"]
    assert len(h.scheduled) == 1 and 0 < h.scheduled[0][0] <= 1.0
    h.run_scheduled()
    assert h.published == ["trading", "trading"]  # one publish for all 100 moves
    # Other departments are independent.
    h.sizes["funds"] = 3
    h.fanout.request("funds")
    assert h.published[-1] == "funds"


def test_a_queue_that_shrinks_is_published_at_once_again() -> None:
    h = Harness()
    h.sizes["trading"] = 500
    h.fanout.request("trading")
    h.sizes["trading"] = 5
    h.fanout.request("trading")
    h.run_scheduled()  # the trailing publish sees the short queue
    h.fanout.request("trading")
    assert h.published == ["trading", "trading", "trading"] and h.scheduled == []


def test_interval_zero_publishes_every_move() -> None:
    h = Harness(interval=0)
    h.sizes["trading"] = 1000
    for _ in range(3):
        h.fanout.request("trading")
    assert h.published == ["trading"] * 3 and h.scheduled == []
