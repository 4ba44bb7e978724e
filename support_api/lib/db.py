"""Engine and sessions: plain SQLAlchemy 2 (no Flask-SQLAlchemy, see DESIGN.md).

Services open a transaction with `Database.write()` and read with `Database.read()`.
On SQLite a write transaction starts with `BEGIN IMMEDIATE`: the write lock is taken up
front, so two writers queue on `busy_timeout` instead of one failing with
`database is locked` when it upgrades a read lock. PostgreSQL uses row locks instead
(`SELECT … FOR UPDATE` in the services).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Under overload, a request waiting this long for a connection is answered 503 `overloaded`
# (with Retry-After) instead of queueing for SQLAlchemy's default 30 s while memory grows.
POOL_TIMEOUT_SECONDS = 5
# A pooled PostgreSQL connection idle this long is checked before use (`_ping_when_idle`).
IDLE_PING_SECONDS = 2.0

_want_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("_want_immediate", default=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN can be IMMEDIATE (SQLAlchemy recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _want_immediate.get() else "BEGIN")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_timeout=POOL_TIMEOUT_SECONDS,
                               connect_args={"timeout": 10})
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_timeout=POOL_TIMEOUT_SECONDS)
    _ping_when_idle(engine)
    return engine


def retry_soon(exc: BaseException) -> bool:
    """A database error the client should just retry: no pooled connection came free within
    `POOL_TIMEOUT_SECONDS`, or the one in use was lost (a restart or failover; the pool is
    renewed already, `_ping_when_idle`). REST answers it 503 `overloaded` with Retry-After
    (app.py), a socket event's ack likewise (realtime/connections.py)."""
    return isinstance(exc, PoolTimeout) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection (one round trip) before use only when it sat in the pool for
    `IDLE_PING_SECONDS` or more — after a database restart or a failover, those are the dead
    ones. `pool_pre_ping` checked every checkout: ≈ 110 µs of CPU each, once per group-commit
    batch of sends and per REST read (bench/README.md). A connection used moments ago that
    fails anyway fails as a disconnect: SQLAlchemy then invalidates the whole pool, so the next
    checkout connects afresh. The recipe is SQLAlchemy's own ("Disconnect Handling —
    Pessimistic", a checkout listener raising DisconnectionError: the pool retries with a new
    connection)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return  # new, or in use moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("a pooled connection did not answer") from exc


class Database:
    """One engine and its session factory; owned by the app, shared by services."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        # Objects that live as long as this database and serve all its users, such as the group
        # committer of text messages (services/messages.py), created on first use.
        self.shared: dict[str, object] = {}

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._factory() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block ends and rolls back on any error."""
        token = _want_immediate.set(True)
        try:
            with self._factory() as session, session.begin():
                yield session
        finally:
            _want_immediate.reset(token)

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """`write()` without the ORM: a Core connection in one transaction (BEGIN IMMEDIATE on
        SQLite), for the hot path of sending a message (services/messages.py)."""
        token = _want_immediate.set(True)
        try:
            with self.engine.begin() as connection:
                yield connection
        finally:
            _want_immediate.reset(token)

    def dispose(self) -> None:
        self.engine.dispose()
