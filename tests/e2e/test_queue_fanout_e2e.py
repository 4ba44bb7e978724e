"""The coalesced `queue:updated` fan-out through the real server: a long queue moving several
times within the interval costs one publish at once and one at the end of the interval (not
one per move), and the last event carries the position after the last move."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import ServerProcess, run_server, world_on

INTERVAL_MS = 2000
QUEUE = 25  # longer than the 20 chats published at every move


@pytest.fixture(scope="module", params=backends())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"SUPPORT_API_QUEUE_PUBLISH_INTERVAL_MS": str(INTERVAL_MS), "SUPPORT_API_RATE_LIMIT_SESSIONS": "1000/hour"}
    with fresh_database(request.param) as url, \
            run_server(url, tmp_path_factory.mktemp("fanout"), extra_env=env) as proc:
        yield proc


def test_a_long_queue_is_published_once_per_interval(server: ServerProcess) -> None:
    with world_on(server) as world:
        user = world.user()
        op = world.operator(["account"], label="sato")  # never online: the queue only moves by claims
        chats = [user.open_session("account")["id"] for _ in range(QUEUE)]
        last = chats[-1]
        phone = user.socket()

        def positions() -> list[int]:
            return [e["queue_position"] for e in phone.received("queue:updated", lambda e: e["session_id"] == last)]

        started = time.monotonic()
        for chat in chats[:5]:
            op.claim(chat)
        claims_took = time.monotonic() - started
        # The first claim publishes at once (the queue was not known to be long yet)…
        phone.wait_for("queue:updated", lambda e: e["session_id"] == last)
        # …and the four after it ride on one publish at the end of the interval.
        phone.wait_for("queue:updated", lambda e: e["session_id"] == last and e["queue_position"] == QUEUE - 5,
                       timeout=INTERVAL_MS / 1000 + 10)
        time.sleep(0.5)
        if claims_took < INTERVAL_MS / 1000:
            assert positions() == [QUEUE - 1, QUEUE - 5]
        else:  # a very slow machine: the claims spanned intervals; still far fewer than one per move
            assert positions()[-1] == QUEUE - 5 and len(positions()) < 5
        # Every waiting chat of the user got its own exact position in the trailing publish.
        latest = {}
        for event in phone.received("queue:updated"):
            latest[event["session_id"]] = event["queue_position"]
        assert [latest[chat] for chat in chats[5:]] == list(range(1, QUEUE - 4))
