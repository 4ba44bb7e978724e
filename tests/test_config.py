"""Settings parsing: defaults and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from support_api.config import ConfigError, Settings


def test_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({"SUPPORT_API_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'support_api.db'}"
    assert (settings.async_mode, settings.port, settings.max_message_length) == ("eventlet", 8000, 4096)
    assert settings.auto_migrate and settings.redis_url is None and settings.max_connections == 10000


def test_generated_secret_is_stable(tmp_path: Path) -> None:
    settings = Settings.from_env({"SUPPORT_API_VAR_DIR": str(tmp_path)})
    first = settings.resolved_jwt_secret()
    assert len(first) >= 48 and settings.resolved_jwt_secret() == first
    assert Settings.from_env({"SUPPORT_API_VAR_DIR": str(tmp_path), "SUPPORT_API_JWT_SECRET": "s" * 40}
                             ).resolved_jwt_secret() == "s" * 40


def test_processes_starting_together_agree_on_the_generated_secret(tmp_path: Path) -> None:
    """Two server processes on one shared var/ (deploy/compose.yaml's /data volume) create the
    secret at once: each must read the whole secret the other wrote, never an empty file."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        secrets_seen = pool.map(_resolve_secret, [str(tmp_path)] * 24)
    assert len(set(secrets_seen)) == 1 and len(secrets_seen[0]) >= 48
    assert [p.name for p in tmp_path.iterdir()] == ["jwt_secret"]  # no draft left behind


def _resolve_secret(var_dir: str) -> str:
    return Settings.from_env({"SUPPORT_API_VAR_DIR": var_dir}).resolved_jwt_secret()


@pytest.mark.parametrize(("name", "value"), [
    ("SUPPORT_API_ASYNC_MODE", "asyncio"),
    ("SUPPORT_API_PORT", "eighty"),
    ("SUPPORT_API_MAX_MESSAGE_LENGTH", "0"),
    ("SUPPORT_API_MAX_MESSAGE_LENGTH", "100000"),
    ("SUPPORT_API_AUTO_MIGRATE", "maybe"),
])
def test_bad_values_are_refused(name: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"SUPPORT_API_VAR_DIR": str(tmp_path), name: value})
