"""`SUPPORT_API_PUSH_DELAY_SECONDS` (a message read within it goes unpushed) and
`SUPPORT_API_PUSH_PREVIEW=truncated`, through the real firebase-admin and the fake FCM."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from support_api.config import Settings
from support_api.lib.push_text import PREVIEW_CHARS
from tests.fake_fcm import FakeFcm
from tests.pushutil import *  # noqa: F403 - fixtures
from tests.pushutil import Rounds, push_settings, register, rows

DELAY = 30
PHONE = "user-phone-token-0001"


@pytest.fixture
def settings(settings: Settings, fcm: FakeFcm, tmp_path: Path) -> Settings:  # noqa: F811 - this module's own
    return push_settings(settings, fcm, tmp_path, delay_seconds=DELAY, preview="truncated")


@pytest.fixture
def chat(api: Any, user: str, operator: str, open_session: Any) -> dict[str, Any]:
    register(api, user, PHONE, "ios", "en")
    opened = open_session(message={"client_msg_id": "first", "body": "My deposit is missing"})
    assert api.post(f"/sessions/{opened['id']}/claim", operator).status_code == 200
    return opened


def _reply(api: Any, operator: str, session_id: str, body: str, **extra: Any) -> dict[str, Any]:
    response = api.post(f"/sessions/{session_id}/messages", operator,
                        json={"client_msg_id": uuid.uuid4().hex, "body": body, **extra})
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def test_a_message_read_within_the_delay_is_not_pushed(api: Any, app: Flask, user: str, operator: str,
                                                       chat: dict[str, Any], fcm: FakeFcm, worker: Rounds) -> None:
    reply = _reply(api, operator, chat["id"], "Checking now")
    assert worker.at(0).claimed == 0
    assert worker.at(DELAY / 2).claimed == 0  # not due yet

    api.post(f"/sessions/{chat['id']}/read", user, json={"seq": reply["seq"]})
    report = worker.at(DELAY + 1)

    assert report.skipped == 1 and fcm.sends == []
    assert [(r.status, r.last_error) for r in rows(app)] == [("skipped", "read")]


def test_an_unread_message_is_pushed_once_the_delay_is_over(api: Any, operator: str, chat: dict[str, Any],
                                                            fcm: FakeFcm, worker: Rounds) -> None:
    _reply(api, operator, chat["id"], "Checking now")
    assert worker.at(DELAY - 5).claimed == 0
    assert worker.at(DELAY + 1).sent == 1
    assert len(fcm.sent(PHONE)) == 1


def test_truncated_preview_shows_the_start_of_the_message(api: Any, operator: str, chat: dict[str, Any],
                                                          fcm: FakeFcm, worker: Rounds) -> None:
    long_text = "We found your deposit.\n\nIt will   arrive " + "soon " * 40
    _reply(api, operator, chat["id"], long_text)
    _reply(api, operator, chat["id"], "Short one")
    worker.at(DELAY + 1)

    bodies = sorted((s.message["notification"]["body"] for s in fcm.sends), key=len)
    assert bodies[0] == "Short one"
    assert bodies[1].startswith("We found your deposit. It will arrive soon")
    assert len(bodies[1]) == PREVIEW_CHARS and bodies[1].endswith("…")
    assert all(s.message["notification"]["title"] == "Support replied" for s in fcm.sends)
