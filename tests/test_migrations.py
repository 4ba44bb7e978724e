"""The migrated schema is exactly what the models declare, on every backend."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from support_api.lib.migrate import alembic_config
from support_api.models import Base
from tests.dbutil import backends, fresh_database

import pytest


@pytest.mark.parametrize("backend", backends())
def test_upgrade_matches_models_and_downgrade_undoes_it(backend: str) -> None:
    with fresh_database(backend) as url:
        engine = create_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        command.downgrade(alembic_config(url), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(alembic_config(url), "head")
        assert {"chat_sessions", "messages", "read_states"} <= set(inspect(engine).get_table_names())
        engine.dispose()
