"""A saturated database pool is a 503 `overloaded` with Retry-After, on REST and in socket
acks, not a 500 after a 30 s wait."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from flask import Flask
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tests.conftest import Api


def _saturated(*_: Any, **__: Any) -> Any:
    raise PoolTimeout("QueuePool limit of size 10 overflow 20 reached, connection timed out, timeout 5.00")


def test_pool_timeout_is_503_overloaded(app: Flask, api: Api, user: str, open_session: Callable[..., dict[str, Any]],
                                        socket_client: Callable[[str | None], Any],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sid = open_session()["id"]
    socket = socket_client(user)
    # Every way into the database (the send fast path's connection, ORM reads and writes)
    # times out waiting for the pool, as it does when every connection is busy.
    db = app.extensions["support_api"].db
    for entry in ("write_connection", "write", "read"):
        monkeypatch.setattr(db, entry, _saturated)
    response = api.post(f"/sessions/{sid}/messages", user, json={"client_msg_id": "c1", "body": "hello"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.get_json()["error"] == {"code": "overloaded", "message": "The server is busy; retry shortly",
                                            "details": {"retry_after": 1}}
    ack = socket.emit("message:send", {"session_id": sid, "client_msg_id": "c2", "body": "hello"}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "overloaded"
