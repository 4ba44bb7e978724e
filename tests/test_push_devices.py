"""Registering push tokens, the admin view of the outbox, and the `log` backend (the
embedded default). Settings here are the conftest's: `SUPPORT_API_PUSH_BACKEND=log`."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from flask import Flask

from support_api.config import ConfigError, Settings
from support_api.lib.push_sender import LogSender
from support_api.push_worker import PushWorker
from tests.pushutil import devices, register, rows

TOKEN = "dGVzdC10b2tlbi0wMDAx:APA91b-phone"


def _worker(app: Flask) -> PushWorker:
    rt = app.extensions["support_api"]
    return PushWorker(rt.settings, rt.db, LogSender(), rt.presence)


def test_register_then_refresh(api: Any, app: Flask, user: str) -> None:
    created = register(api, user, TOKEN, "ios", "ja-JP", app_version="5.2.0")
    assert created["token"] == TOKEN and created["platform"] == "ios" and created["locale"] == "ja-JP"
    assert created["app_version"] == "5.2.0" and created["id"].startswith("dev_")

    refreshed = register(api, user, TOKEN, "ios", "en", expect=200, app_version="5.3.0")
    assert refreshed["id"] == created["id"]
    assert (refreshed["locale"], refreshed["app_version"]) == ("en", "5.3.0")
    assert len(devices(app)) == 1


def test_locale_defaults_to_the_token_then_english(api: Any, user: str, other_user: str) -> None:
    assert register(api, user, TOKEN, locale=None)["locale"] == "ja"  # the `user` token says ja
    assert register(api, other_user, "another-token-0002", locale=None)["locale"] == "en"


def test_a_token_moves_to_its_latest_owner(api: Any, app: Flask, user: str, other_user: str, operator: str,
                                           open_session: Any) -> None:
    register(api, user, TOKEN)
    chat = open_session()
    api.post(f"/sessions/{chat['id']}/claim", operator)
    api.post(f"/sessions/{chat['id']}/messages", operator, json={"client_msg_id": "r1", "body": "hello"})
    [queued] = rows(app, status="pending")

    # Another account logs in on the same phone: the token is theirs now (201, a new device).
    moved = register(api, other_user, TOKEN, "android")
    assert [(d.owner_id, d.platform) for d in devices(app)] == [("user-2", "android")]
    assert moved["id"] != queued.device_id

    # What was queued for the previous owner never reaches the new one.
    _worker(app).run_once()
    [row] = rows(app)
    assert (row.status, row.last_error, row.device_id) == ("skipped", "device_removed", None)

    # An operator can take it over too (a shared support tablet).
    register(api, operator, TOKEN, "web")
    [device] = devices(app)
    assert (device.owner_type, device.owner_role, device.departments) == ("operator", "operator", ["funds", "trading"])


def test_delete_removes_only_the_callers_own_token(api: Any, app: Flask, user: str, other_user: str) -> None:
    register(api, user, TOKEN)
    assert api.request("DELETE", f"/devices/{TOKEN}", other_user).status_code == 204
    assert len(devices(app)) == 1
    assert api.request("DELETE", f"/devices/{TOKEN}", user).status_code == 204
    assert devices(app) == []
    # Again, or something that could never be a token: still 204, nothing said.
    assert api.request("DELETE", f"/devices/{TOKEN}", user).status_code == 204
    assert api.request("DELETE", "/devices/x%00y-not-a-token", user).status_code == 204
    # Not a path of the spec once decoded, so through the bare client: still no 404.
    assert api.client.delete("/v1/devices/has%2Fa-slash-token",
                             headers={"Authorization": f"Bearer {user}"}).status_code == 204


@pytest.mark.parametrize("body,field", [
    ({"token": TOKEN, "platform": "blackberry"}, "platform"),
    ({"token": "short", "platform": "ios"}, "token"),
    ({"token": "has/a/slash-token", "platform": "ios"}, "token"),
    ({"token": "x" * 513, "platform": "ios"}, "token"),
    ({"platform": "ios"}, "token"),
    ({"token": TOKEN, "platform": "ios", "locale": "日本語"}, "locale"),
    ({"token": TOKEN, "platform": "ios", "colour": "red"}, "colour"),
])
def test_bad_registrations_are_422(api: Any, user: str, body: dict[str, Any], field: str) -> None:
    response = api.request("PUT", "/devices", user, json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]["fields"]


def test_registration_needs_a_token(api: Any) -> None:
    assert api.request("PUT", "/devices", json={"token": TOKEN, "platform": "ios"}).status_code == 401


def test_log_backend_marks_sent_and_logs_no_text_or_token(api: Any, app: Flask, user: str, operator: str,
                                                          open_session: Any, caplog: pytest.LogCaptureFixture) -> None:
    register(api, user, TOKEN)
    chat = open_session()
    api.post(f"/sessions/{chat['id']}/claim", operator)
    api.post(f"/sessions/{chat['id']}/messages", operator,
             json={"client_msg_id": "r1", "body": "Your account number 998877 is verified"})

    with caplog.at_level(logging.INFO, logger="support_api"):
        report = _worker(app).run_once()

    assert report.sent == 1
    assert [r.status for r in rows(app)] == ["sent"]
    logged = caplog.text
    assert "push (log backend)" in logged and chat["id"] in logged
    assert "998877" not in logged and TOKEN not in logged and TOKEN[-6:] in logged


def test_admin_lists_pending_and_failed_rows(api: Any, app: Flask, user: str, operator: str,
                                             open_session: Any) -> None:
    admin = api.token("admin-1", "admin", name="Boss")
    register(api, user, TOKEN)
    chat = open_session()
    api.post(f"/sessions/{chat['id']}/claim", operator)
    for n in range(3):
        api.post(f"/sessions/{chat['id']}/messages", operator, json={"client_msg_id": f"r{n}", "body": "hi"})

    first = api.get("/admin/push/outbox?limit=2", admin)
    assert first.status_code == 200
    page = first.get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    item = page["items"][0]
    # The replies are seq 2..4 (1 is the claim's "joined", never pushed), newest first.
    assert item["status"] == "pending" and item["kind"] == "message" and item["seq"] == 4
    assert item["recipient"] == {"type": "user", "id": "user-1"}
    assert item["device"]["platform"] == "ios" and item["device"]["token_hint"] == f"…{TOKEN[-6:]}"
    assert TOKEN not in first.get_data(as_text=True)
    rest = api.get(f"/admin/push/outbox?limit=2&cursor={page['next_cursor']}", admin).get_json()
    assert [i["seq"] for i in rest["items"]] == [2] and rest["next_cursor"] is None

    assert api.get("/admin/push/outbox?status=failed", admin).get_json() == {"items": [], "next_cursor": None}
    assert api.get("/admin/push/outbox?status=sent", admin).status_code == 422
    assert api.get("/admin/push/outbox?cursor=bogus", admin).status_code == 422
    forged = base64.urlsafe_b64encode(json.dumps(["2026-11-25T00:00:00+00:00", "psh_\u0000"]).encode()).decode()
    assert api.get(f"/admin/push/outbox?cursor={forged}", admin).status_code == 422
    assert api.get("/admin/push/outbox", operator).status_code == 403
    assert api.get("/admin/push/metrics", user).status_code == 403


def test_admin_metrics_count_outcomes(api: Any, app: Flask, user: str, operator: str, open_session: Any) -> None:
    admin = api.token("admin-1", "admin")
    register(api, user, TOKEN)
    chat = open_session()
    api.post(f"/sessions/{chat['id']}/claim", operator)
    api.post(f"/sessions/{chat['id']}/messages", operator, json={"client_msg_id": "r1", "body": "hi"})
    api.post(f"/sessions/{chat['id']}/messages", operator, json={"client_msg_id": "r2", "body": "hi"})
    api.post(f"/sessions/{chat['id']}/read", user, json={"seq": 2})  # the first reply (after "joined") is read: skipped

    before = api.get("/admin/push/metrics", admin).get_json()
    assert (before["pending"], before["sent"], before["devices"]) == (2, 0, 1)
    _worker(app).run_once()
    after = api.get("/admin/push/metrics", admin).get_json()
    assert (after["sent"], after["skipped"], after["failed"], after["pending"]) == (1, 1, 0, 0)
    assert after["retried"] == 0 and after["retries"] == 0 and after["failed_by_reason"] == {}
    assert after["window_seconds"] == 7 * 86400


def test_push_settings_are_validated() -> None:
    base = {"SUPPORT_API_JWT_SECRET": "x"}
    assert Settings.from_env(base).push.backend == "log"
    assert Settings.from_env(base).push.embedded is True
    with pytest.raises(ConfigError, match="SUPPORT_API_FCM_CREDENTIALS"):
        Settings.from_env({**base, "SUPPORT_API_PUSH_BACKEND": "fcm"})
    with pytest.raises(ConfigError, match="SUPPORT_API_PUSH_BACKEND"):
        Settings.from_env({**base, "SUPPORT_API_PUSH_BACKEND": "apns"})
    with pytest.raises(ConfigError, match="SUPPORT_API_PUSH_PREVIEW"):
        Settings.from_env({**base, "SUPPORT_API_PUSH_PREVIEW": "full"})
    with pytest.raises(ConfigError, match="SUPPORT_API_FCM_ENDPOINT"):
        Settings.from_env({**base, "SUPPORT_API_FCM_ENDPOINT": "fcm.example"})
    with pytest.raises(ConfigError, match="SUPPORT_API_PUSH_DELAY_SECONDS"):
        Settings.from_env({**base, "SUPPORT_API_PUSH_DELAY_SECONDS": "7200"})
    with pytest.raises(ConfigError):
        from support_api.lib.push_sender import FcmSender

        FcmSender(Settings.from_env({**base, "SUPPORT_API_PUSH_BACKEND": "fcm",
                                     "SUPPORT_API_FCM_CREDENTIALS": "/nonexistent/sa.json"}).push)
