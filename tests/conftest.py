"""Fixtures for in-process tests: a migrated database per backend, an app, an API client that
checks every response against openapi.yaml, and token minting."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from support_api.app import create_app, socketio_of
from support_api.config import Settings
from support_api.lib.auth import Role, mint_token
from support_api.models import Base
from tests.contract import check
from tests.dbutil import backends, fresh_database


@pytest.fixture(scope="session", params=backends())
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_database(request.param) as url:
        yield url


def _empty_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    _empty_tables(database_url)
    return Settings.from_env({
        "SUPPORT_API_DATABASE_URL": database_url,
        "SUPPORT_API_JWT_SECRET": secrets.token_urlsafe(32),
        "SUPPORT_API_ASYNC_MODE": "threading",
        "SUPPORT_API_VAR_DIR": str(tmp_path / "var"),
    })


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["support_api"].db.dispose()


class Api:
    """A Flask test client that authenticates as someone and checks every response."""

    def __init__(self, client: FlaskClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def token(self, sub: str, role: str = "user", **claims: Any) -> str:
        return mint_token(self.settings, sub, Role(role), **claims)

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return check(self.client.open(f"/v1{path}", method=method, headers=headers, **kwargs))

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> Any:
        return self.request("POST", path, token, **kwargs)


@pytest.fixture
def api(app: Flask, settings: Settings) -> Api:
    return Api(app.test_client(), settings)


@pytest.fixture
def user(api: Api) -> str:
    return api.token("user-1", name="Hanako", locale="ja")


@pytest.fixture
def other_user(api: Api) -> str:
    return api.token("user-2", name="Taro")


@pytest.fixture
def operator(api: Api) -> str:
    return api.token("op-1", "operator", name="Sato", departments=["funds", "trading"])


@pytest.fixture
def open_session(api: Api, user: str) -> Callable[..., dict[str, Any]]:
    def make(category: str = "funds", token: str | None = None, **body: Any) -> dict[str, Any]:
        response = api.post("/sessions", token or user, json={"category": category, **body})
        assert response.status_code in (200, 201), response.get_json()
        data: dict[str, Any] = response.get_json()
        return data

    return make


@pytest.fixture
def socket_client(app: Flask) -> Callable[[str | None], Any]:
    """A Flask-SocketIO test client (unit level: not a transport; e2e tests use the real server)."""
    created: list[Any] = []

    def make(token: str | None) -> Any:
        client = socketio_of(app).test_client(app, auth={"token": token} if token else None)
        created.append(client)
        return client

    yield make  # type: ignore[misc]
    for client in created:
        if client.is_connected():
            client.disconnect()
