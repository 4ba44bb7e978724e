"""Transfer / escalation (issue 6): to a department's queue or to a named operator."""

from __future__ import annotations

from typing import Any, Callable

from flask import Flask

from support_api.models import PushKind
from tests import socket_contract
from tests.conftest import Api
from tests.pushutil import register, rows


def _status(api: Api, token: str, status: str) -> None:
    assert api.request("PUT", "/operators/me/status", token, json={"status": status}).status_code == 200


def _transfer(api: Api, token: str, sid: str, expect: int = 200, **body: Any) -> dict[str, Any]:
    response = api.post(f"/sessions/{sid}/transfer", token, json=body)
    assert response.status_code == expect, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def _messages(api: Api, token: str, sid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/sessions/{sid}/messages?after_seq=0", token).get_json()["items"]
    return items


def test_transfer_to_a_department_requeues_tells_the_user_and_keeps_the_note_internal(
        api: Api, app: Flask, user: str, operator: str, open_session: Callable[..., dict[str, Any]],
        socket_client: Callable[[str | None], Any]) -> None:
    security = api.token("op-sec", "operator", name="Tanaka", departments=["security"])
    register(api, security, "security-op-device-01")
    sid = open_session("funds", message={"client_msg_id": "u1", "body": "出金先が変わっています"})["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    user_socket, security_socket = socket_client(user), socket_client(security)
    assert user_socket.emit("session:join", {"session_id": sid}, callback=True)["ok"]
    user_socket.get_received()
    security_socket.get_received()

    moved = _transfer(api, operator, sid, department="security", note="不正ログインの疑い。2FA再設定済みか確認を。")
    assert moved["department"] == "security" and moved["category"] == "funds"
    assert (moved["status"], moved["operator"], moved["queue_position"]) == ("waiting", None, 1)

    # The user: a localised system message (the chat's locale is ja) and no note anywhere.
    said = _messages(api, user, sid)
    assert [m["sender"]["type"] for m in said] == ["user", "system", "system"]
    assert said[-1]["body"].startswith("セキュリティの担当へお引き継ぎしました")
    user_events = user_socket.get_received()
    assert {e["name"] for e in user_events} <= {"message:new", "session:updated", "queue:updated"}
    assert "不正ログイン" not in str(user_events)
    # Security staff: the session, the note (by the transferring operator) and a push.
    assert api.get(f"/sessions/{sid}", security).status_code == 200
    notes = api.get(f"/sessions/{sid}/notes", security).get_json()["items"]
    assert [(n["sender"]["id"], n["after_seq"]) for n in notes] == [("op-1", 2)]
    heard = [e for e in security_socket.get_received() if e["name"] in ("note:new", "session:updated")]
    for event in heard:
        socket_contract.check_event(event["name"], event["args"][0])
    assert {e["name"] for e in heard} == {"note:new", "session:updated"}
    waiting = rows(app, session_id=sid, kind=PushKind.WAITING.value, recipient_id="op-sec")
    assert len(waiting) == 1
    # The funds operator no longer sees it (their departments), and their load dropped.
    assert api.get(f"/sessions/{sid}", operator).status_code == 404
    audit = api.get("/admin/audit?action=session.transferred", api.token("admin-1", "admin")).get_json()["items"]
    assert audit[0]["details"] == {"from_department": "funds", "to_department": "security",
                                   "from_operator": "op-1", "to_operator": None}


def test_transfer_to_a_department_with_someone_online_assigns_at_once(
        api: Api, user: str, operator: str, open_session: Callable[..., dict[str, Any]]) -> None:
    security = api.token("op-sec", "operator", name="Tanaka", departments=["security"])
    _status(api, security, "online")
    sid = open_session("funds")["id"]
    moved = _transfer(api, operator, sid, department="security")  # a waiting chat: any funds operator may
    assert moved["status"] == "active" and moved["operator"] == {"id": "op-sec", "name": "Tanaka"}
    assert [m["body"] for m in _messages(api, user, sid)][-1] == "Tanaka が対応します"


def test_transfer_to_an_operator_assigns_them_whatever_their_load(
        api: Api, app: Flask, user: str, operator: str, open_session: Callable[..., dict[str, Any]]) -> None:
    senior = api.token("op-senior", "operator", name="Yamada", departments=["funds"])
    _status(api, senior, "away")
    register(api, senior, "senior-device-token-1")
    sid = open_session("funds", message={"client_msg_id": "u1", "body": "help"})["id"]
    api.post(f"/sessions/{sid}/claim", operator)

    moved = _transfer(api, operator, sid, operator_id="op-senior", note="上席対応をお願いします")
    assert moved["status"] == "active" and moved["operator"] == {"id": "op-senior", "name": "Yamada"}
    assert [m["body"] for m in _messages(api, user, sid)][-1] == "Yamada が対応します"
    pushed = rows(app, session_id=sid, kind=PushKind.TRANSFER.value)
    assert [r.recipient_id for r in pushed] == ["op-senior"]
    # Now the senior holds it: the first operator may no longer reply.
    reply = api.post(f"/sessions/{sid}/messages", operator, json={"client_msg_id": "o9", "body": "hi"})
    assert reply.status_code == 409 and reply.get_json()["error"]["details"]["reason"] == "not_assigned"


def test_transfer_refusals(api: Api, user: str, operator: str,
                          open_session: Callable[..., dict[str, Any]]) -> None:
    sid = open_session("funds")["id"]
    colleague = api.token("op-2", "operator", name="Suzuki", departments=["funds"])
    offline = api.token("op-off", "operator", name="Off", departments=["funds"])
    trading = api.token("op-tr", "operator", name="Tr", departments=["trading"])
    _status(api, offline, "offline")
    _status(api, trading, "online")

    def refused(token: str, status: int, reason: str | None = None, **body: Any) -> None:
        error = _transfer(api, token, sid, expect=status, **body)["error"]
        if reason:
            assert error["details"]["reason"] == reason, error

    refused(user, 403, department="security")
    refused(operator, 409, "no_change", department="funds")
    refused(operator, 422, None)  # no destination
    refused(operator, 422, None, department="nowhere")
    refused(operator, 422, None, operator_id="op-never-seen")
    refused(operator, 409, "operator_unavailable", operator_id="op-off")
    refused(operator, 409, "operator_not_in_department", operator_id="op-tr")
    _status(api, operator, "away")
    api.post(f"/sessions/{sid}/claim", operator)
    refused(colleague, 409, "not_assigned", department="security")  # someone else holds it
    refused(operator, 409, "no_change", operator_id="op-1")
    # An admin may always move it; a closed session may not be moved.
    assert _transfer(api, api.token("admin-1", "admin"), sid, operator_id="op-tr", department="trading")["department"] \
        == "trading"
    api.post(f"/sessions/{sid}/close", user)
    refused(api.token("admin-1", "admin"), 409, "session_closed", department="security")


def test_a_chat_passed_on_does_not_come_straight_back(api: Api, user: str,
                                                      open_session: Callable[..., dict[str, Any]]) -> None:
    generalist = api.token("op-all", "operator", name="Ito")  # serves every department
    _status(api, generalist, "online")
    sid = open_session("funds")["id"]
    assert api.get(f"/sessions/{sid}", user).get_json()["operator"]["id"] == "op-all"  # auto-assigned

    moved = _transfer(api, generalist, sid, department="security")
    assert (moved["status"], moved["operator"]) == ("waiting", None)  # not handed back to Ito
    security = api.token("op-sec", "operator", name="Tanaka", departments=["security"])
    _status(api, security, "online")
    assert api.get(f"/sessions/{sid}", user).get_json()["operator"] == {"id": "op-sec", "name": "Tanaka"}
