"""Internal notes (issue 6): staff-only, numbered apart, invisible to the user on every path."""

from __future__ import annotations

from typing import Any, Callable

from flask import Flask
from mnemonic import Mnemonic
from sqlalchemy import func, select

from support_api.models import InternalNote, PushOutbox
from tests import socket_contract
from tests.conftest import Api
from tests.pushutil import register


def _events(client: Any, name: str) -> list[dict[str, Any]]:
    return [socket_contract.check_event(e["name"], e["args"][0]) for e in client.get_received() if e["name"] == name]


def _note(api: Api, token: str, sid: str, key: str, body: str = "本人確認書類の再提出待ち", expect: int = 201) -> Any:
    response = api.post(f"/sessions/{sid}/messages", token,
                        json={"client_msg_id": key, "body": body, "visibility": "internal"})
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def _say(api: Api, token: str, sid: str, key: str, body: str) -> dict[str, Any]:
    response = api.post(f"/sessions/{sid}/messages", token, json={"client_msg_id": key, "body": body})
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def _outbox_count(app: Flask) -> int:
    with app.extensions["support_api"].db.read() as db:
        return int(db.execute(select(func.count()).select_from(PushOutbox)).scalar_one())


def test_notes_have_their_own_numbering_and_leave_the_users_seq_gapless(
        api: Api, user: str, operator: str, open_session: Callable[..., dict[str, Any]]) -> None:
    sid = open_session(message={"client_msg_id": "u1", "body": "出金が届きません"})["id"]
    assert api.post(f"/sessions/{sid}/claim", operator).status_code == 200  # seq 2: "Sato joined"

    first = _note(api, operator, sid, "n1")
    assert (first["visibility"], first["seq"], first["after_seq"]) == ("internal", 1, 2)
    assert first["sender"] == {"type": "operator", "id": "op-1", "name": "Sato"}
    assert first["id"].startswith("note_")
    retry = _note(api, operator, sid, "n1", body="different text", expect=200)
    assert retry == first

    reply = _say(api, operator, sid, "o1", "確認いたします")
    second = _note(api, operator, sid, "n2", body="TxIDは未送信")
    answer = _say(api, user, sid, "u2", "ありがとうございます")
    assert (reply["seq"], answer["seq"]) == (3, 4)  # the notes took no place in the user's seq
    assert (second["seq"], second["after_seq"]) == (2, 3)

    user_view = api.get(f"/sessions/{sid}/messages?after_seq=0", user).get_json()
    assert [m["seq"] for m in user_view["items"]] == [1, 2, 3, 4]
    assert user_view["last_seq"] == 4
    assert all(m["visibility"] == "public" for m in user_view["items"])
    staff_view = api.get(f"/sessions/{sid}/messages?after_seq=0", operator).get_json()
    assert [m["seq"] for m in staff_view["items"]] == [1, 2, 3, 4]  # history is the conversation

    notes = api.get(f"/sessions/{sid}/notes", operator).get_json()
    assert [n["seq"] for n in notes["items"]] == [1, 2] and notes["last_note_seq"] == 2
    assert notes["has_more"] is False
    page = api.get(f"/sessions/{sid}/notes?after_seq=1&limit=1", operator).get_json()
    assert [n["body"] for n in page["items"]] == ["TxIDは未送信"] and page["has_more"] is False
    first_page = api.get(f"/sessions/{sid}/notes?after_seq=0&limit=1", operator).get_json()
    assert [n["seq"] for n in first_page["items"]] == [1] and first_page["has_more"] is True


