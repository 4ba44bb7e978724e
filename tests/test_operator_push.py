"""Operators' status and push notifications: `offline` is off duty, anything else on duty."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.fake_fcm import FakeFcm
from tests.pushutil import *
from tests.pushutil import Rounds, register, rows


def test_offline_operators_get_no_pushes_away_ones_do(api: Any, app: Flask, user: str, open_session: Any,
                                                      fcm: FakeFcm, worker: Rounds) -> None:
    offline = api.token("op-off", "operator", name="Off", departments=["funds"])
    away = api.token("op-away", "operator", name="Away", departments=["funds"])
    never_set = api.token("op-new", "operator", name="New", departments=["funds"])
    register(api, offline, "offline-op-token-0001")
    register(api, away, "away-op-token-0002")
    register(api, never_set, "new-op-token-0003")
    assert api.request("PUT", "/operators/me/status", offline, json={"status": "offline"}).status_code == 200
    assert api.request("PUT", "/operators/me/status", away, json={"status": "away"}).status_code == 200

    chat = open_session("funds", message={"client_msg_id": "w1", "body": "help"})
    assert chat["status"] == "waiting"  # nobody online: nobody assigned
    worker.drain()

    assert sorted(s.target for s in fcm.sends) == ["away-op-token-0002", "new-op-token-0003"]
    skipped = [r for r in rows(app, session_id=chat["id"]) if r.status == "skipped"]
    assert [(r.recipient_id, r.last_error) for r in skipped] == [("op-off", "off_duty")]
