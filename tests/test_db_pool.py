"""Pooled PostgreSQL connections are checked before use only after sitting idle
(lib/db._ping_when_idle): a dead idle one is replaced without the caller noticing, and a
connection in steady use costs no extra round trip."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from support_api.lib import db as db_module
from support_api.lib.db import make_engine
from tests.dbutil import fresh_database

IDLE = 0.2


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_database("postgresql") as url:
        yield url


@pytest.fixture
def engine(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setattr(db_module, "IDLE_PING_SECONDS", IDLE)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings = [0]
    original = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings[0] += 1
        return original(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pg_url: str, pid: int) -> None:
    killer = make_engine(pg_url)
    try:
        with killer.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one() is True
    finally:
        killer.dispose()


def test_a_connection_in_steady_use_is_not_pinged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pings = _count_pings(engine, monkeypatch)
    first = _backend_pid(engine)
    for _ in range(20):
        assert _backend_pid(engine) == first  # the same pooled connection each time
    assert pings[0] == 0


def test_a_connection_idle_past_the_threshold_is_pinged_once(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pings = _count_pings(engine, monkeypatch)
    _backend_pid(engine)
    time.sleep(IDLE * 1.5)
    _backend_pid(engine)
    _backend_pid(engine)
    assert pings[0] == 1


def test_a_dead_idle_connection_is_replaced_unnoticed(engine: Engine, pg_url: str) -> None:
    """What pool_pre_ping did: the server ended the pooled connection (a restart, a failover,
    an idle timeout) while it sat in the pool; the next caller gets a fresh one, no error."""
    dead = _backend_pid(engine)
    _terminate(pg_url, dead)
    time.sleep(IDLE * 1.5)
    fresh = _backend_pid(engine)
    assert fresh != dead


def test_a_dead_connection_used_moments_ago_fails_once_then_the_pool_is_renewed(engine: Engine, pg_url: str) -> None:
    """Not checked (it was in use a moment ago): its next statement fails as a disconnect, and
    SQLAlchemy invalidates the pool, so the statement after it runs on a new connection."""
    dead = _backend_pid(engine)
    _terminate(pg_url, dead)
    with pytest.raises(OperationalError) as failed, engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert failed.value.connection_invalidated
    assert _backend_pid(engine) != dead
