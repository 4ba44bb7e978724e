"""Closing and feedback (issue 6): auto-close after inactivity, one rating per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any, Callable

import pytest
from flask import Flask

from support_api.app import create_app
from support_api.config import Settings
from support_api.models import utcnow
from support_api.services import auto_close
from tests.conftest import Api


def _messages(api: Api, token: str, sid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/sessions/{sid}/messages?after_seq=0", token).get_json()["items"]
    return items


def _say(api: Api, token: str, sid: str, key: str, body: str = "text") -> None:
    response = api.post(f"/sessions/{sid}/messages", token, json={"client_msg_id": key, "body": body})
    assert response.status_code == 201, response.get_json()


def _rate(api: Api, token: str, sid: str, expect: int, **body: Any) -> dict[str, Any]:
    response = api.post(f"/sessions/{sid}/rating", token, json=body)
    assert response.status_code == expect, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def test_a_closed_chat_is_rated_once_and_staff_see_it(
        api: Api, user: str, operator: str, open_session: Callable[..., dict[str, Any]],
        socket_client: Callable[[str | None], Any]) -> None:
    sid = open_session()["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    assert _rate(api, user, sid, 409, score=5)["error"]["details"]["reason"] == "not_closed"
    api.post(f"/sessions/{sid}/close", user)
    op_socket = socket_client(operator)
    op_socket.get_received()

    rated = _rate(api, user, sid, 201, score=4, comment="丁寧でした。\n助かりました")
    assert rated["rating"]["score"] == 4 and rated["rating"]["comment"] == "丁寧でした。\n助かりました"
    assert api.get(f"/sessions/{sid}", operator).get_json()["rating"] == rated["rating"]
    updates = [e["args"][0] for e in op_socket.get_received() if e["name"] == "session:updated"]
    assert updates and updates[-1]["rating"]["score"] == 4

    again = _rate(api, user, sid, 409, score=1)
    assert again["error"]["details"]["reason"] == "already_rated"
    # Reopening keeps history and the rating; closing again does not allow a second one.
    assert api.post(f"/sessions/{sid}/reopen", user).get_json()["rating"]["score"] == 4
    api.post(f"/sessions/{sid}/close", user)
    assert _rate(api, user, sid, 409, score=2)["error"]["details"]["reason"] == "already_rated"


def test_rating_is_the_users_and_validated(api: Api, user: str, other_user: str, operator: str,
                                           open_session: Callable[..., dict[str, Any]]) -> None:
    sid = open_session()["id"]
    api.post(f"/sessions/{sid}/close", user)
    assert _rate(api, operator, sid, 403, score=5)["error"]["code"] == "forbidden"
    assert _rate(api, other_user, sid, 404, score=5)["error"]["code"] == "not_found"
    for bad in ({"score": 0}, {"score": 6}, {"score": "5"}, {"score": 4.5}, {}, {"score": 3, "extra": 1},
                {"score": 3, "comment": "x" * 1001}):
        assert _rate(api, user, sid, 422, **bad)["error"]["code"] == "validation_error", bad
    phrase = "abandon " * 11 + "about"
    refused = _rate(api, user, sid, 422, score=1, comment=phrase)
    assert refused["error"]["code"] == "sensitive_content"
    assert api.get(f"/sessions/{sid}", user).get_json()["rating"] is None  # nothing half-written
    assert _rate(api, user, sid, 201, score=1, comment=None)["rating"] == {
        "score": 1, "comment": None, "rated_at": api.get(f"/sessions/{sid}", user).get_json()["rating"]["rated_at"]}


@pytest.fixture
def quiet_app(settings: Settings) -> Iterator[tuple[Api, Flask]]:
    custom = settings.with_overrides(routing=replace(settings.routing, auto_close_seconds=600))
    app = create_app(custom)
    yield Api(app.test_client(), custom), app
    app.extensions["support_api"].db.dispose()


def test_quiet_chats_close_unless_the_user_spoke_last(quiet_app: tuple[Api, Flask]) -> None:
    api, app = quiet_app
    rt = app.extensions["support_api"]
    user = api.token("user-1", name="Hanako", locale="ja")
    english = api.token("user-2", name="Tom", locale="en")
    operator = api.token("op-1", "operator", name="Sato", departments=["funds"])

    def chat(token: str, key: str) -> str:
        sid: str = api.post("/sessions", token, json={"category": "funds", "message": {
            "client_msg_id": key, "body": "help"}}).get_json()["id"]
        return sid

    answered, unanswered, waiting, english_chat = chat(user, "a"), chat(user, "b"), chat(user, "c"), chat(english, "d")
    for sid in (answered, unanswered, english_chat):
        api.post(f"/sessions/{sid}/claim", operator)
    _say(api, operator, answered, "o1", "着金を確認しました")
    _say(api, operator, english_chat, "o2", "It arrived")
    _say(api, operator, unanswered, "o3", "確認します")
    _say(api, user, unanswered, "u3", "まだですか？")  # the user waits for us: never auto-closed

    assert auto_close.sweep(rt, utcnow() + timedelta(seconds=590)) == []  # not quiet for long enough
    closed = auto_close.sweep(rt, utcnow() + timedelta(seconds=601))
    assert sorted(c.id for c in closed) == sorted([answered, english_chat])
    assert auto_close.sweep(rt, utcnow() + timedelta(seconds=601)) == []  # once

    ja = _messages(api, user, answered)[-1]
    assert ja["sender"]["type"] == "system" and ja["body"].startswith("しばらくご返信がなかったため")
    assert _messages(api, english, english_chat)[-1]["body"].startswith("This chat was closed because")
    assert api.get(f"/sessions/{answered}", user).get_json()["status"] == "closed"
    assert api.get(f"/sessions/{unanswered}", user).get_json()["status"] == "active"
    assert api.get(f"/sessions/{waiting}", user).get_json()["status"] == "waiting"
    # A chat closed for inactivity can be rated and reopened like any closed chat.
    assert api.post(f"/sessions/{answered}/rating", user, json={"score": 3}).status_code == 201
    assert api.post(f"/sessions/{answered}/reopen", user).get_json()["status"] == "waiting"
    admin = api.token("admin-1", "admin")
    entries = api.get("/admin/audit?action=session.auto_closed", admin).get_json()["items"]
    assert sorted(e["target"]["id"] for e in entries) == sorted([answered, english_chat])
    assert {e["actor"]["type"] for e in entries} == {"system"}


def test_auto_close_is_off_at_zero(api: Api, app: Flask, settings: Settings, user: str, operator: str,
                                   open_session: Callable[..., dict[str, Any]]) -> None:
    rt = app.extensions["support_api"]
    assert settings.routing.auto_close_seconds == 3600  # the documented default
    sid = open_session()["id"]
    api.post(f"/sessions/{sid}/claim", operator)  # its last message is the system's "joined"
    later = utcnow() + timedelta(days=30)
    off = replace(rt, settings=settings.with_overrides(routing=replace(settings.routing, auto_close_seconds=0)))
    assert auto_close.sweep(off, later) == []
    assert api.get(f"/sessions/{sid}", user).get_json()["status"] == "active"
    assert [c.id for c in auto_close.sweep(rt, later)] == [sid]  # the same chat with the default on
