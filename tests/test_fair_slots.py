"""realtime/gate.FairSlots: the bound on socket events in progress serves waiters in order.
(Through the real server: tests/e2e/test_hardening.py::test_events_wait_for_a_free_slot_and_then_all_run.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from support_api.realtime.gate import FairSlots


def wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Taker:
    """A thread that takes a slot, notes it, and holds it until told to give it back."""

    def __init__(self, slots: FairSlots, name: str, order: list[str]) -> None:
        self.give_back = threading.Event()

        def run() -> None:
            slots.acquire()
            order.append(name)
            self.give_back.wait(10)
            slots.release()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()


def test_a_freed_slot_goes_to_the_oldest_waiter_and_a_newcomer_queues_behind() -> None:
    slots, order = FairSlots(1), []
    slots.acquire()
    first = Taker(slots, "first", order)
    wait_until(lambda: slots.waiting == 1)
    second = Taker(slots, "second", order)
    wait_until(lambda: slots.waiting == 2)
    slots.release()
    # Arrives while the freed slot is on its way to `first`: a plain semaphore may let it in
    # ahead of both waiters.
    newcomer = Taker(slots, "newcomer", order)
    wait_until(lambda: order == ["first"] and slots.waiting == 2)
    for taker, expected in ((first, ["first", "second"]), (second, ["first", "second", "newcomer"])):
        taker.give_back.set()
        wait_until(lambda expected=expected: order == expected)  # type: ignore[misc]
    newcomer.give_back.set()
    newcomer.thread.join(5)
    # Every hand-over kept the count: one slot is free again, not two.
    assert slots.waiting == 0
    slots.acquire()
    late = Taker(slots, "late", order)
    wait_until(lambda: slots.waiting == 1)
    slots.release()
    wait_until(lambda: order[-1] == "late")
    late.give_back.set()


def test_free_slots_are_taken_without_waiting() -> None:
    slots, order = FairSlots(3), []
    takers = [Taker(slots, str(n), order) for n in range(3)]
    wait_until(lambda: len(order) == 3)
    assert slots.waiting == 0
    fourth = Taker(slots, "3", order)
    wait_until(lambda: slots.waiting == 1)
    takers[1].give_back.set()
    wait_until(lambda: len(order) == 4)
    for taker in (takers[0], takers[2], fourth):
        taker.give_back.set()


class Interrupted(Exception):
    pass


def test_a_waiter_interrupted_in_line_leaves_it() -> None:
    """A wait cut short (a timeout, a killed green thread) takes its place out of the line:
    the next release frees the slot instead of handing it to nobody."""

    class GivesUp(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            raise Interrupted

    slots = FairSlots(1, new_event=GivesUp)
    slots.acquire()
    with pytest.raises(Interrupted):
        slots.acquire()
    assert slots.waiting == 0
    slots.release()
    assert slots.busy == 0
    assert slots.acquire() is False  # free at once


def test_a_waiter_interrupted_after_the_hand_over_passes_the_slot_on() -> None:
    handed_over = threading.Event()

    class TooLate(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            handed_over.wait(5)  # the release below has set this event: the slot is ours...
            assert self.is_set()
            raise Interrupted  # ...and we are interrupted before using it

    slots = FairSlots(1, new_event=TooLate)
    slots.acquire()
    errors: list[BaseException] = []

    def wait_in_line() -> None:
        try:
            slots.acquire()
        except Interrupted as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait_in_line, daemon=True)
    waiter.start()
    wait_until(lambda: slots.waiting == 1)
    slots.release()
    handed_over.set()
    waiter.join(5)
    assert len(errors) == 1
    assert slots.busy == 0 and slots.waiting == 0
