"""Push delivery through the real firebase-admin against the fake FCM server: who is pushed,
what they get, and what happens when FCM fails."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask

from support_api.models import PushStatus
from tests.fake_fcm import ACCESS_TOKEN, FakeFcm
from tests.pushutil import *  # noqa: F403 - fixtures
from tests.pushutil import PROJECT_ID, Rounds, devices, register, rows

PHONE = "user-phone-token-0001"
TABLET = "user-tablet-token-0002"
OP_PHONE = "operator-phone-token-0003"


def _reply(api: Any, operator: str, session_id: str, body: str = "確認いたします。口座番号 1234-5678 ですね") -> dict[str, Any]:
    response = api.post(f"/sessions/{session_id}/messages", operator,
                        json={"client_msg_id": f"r-{uuid.uuid4().hex}", "body": body})
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


@pytest.fixture
def chat(api: Any, user: str, operator: str, open_session: Any) -> dict[str, Any]:
    """A funds chat of `user` that `operator` has claimed."""
    opened = open_session(message={"client_msg_id": "first", "body": "入金が反映されません"})
    assert api.post(f"/sessions/{opened['id']}/claim", operator).status_code == 200
    return opened


def test_operator_reply_to_an_away_user_is_one_localised_push(api: Any, app: Flask, user: str, operator: str,
                                                               chat: dict[str, Any], fcm: FakeFcm,
                                                               worker: Rounds) -> None:
    register(api, user, PHONE, "ios", "ja-JP")
    reply = _reply(api, operator, chat["id"])

    report = worker.drain()

    assert (report.sent, report.skipped, report.failed) == (1, 0, 0)
    assert len(fcm.sends) == 1
    send = fcm.sends[0]
    assert send.path == f"/v1/projects/{PROJECT_ID}/messages:send"
    assert send.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert send.target == PHONE
    # seq 1 is the user's first message, 2 the claim's "joined" (never pushed), 3 the reply.
    assert send.data == {"type": "message", "session_id": chat["id"], "message_id": reply["id"], "seq": "3"}
    assert send.message["notification"] == {"title": "サポートから返信があります",
                                            "body": "アプリを開いてメッセージをご確認ください。"}
    apns = send.message["apns"]
    assert apns["headers"]["apns-collapse-id"] == chat["id"]
    assert apns["payload"]["aps"]["thread-id"] == chat["id"]
    assert apns["payload"]["aps"]["badge"] == 2  # the claim's "joined" and the reply are unread
    # Lock screens are public: nothing of what was written leaves in the payload by default.
    assert "1234" not in json.dumps(send.message, ensure_ascii=False)
    assert [r.status for r in rows(app)] == [PushStatus.SENT.value]
    assert worker.drain().claimed == 0


def test_android_and_english_payload(api: Any, user: str, operator: str, chat: dict[str, Any], fcm: FakeFcm,
                                     worker: Rounds) -> None:
    register(api, user, PHONE, "android", "en-US")
    _reply(api, operator, chat["id"])
    _reply(api, operator, chat["id"], "and one more thing")

    worker.drain()

    assert len(fcm.sends) == 2
    for send in fcm.sends:
        assert send.message["notification"] == {"title": "Support replied",
                                                "body": "Open the app to read the new message."}
        android = send.message["android"]
        assert android["collapse_key"] == chat["id"]
        assert android["notification"]["tag"] == chat["id"]  # one chat stacks as one notification
        assert "apns" not in send.message
    # Both replies are pushed (the claim's "joined" is not), and all three are unread.
    assert sorted(s.message["android"]["notification"]["notification_count"] for s in fcm.sends) == [3, 3]


def test_no_push_while_the_user_is_in_the_session_room(api: Any, app: Flask, user: str, operator: str,
                                                       chat: dict[str, Any], fcm: FakeFcm, worker: Rounds,
                                                       socket_client: Any) -> None:
    register(api, user, PHONE)
    sock = socket_client(user)
    assert sock.emit("session:join", {"session_id": chat["id"]}, callback=True)["ok"] is True

    _reply(api, operator, chat["id"])
    report = worker.drain()

    assert report.skipped == 1 and fcm.sends == []
    assert rows(app)[0].last_error == "connected"

    # Left the chat (still connected elsewhere in the app): pushed again.
    assert sock.emit("session:leave", {"session_id": chat["id"]}, callback=True)["ok"] is True
    _reply(api, operator, chat["id"], "second")
    worker.drain()
    assert len(fcm.sent(PHONE)) == 1

    # Back in the room, then the connection drops: the disconnect counts as leaving.
    assert sock.emit("session:join", {"session_id": chat["id"]}, callback=True)["ok"] is True
    sock.disconnect()
    _reply(api, operator, chat["id"], "third")
    worker.drain()
    assert len(fcm.sent(PHONE)) == 2


def test_a_message_already_read_is_not_pushed(api: Any, app: Flask, user: str, operator: str,
                                              chat: dict[str, Any], fcm: FakeFcm, worker: Rounds) -> None:
    register(api, user, PHONE)
    reply = _reply(api, operator, chat["id"])
    assert api.post(f"/sessions/{chat['id']}/read", user, json={"seq": reply["seq"]}).status_code == 200

    worker.drain()

    assert fcm.sends == []
    assert [(r.status, r.last_error) for r in rows(app)] == [("skipped", "read")]


@pytest.mark.parametrize("error,reason", [("UNREGISTERED", "unregistered"),
                                          ("SENDER_ID_MISMATCH", "sender_id_mismatch")])
def test_a_token_fcm_rejects_is_removed_and_not_tried_again(api: Any, app: Flask, user: str, operator: str,
                                                             chat: dict[str, Any], fcm: FakeFcm, worker: Rounds,
                                                             error: str, reason: str) -> None:
    register(api, user, PHONE)
    register(api, user, TABLET, "android")
    fcm.script(PHONE, error)
    _reply(api, operator, chat["id"])

    report = worker.drain()

    assert (report.sent, report.failed, report.retried) == (1, 1, 0)
    assert [d.token for d in devices(app)] == [TABLET]
    failed = rows(app, status="failed")
    assert [(r.last_error, r.device_id) for r in failed] == [(reason, None)]

    _reply(api, operator, chat["id"], "later")
    worker.drain()
    worker.at(600)
    assert len(fcm.attempts(PHONE)) == 1
    assert len(fcm.sent(TABLET)) == 2


def test_quota_exceeded_twice_then_success_is_delivered_once(api: Any, app: Flask, user: str, operator: str,
                                                             chat: dict[str, Any], fcm: FakeFcm,
                                                             worker: Rounds) -> None:
    register(api, user, PHONE)
    fcm.script(PHONE, "QUOTA_EXCEEDED", "QUOTA_EXCEEDED")
    _reply(api, operator, chat["id"])

    assert worker.at(0).retried == 1
    # Backoff starts near 1 s (±20 %): not due again at 0.5 s.
    assert worker.at(0.5).claimed == 0
    assert worker.at(1.3).retried == 1
    assert worker.at(2.0).claimed == 0  # the second wait is ~2 s
    assert worker.at(4.0).sent == 1
    assert worker.at(100).claimed == 0

    assert len(fcm.attempts(PHONE)) == 3
    assert len(fcm.sent(PHONE)) == 1
    [row] = rows(app)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "quota_exceeded")


def test_retrying_one_device_never_resends_to_another(api: Any, user: str, operator: str, chat: dict[str, Any],
                                                      fcm: FakeFcm, worker: Rounds) -> None:
    register(api, user, PHONE)
    register(api, user, TABLET, "android")
    fcm.script(TABLET, "QUOTA_EXCEEDED", "QUOTA_EXCEEDED")
    _reply(api, operator, chat["id"])

    worker.at(0)
    worker.at(1.5)
    worker.at(5)

    assert len(fcm.attempts(PHONE)) == 1
    assert len(fcm.attempts(TABLET)) == 3
    assert len(fcm.sent(TABLET)) == 1


def test_transient_errors_give_up_within_the_cap(api: Any, app: Flask, user: str, operator: str,
                                                 chat: dict[str, Any], fcm: FakeFcm, worker: Rounds) -> None:
    register(api, user, PHONE)
    fcm.script(PHONE, *["QUOTA_EXCEEDED"] * 100)
    _reply(api, operator, chat["id"])

    for second in range(0, 400, 2):
        worker.at(second)

    [row] = rows(app)
    assert (row.status, row.last_error) == ("failed", "quota_exceeded")
    tries = len(fcm.attempts(PHONE))
    # 1, 2, 4, … 60 s apart, for the 300 s of SUPPORT_API_PUSH_GIVE_UP_SECONDS: about ten tries.
    assert 7 <= tries <= 13, tries
    worker.at(3600)
    assert len(fcm.attempts(PHONE)) == tries


def test_503_is_retried_by_firebase_admin_within_one_send(api: Any, user: str, operator: str, chat: dict[str, Any],
                                                          fcm: FakeFcm, worker: Rounds) -> None:
    register(api, user, PHONE)
    fcm.script(PHONE, 503)
    _reply(api, operator, chat["id"])

    report = worker.at(0)

    assert report.sent == 1
    assert [s.answer for s in fcm.attempts(PHONE)] == [503, "ok"]


def test_operators_of_the_department_hear_of_a_waiting_chat(api: Any, app: Flask, user: str,
                                                            open_session: Any, fcm: FakeFcm, worker: Rounds) -> None:
    funds_op = api.token("op-funds", "operator", name="F", departments=["funds"])
    all_op = api.token("op-all", "operator", name="A")
    security_op = api.token("op-sec", "operator", name="S", departments=["security"])
    admin = api.token("admin-1", "admin", name="Boss")
    register(api, funds_op, "funds-op-token-0001", "android", "en")
    register(api, all_op, "all-op-token-0002", "ios", "ja")
    register(api, security_op, "security-op-token-0003")
    register(api, admin, "admin-token-0004")
    register(api, user, PHONE)

    chat = open_session("funds", message={"client_msg_id": "w1", "body": "help"})
    worker.drain()

    assert sorted(s.target for s in fcm.sends) == ["all-op-token-0002", "funds-op-token-0001"]
    english = fcm.sent("funds-op-token-0001")[0]
    assert english.message["notification"] == {"title": "A chat is waiting",
                                               "body": "A deposits and withdrawals chat is waiting for an operator."}
    assert english.data == {"type": "waiting", "session_id": chat["id"], "message_id": chat["first_message"]["id"],
                            "seq": "1"}
    japanese = fcm.sent("all-op-token-0002")[0]
    assert japanese.message["notification"]["title"] == "対応待ちのチャットがあります"
    assert "入出金" in japanese.message["notification"]["body"]


def test_a_chat_claimed_before_the_push_goes_out_is_not_announced(api: Any, app: Flask, operator: str,
                                                                  open_session: Any, fcm: FakeFcm,
                                                                  worker: Rounds) -> None:
    register(api, operator, OP_PHONE)
    chat = open_session()
    assert api.post(f"/sessions/{chat['id']}/claim", operator).status_code == 200

    worker.drain()

    assert fcm.sends == []
    assert [r.last_error for r in rows(app)] == ["no_longer_waiting"]


def test_the_assigned_operator_hears_of_user_messages_when_away(api: Any, app: Flask, user: str, operator: str,
                                                                chat: dict[str, Any], fcm: FakeFcm, worker: Rounds,
                                                                socket_client: Any) -> None:
    other_op = api.token("op-2", "operator", name="Other", departments=["funds"])
    register(api, operator, OP_PHONE, "android", "ja")
    register(api, other_op, "other-op-token-0009")
    worker.drain()  # nothing queued before the devices existed

    sent = api.post(f"/sessions/{chat['id']}/messages", user, json={"client_msg_id": "u2", "body": "まだですか"})
    assert sent.status_code == 201
    worker.drain()
    [send] = fcm.sends
    assert send.target == OP_PHONE
    assert send.message["notification"]["title"] == "お客様から新しいメッセージ"
    assert send.data["type"] == "message" and send.data["seq"] == "3"  # after the claim's "joined" (2)

    sock = socket_client(operator)
    assert sock.emit("session:join", {"session_id": chat["id"]}, callback=True)["ok"] is True
    api.post(f"/sessions/{chat['id']}/messages", user, json={"client_msg_id": "u3", "body": "もしもし"})
    worker.drain()
    assert len(fcm.sends) == 1
    assert rows(app)[-1].last_error == "connected"


def test_reading_clears_the_notification_on_every_device(api: Any, app: Flask, user: str, operator: str,
                                                         chat: dict[str, Any], fcm: FakeFcm, worker: Rounds) -> None:
    register(api, user, PHONE, "ios")
    register(api, user, TABLET, "android")
    _reply(api, operator, chat["id"])
    worker.drain()
    assert len(fcm.sends) == 2

    assert api.post(f"/sessions/{chat['id']}/read", user, json={"seq": 3}).status_code == 200  # 2 is the "joined"
    worker.drain()

    silent = fcm.sends[2:]
    assert sorted(s.target for s in silent) == sorted([PHONE, TABLET])
    for send in silent:
        assert send.data == {"type": "read", "session_id": chat["id"], "message_id": "", "seq": "3", "unread": "0"}
        assert "notification" not in send.message
    ios = next(s for s in silent if s.target == PHONE).message["apns"]
    assert ios["headers"]["apns-push-type"] == "background"
    assert ios["payload"]["aps"] == {"content-available": 1, "badge": 0}
    android = next(s for s in silent if s.target == TABLET).message["android"]
    assert "notification" not in android

    # Reading again, or reading what was never pushed, sends nothing.
    api.post(f"/sessions/{chat['id']}/read", user, json={"seq": 3})
    worker.drain()
    assert len(fcm.sends) == 4


def test_a_failing_sender_never_fails_the_message_or_the_worker(api: Any, app: Flask, user: str, operator: str,
                                                               chat: dict[str, Any], fcm: FakeFcm,
                                                               worker: Rounds) -> None:
    register(api, user, PHONE)

    class Broken:
        def send(self, notes: list[Any]) -> list[Any]:
            raise RuntimeError("boom")

        def close(self) -> None:
            pass

    real = worker.worker.sender
    worker.worker.sender = Broken()
    _reply(api, operator, chat["id"])  # the message itself is stored and answered 201
    report = worker.at(0)
    assert report.retried == 1
    worker.worker.sender = real
    real_report = worker.at(5)
    assert real_report.sent == 1 and len(fcm.sent(PHONE)) == 1
