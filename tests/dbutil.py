"""Fresh, migrated databases for tests: a temp SQLite file, or a new PostgreSQL database.

PostgreSQL runs when SUPPORT_API_TEST_DATABASE_URL names a server (any database on it: it is
used only to CREATE and DROP the per-test-run databases, so the tests never touch its data).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from support_api.lib import migrate

PG_ENV = "SUPPORT_API_TEST_DATABASE_URL"


def backends() -> list[str]:
    """The backends this run covers: always sqlite; postgresql when configured."""
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


@contextmanager
def fresh_database(backend: str, *, migrated: bool = True) -> Iterator[str]:
    """Yield the URL of an empty database with the schema migrated to head (left without any
    schema with `migrated=False`, for a test that runs the migration itself); drop it after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="support_api_test_") as tmp:
            url = f"sqlite:///{Path(tmp) / 'test.db'}"
            if migrated:
                migrate.upgrade(url)
            yield url
        return
    base = os.environ.get(PG_ENV)
    if not base:
        raise RuntimeError(f"{PG_ENV} is not set")
    name = f"support_api_t_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