def test_users_can_neither_write_nor_read_notes(api: Api, user: str, operator: str,
                                                open_session: Callable[..., dict[str, Any]]) -> None:
    sid = open_session()["id"]
    _note(api, operator, sid, "n1")
    refused = api.post(f"/sessions/{sid}/messages", user,
                       json={"client_msg_id": "u1", "body": "メモ", "visibility": "internal"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert api.get(f"/sessions/{sid}/notes", user).status_code == 403
    # An operator of another department cannot see the session, so not its notes either.
    trading = api.token("op-t", "operator", name="T", departments=["trading"])
    assert api.get(f"/sessions/{sid}/notes", trading).status_code == 404
    assert api.post(f"/sessions/{sid}/messages", trading,
                    json={"client_msg_id": "t1", "body": "x", "visibility": "internal"}).status_code == 404


def test_a_note_changes_no_unread_count_and_queues_no_push(
        api: Api, app: Flask, user: str, operator: str, open_session: Callable[..., dict[str, Any]]) -> None:
    register(api, user, "user-device-token-0001")
    register(api, operator, "op-device-token-0001")
    sid = open_session(message={"client_msg_id": "u1", "body": "help"})["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    before_user = api.get("/me/unread", user).get_json()
    before_op = api.get("/me/unread", operator).get_json()
    pushes = _outbox_count(app)

    _note(api, operator, sid, "n1")
    _note(api, api.token("admin-1", "admin", name="Boss"), sid, "n2", body="エスカレーション不要")

    assert api.get("/me/unread", user).get_json() == before_user
    assert api.get("/me/unread", operator).get_json() == before_op
    assert api.get(f"/sessions/{sid}", user).get_json()["last_seq"] == 2
    assert _outbox_count(app) == pushes


def test_notes_reach_staff_sockets_only(api: Api, user: str, operator: str,
                                        open_session: Callable[..., dict[str, Any]],
                                        socket_client: Callable[[str | None], Any]) -> None:
    sid = open_session(message={"client_msg_id": "u1", "body": "help"})["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    user_socket = socket_client(user)
    colleague = socket_client(api.token("op-2", "operator", name="Suzuki", departments=["funds"]))
    other_dept = socket_client(api.token("op-3", "operator", name="Kato", departments=["trading"]))
    author = socket_client(operator)
    for client in (user_socket, author, colleague):
        assert client.emit("session:join", {"session_id": sid}, callback=True)["ok"]
    for client in (user_socket, author, colleague, other_dept):
        client.get_received()

    ack = author.emit("message:send", {"session_id": sid, "client_msg_id": "n1", "body": "再提出を案内済み",
                                       "visibility": "internal"}, callback=True)
    socket_contract.check_ack("message:send", ack)
    assert ack["ok"] and ack["duplicate"] is False and ack["message"]["visibility"] == "internal"
    again = author.emit("message:send", {"session_id": sid, "client_msg_id": "n1", "body": "再提出を案内済み",
                                         "visibility": "internal"}, callback=True)
    assert again["duplicate"] is True and again["message"]["id"] == ack["message"]["id"]

    assert [n["id"] for n in _events(colleague, "note:new")] == [ack["message"]["id"]]
    assert user_socket.get_received() == []  # nothing at all: no note:new, no message:new
    assert _events(other_dept, "note:new") == []
    assert _events(author, "note:new") == []  # the author has the ack
    # A user who tries over the socket is refused, and the user's join shows no note.
    refused = user_socket.emit("message:send", {"session_id": sid, "client_msg_id": "x", "body": "hi",
                                                "visibility": "internal"}, callback=True)
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
    joined = user_socket.emit("session:join", {"session_id": sid}, callback=True)
    assert [m["visibility"] for m in joined["messages"]] == ["public", "public"]


def test_notes_are_screened_text_only_and_allowed_after_close(
        app: Flask, api: Api, operator: str, open_session: Callable[..., dict[str, Any]]) -> None:
    sid = open_session()["id"]
    phrase = Mnemonic("english").generate(128)
    refused = api.post(f"/sessions/{sid}/messages", operator,
                       json={"client_msg_id": "n1", "body": f"user pasted: {phrase}", "visibility": "internal"})
    assert refused.status_code == 422 and refused.get_json()["error"]["details"]["kind"] == "mnemonic"
    with_image = api.post(f"/sessions/{sid}/messages", operator,
                          json={"client_msg_id": "n2", "body": "see", "visibility": "internal",
                                "attachment_ids": ["att_0123456789abcdef0123456789ab"]})
    assert with_image.status_code == 422 and "attachment_ids" in with_image.get_json()["error"]["details"]["fields"]
    with app.extensions["support_api"].db.read() as db:
        assert db.execute(select(func.count()).select_from(InternalNote)).scalar_one() == 0

    masked = _note(api, operator, sid, "n3", body="カード 4111 1111 1111 1111 の件")
    assert masked["masked_kinds"] == ["card_number"] and "4111 1111 1111 1111" not in masked["body"]
    assert api.post(f"/sessions/{sid}/close", operator).status_code == 200
    assert _note(api, operator, sid, "n4", body="解決済み")["seq"] == 2
