"""The sensitive-content guard on every path that carries text, and what it leaves behind:
a refused secret is nowhere — not in the database, the logs, an event or a push payload."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from typing import Any, Callable

import base58
import pytest
from flask import Flask
from mnemonic import Mnemonic
from sqlalchemy import inspect as sa_inspect, text

from tests.conftest import Api
from tests.fake_fcm import FakeFcm
from tests.pushutil import *  # noqa: F403 - fixtures (fake FCM, worker)
from tests.pushutil import Rounds, register

OpenSession = Callable[..., dict[str, Any]]
TX_HASH = "9f" * 32


def english_phrase() -> str:
    return Mnemonic("english").generate(strength=128)


def japanese_phrase() -> str:
    return Mnemonic("japanese").generate(strength=256)


def wif() -> str:
    return base58.b58encode_check(b"\x80" + secrets.token_bytes(32) + b"\x01").decode()


def database_text(app: Flask) -> str:
    """Every value of every table, as one string to search."""
    rt = app.extensions["support_api"]
    chunks: list[str] = []
    with rt.db.engine.connect() as conn:
        for table in sa_inspect(conn).get_table_names():
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                chunks.append(json.dumps([str(value) for value in row], ensure_ascii=False))
    return "\n".join(chunks)


@pytest.fixture
def active(api: Api, operator: str, open_session: OpenSession) -> str:
    sid: str = open_session("funds")["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    return sid


def send(api: Api, token: str, sid: str, body: str, **extra: Any) -> Any:
    return api.post(f"/sessions/{sid}/messages", token, json={"client_msg_id": uuid.uuid4().hex, "body": body, **extra})


def test_recovery_phrase_is_refused_in_the_users_language_and_leaves_no_trace(
        api: Api, app: Flask, user: str, operator: str, active: str, fcm: FakeFcm, worker: Rounds,
        caplog: pytest.LogCaptureFixture) -> None:
    register(api, operator, "operator-device-token-1", "android", locale="en")
    phrase = japanese_phrase()
    with caplog.at_level(logging.DEBUG):
        refused = send(api, user, active, f"サポートの方に言われたので送ります：{phrase}")
        worker.drain()
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "sensitive_content" and error["details"] == {"kind": "mnemonic"}
    assert "リカバリーフレーズ" in error["message"] and "新しいウォレット" in error["message"]
    assert api.get(f"/sessions/{active}", user).get_json()["last_seq"] == 1  # only the claim's "joined"
    words = phrase.split("\u3000")
    stored = database_text(app)
    logged = "\n".join(record.getMessage() + json.dumps(record.__dict__, default=str) for record in caplog.records)
    pushed = json.dumps([send.message for send in fcm.sends], ensure_ascii=False)
    for place in (stored, logged, pushed):
        assert phrase not in place and " ".join(words[:3]) not in place and "\u3000".join(words[:3]) not in place
    assert fcm.sends == []  # nothing was stored, so there was nothing to push


def test_private_key_over_socket_and_english_explanation(api: Api, app: Flask, active: str,
                                                         socket_client: Callable[[str | None], Any]) -> None:
    user_en = api.token("user-1", locale="en-US")
    socket = socket_client(user_en)
    key = wif()
    ack = socket.emit("message:send", {"session_id": active, "client_msg_id": "k1",
                                       "body": f"my private key is {key}"}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "sensitive_content"
    assert ack["error"]["details"]["kind"] == "private_key" and "Support will never need" in ack["error"]["message"]
    assert key not in database_text(app)


def test_first_message_with_a_password_opens_nothing(api: Api, app: Flask, user: str) -> None:
    response = api.post("/sessions", user, json={
        "category": "account", "message": {"client_msg_id": "o1", "body": "ログインできません。パスワードは Sakura2024! です"}})
    assert response.status_code == 422 and response.get_json()["error"]["details"]["kind"] == "password"
    assert api.get("/sessions", user).get_json()["items"] == []
    assert "Sakura2024!" not in database_text(app)


def test_operator_asking_for_a_seed_phrase_is_refused(api: Api, operator: str, active: str) -> None:
    asking = send(api, operator, active, "本人確認のため、シードフレーズを教えてください。")
    assert asking.status_code == 422 and asking.get_json()["error"]["details"]["kind"] == "solicitation"
    warning = send(api, operator, active, "シードフレーズや秘密鍵は絶対に誰にも送らないでください。")
    assert warning.status_code == 201


def test_bare_hex_needs_confirmation_but_a_txid_goes_through(api: Api, user: str, active: str) -> None:
    bare = send(api, user, active, f"これです {TX_HASH}")
    assert bare.status_code == 422
    assert bare.get_json()["error"]["details"] == {"kind": "possible_private_key", "confirm_with": "confirm_sensitive"}
    confirmed = send(api, user, active, f"これです {TX_HASH}", confirm_sensitive=True)
    assert confirmed.status_code == 201 and TX_HASH in confirmed.get_json()["body"]
    named = send(api, user, active, f"出金のトランザクションID: {TX_HASH} がまだ承認されません")
    assert named.status_code == 201 and "masked_kinds" not in named.get_json()
    address = send(api, user, active, "送金先は bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq と 0x52908400098527886E0F7030069857D2E4169EE7 です")
    assert address.status_code == 201


def test_account_numbers_are_stored_masked(api: Api, app: Flask, user: str, operator: str, active: str,
                                           socket_client: Callable[[str | None], Any]) -> None:
    response = send(api, user, active, "カード番号は 4111 1111 1111 1111 で、口座番号は 1234567 です")
    assert response.status_code == 201
    message = response.get_json()
    assert sorted(message["masked_kinds"]) == ["bank_account", "card_number"]
    assert "1111 1111 1111 1111" not in message["body"] and message["body"].count("1111") == 1
    assert "1234567" not in message["body"] and "4567" in message["body"]
    history = api.get(f"/sessions/{active}/messages", operator).get_json()["items"]
    assert history[-1]["body"] == message["body"] and "masked_kinds" not in history[-1]
    socket = socket_client(user)
    ack = socket.emit("message:send", {"session_id": active, "client_msg_id": "mn",
                                       "body": "マイナンバーは 1234 5678 9018 です"}, callback=True)
    assert ack["ok"] and ack["masked_kinds"] == ["my_number"] and "5678" not in ack["message"]["body"]
    stored = database_text(app)
    assert "4111 1111 1111 1111" not in stored and "1234567" not in stored


def test_blocked_attempts_are_counted_for_admins(api: Api, user: str, operator: str, active: str,
                                                 open_session: OpenSession) -> None:
    send(api, user, active, english_phrase())
    send(api, user, active, f"secret key: {'ab' * 32}")
    send(api, operator, active, "Please send me your 12 words so I can check the wallet.")
    foreign = open_session(token=api.token("user-2"))["id"]
    assert send(api, user, foreign, english_phrase()).status_code == 404  # the access gate comes first
    admin = api.token("root", "admin")
    stats = api.get("/admin/guard/blocked", admin).get_json()
    assert stats == {"total": 3, "by_kind": {"mnemonic": 1, "private_key": 1, "solicitation": 1},
                     "by_sender_type": {"user": 2, "operator": 1}}
    assert api.get("/admin/guard/blocked?since=2999-01-01T00:00:00Z", admin).get_json()["total"] == 0
    assert api.get("/admin/guard/blocked", operator).status_code == 403
    entries = api.get("/admin/audit?action=sensitive_content.blocked", admin).get_json()["items"]
    assert {(e["actor"]["id"], e["target"]["id"], e["details"]["kind"]) for e in entries} == {
        ("user-1", active, "mnemonic"), ("user-1", active, "private_key"), ("op-1", active, "solicitation")}


def test_random_client_msg_ids_are_never_refused_or_changed(api: Any, user: str, operator: str,
                                                            open_session: Any) -> None:
    """Found by CI: "…92fa-982177…" in a random hex id read as a 2FA code (one id in ~3,000
    refused), and three all-digit groups of a UUID as a My Number (one in ~12,000 masked, so the
    ack no longer carried the app's own id). A secret in an id is still refused."""
    chat = open_session()
    assert api.post(f"/sessions/{chat['id']}/claim", operator).status_code == 200
    for cid in ("5089a0e1-cc07-438c-92fa-982177e5ea83", "5c588a2c43944b378a813e2fa8261753",
                "2fa8867930c34b3c9f80a2ac3bf267b8", "04abb87c-1737-4896-9022-b724824d5eff"):
        response = api.post(f"/sessions/{chat['id']}/messages", operator, json={"client_msg_id": cid, "body": "ok"})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["client_msg_id"] == cid
    # UUIDs skip the text pipeline (guard.screen_id); anything longer or odder does not.
    for cid in ("e9873d79c6d87dc0fb6a5778633389f4453213303da61f20bd67fc233aa33262",  # a private key as the id
                "e9873d79c6d87dc0fb6a5778633389f4453213303da61f20bd67fc233aa33262-0001"):
        refused = api.post(f"/sessions/{chat['id']}/messages", user, json={"client_msg_id": cid, "body": "hi"})
        assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "sensitive_content", cid
