"""Presence (who is connected to which session room), in memory and in Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from unittest import mock

import pytest
import redis

from support_api.lib import presence as presence_module
from support_api.lib.presence import MemoryPresence, Presence, RedisPresence

REDIS_URL = os.environ.get("SUPPORT_API_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_presence() -> Iterator[RedisPresence]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); start it or set SUPPORT_API_TEST_REDIS_URL")
    finally:
        client.close()
    yield RedisPresence(REDIS_URL)


def _session() -> str:
    return f"ses_{uuid.uuid4().hex[:28]}"


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_join_leave_disconnect(kind: str, request: pytest.FixtureRequest) -> None:
    presence: Presence = MemoryPresence() if kind == "memory" else request.getfixturevalue("redis_presence")
    a, b = _session(), _session()
    assert not presence.is_present(a, "user", "u1")

    presence.join("sid-1", a, "user", "u1")
    presence.join("sid-2", a, "user", "u1")  # a second device in the same chat
    presence.join("sid-1", b, "user", "u1")
    assert presence.is_present(a, "user", "u1") and presence.is_present(b, "user", "u1")
    assert not presence.is_present(a, "operator", "u1") and not presence.is_present(a, "user", "u2")

    presence.leave("sid-1", a)
    assert presence.is_present(a, "user", "u1")  # the other device is still there
    presence.disconnect("sid-2")
    assert not presence.is_present(a, "user", "u1")
    assert presence.is_present(b, "user", "u1")
    presence.disconnect("sid-1")
    assert not presence.is_present(b, "user", "u1")


def test_redis_presence_is_shared_between_processes(redis_presence: RedisPresence) -> None:
    other_process = RedisPresence(REDIS_URL)
    chat = _session()
    other_process.join("sid-9", chat, "operator", "op-1")
    assert redis_presence.is_present(chat, "operator", "op-1")
    other_process.leave("sid-9", chat)
    assert not redis_presence.is_present(chat, "operator", "op-1")


def test_redis_entries_of_a_dead_process_expire_and_live_ones_are_refreshed(redis_presence: RedisPresence) -> None:
    dead, alive, chat = RedisPresence(REDIS_URL), RedisPresence(REDIS_URL), _session()
    now = 1_000_000_000.0
    with mock.patch.object(presence_module.time, "time", return_value=now):
        dead.join("sid-dead", chat, "user", "u1")
        alive.join("sid-alive", _session(), "user", "u1")
    later = now + presence_module.TTL_SECONDS + 1
    with mock.patch.object(presence_module.time, "time", return_value=later):
        # The dead process never disconnected its socket, and never refreshed it.
        assert not redis_presence.is_present(chat, "user", "u1")
        alive.join("sid-alive-2", chat, "user", "u1")
        alive.refresh()
        assert redis_presence.is_present(chat, "user", "u1")


def test_an_unreachable_redis_counts_as_away() -> None:
    presence = RedisPresence("redis://127.0.0.1:1/0")
    chat = _session()
    presence.join("sid-1", chat, "user", "u1")  # logged, not raised: the socket event goes on
    assert presence.is_present(chat, "user", "u1") is False
    presence.refresh()
    presence.disconnect("sid-1")
