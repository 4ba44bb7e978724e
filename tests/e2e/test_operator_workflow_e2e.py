"""The operator workflow through the real server and real Socket.IO clients: internal notes
reach staff only, a transfer moves the chat and tells the user, one rating per chat, and the
server's own sweep closes a chat that went quiet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import ServerProcess, World, run_server, uid, world_on


def _in(session_id: str) -> Any:
    return lambda data: data.get("session_id", data.get("id")) == session_id


def test_notes_transfer_and_rating_through_the_real_server(world: World) -> None:
    user = world.user("hanako")
    funds = world.operator(["funds"], label="sato")
    colleague = world.operator(["funds"], label="suzuki")
    security = world.operator(["security"], label="tanaka")
    sid = user.open_session("funds", first="出金先アドレスが勝手に変わっています")["id"]
    phone = user.socket(label="phone")
    phone.join(sid)
    funds_sock, colleague_sock, security_sock = funds.socket(), colleague.socket(), security.socket()
    assert security.api.request("PUT", "/v1/operators/me/status", json={"status": "away"}).status_code == 200

    funds.claim(sid)
    phone.wait_for("message:new", lambda m: m["session_id"] == sid and m["body"] == "Sato joined")
    funds_sock.join(sid)
    ack = funds_sock.call("message:send", {"session_id": sid, "client_msg_id": uid("note"), "visibility": "internal",
                                           "body": "アドレス変更履歴を確認中。不正ログインの可能性あり"})
    assert ack["ok"] and ack["message"]["visibility"] == "internal" and ack["message"]["seq"] == 1
    colleague_sock.wait_for("note:new", lambda n: n["id"] == ack["message"]["id"])
    funds.post_message(sid, "確認いたします。少々お待ちください。")
    phone.wait_for("message:new", lambda m: m["body"].startswith("確認いたします"))

    moved = funds.api.post(f"/v1/sessions/{sid}/transfer",
                           json={"department": "security", "note": "セキュリティ担当でログイン履歴の確認をお願いします"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["department"], moved.json()["status"]) == ("security", "waiting")
    phone.wait_for("message:new", lambda m: m["sender"]["type"] == "system" and "security team" in m["body"])
    security_sock.wait_for("note:new", lambda n: n["session_id"] == sid and n["seq"] == 2)
    security_sock.wait_for("session:updated", lambda s: s["id"] == sid and s["department"] == "security")

    security.claim(sid)
    security.post_message(sid, "ログイン履歴を確認しました。パスワードを変更済みです。")
    phone.wait_for("message:new", lambda m: m["body"].startswith("ログイン履歴"))
    assert user.api.post(f"/v1/sessions/{sid}/close").status_code == 200
    rated = user.api.post(f"/v1/sessions/{sid}/rating", json={"score": 5, "comment": "迅速でした"})
    assert rated.status_code == 201 and rated.json()["rating"]["score"] == 5
    security_sock.wait_for("session:updated", lambda s: s["id"] == sid and (s["rating"] or {}).get("score") == 5)
    again = user.api.post(f"/v1/sessions/{sid}/rating", json={"score": 1})
    assert again.status_code == 409 and again.json()["error"]["details"]["reason"] == "already_rated"

    # What the user saw, on every path: gapless public seqs, and no note anywhere.
    history = user.history(sid)
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1))
    assert [m["sender"]["type"] for m in history] == ["user", "system", "operator", "system", "system",
                                                      "operator"]
    everything_the_phone_got = json.dumps(phone.events, ensure_ascii=False)
    assert "note:new" not in everything_the_phone_got and "internal" not in everything_the_phone_got
    assert "不正ログイン" not in everything_the_phone_got and "ログイン履歴の確認を" not in everything_the_phone_got
    assert user.api.get(f"/v1/sessions/{sid}/notes").status_code == 403
    staff_notes = security.api.get(f"/v1/sessions/{sid}/notes").json()
    assert [n["after_seq"] for n in staff_notes["items"]] == [2, 3]


@pytest.fixture(scope="module", params=backends())
def quick_closing_server(request: pytest.FixtureRequest,
                         tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    settings = {"SUPPORT_API_AUTO_CLOSE_SECONDS": "2", "SUPPORT_API_AUTO_CLOSE_INTERVAL_SECONDS": "1"}
    with fresh_database(request.param) as url, \
            run_server(url, tmp_path_factory.mktemp("auto-close"), extra_env=settings) as proc:
        yield proc


def test_the_server_closes_a_quiet_chat_by_itself(quick_closing_server: ServerProcess) -> None:
    with world_on(quick_closing_server) as world:
        user, op = world.user("quiet"), world.operator(["funds"], label="sato")
        answered = user.open_session("funds", first="How do I withdraw?")["id"]
        waiting_on_us = user.open_session("funds", first="Still there?")["id"]
        phone = user.socket(label="phone")
        op.claim(answered)
        op.claim(waiting_on_us)
        op.post_message(answered, "Use Assets > Withdraw.")
        closed = phone.wait_for("session:updated", lambda s: s["id"] == answered and s["status"] == "closed",
                                timeout=15)
        assert closed[-1]["closed_at"] is not None
        last = user.history(answered)[-1]
        assert last["sender"]["type"] == "system" and last["body"].startswith("This chat was closed because")
        # The other chat's last word is the system's "joined" — quiet too, so it closes as well;
        # once the user has spoken last, a chat stays open however long it waits.
        kept = user.open_session("funds", first="One more question")["id"]
        op.claim(kept)
        user.post_message(kept, "Are you there?")
        phone.wait_for("session:updated", lambda s: s["id"] == waiting_on_us and s["status"] == "closed", timeout=15)
        phone.wait_for("session:updated", lambda s: s["id"] == answered and s["status"] == "closed")
        assert user.api.get(f"/v1/sessions/{kept}").json()["status"] == "active"
        reopened = user.api.post(f"/v1/sessions/{answered}/reopen")
        assert reopened.status_code == 200 and reopened.json()["status"] == "waiting"
