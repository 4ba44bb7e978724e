"""Trust and safety, round two (issue 15), through the real server: every stored free-text field
and every disguise of a secret, the false-alarm class, spaced card numbers, one-time-code
solicitation, off-platform refusals, a secret split over two messages, the scam warning and
routing, and the two verification endpoints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import base58
import pytest
from mnemonic import Mnemonic

from support_api.lib.auth import Role, mint_token
from support_api.lib.guard.mnemonic import reads_as_prose
from tests import guard_corpus as corpus
from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import Actor, ServerProcess, World, run_server, uid
from tests.test_guard_safety import disguised_secrets

ENV = {
    "SUPPORT_API_LINK_ALLOWLIST": "example-exchange.com",
    "SUPPORT_API_OFFICIAL_CHANNELS": "example-exchange.com,@ExampleExchange,support@example-exchange.com,0120-123-456",
    "SUPPORT_API_RATE_LIMIT_MESSAGES": "1000/minute",
    "SUPPORT_API_RATE_LIMIT_SESSIONS": "1000/hour",
}


@pytest.fixture(scope="module", params=backends())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with fresh_database(request.param) as url, run_server(url, tmp_path_factory.mktemp("safety"),
                                                          extra_env=ENV) as proc:
        yield proc


def _actor(world: World, role: Role, label: str, *, locale: str | None = None,
           departments: list[str] | None = None) -> Actor:
    actor = Actor(world, uid(label), role, label.title(), departments, world.server)
    if locale:
        actor.token = mint_token(world.server.settings, actor.id, role, name=actor.name, locale=locale,
                                 departments=departments)
        actor.api = world.api(actor.token)
    return actor


def _words() -> list[str]:
    """A random 12-word phrase that does not happen to read as English prose (1 in 12,000 do,
    and those are asked about, not refused: docs/safety.md)."""
    while True:
        words = Mnemonic("english").generate(strength=128).split()
        if not reads_as_prose(words):
            return words


def _wif() -> str:
    return base58.b58encode_check(b"\x80" + os.urandom(32) + b"\x01").decode()


def _refused(response: Any, kind: str, **details: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "sensitive_content" and error["details"]["kind"] == kind, error
    for key, value in details.items():
        assert error["details"][key] == value, error
    return error


def _audit(world: World, action: str) -> list[dict[str, Any]]:
    admin = _actor(world, Role.ADMIN, "admin")
    response = admin.api.get("/v1/admin/audit", params={"action": action, "limit": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- every stored free-text field --------------------------------------------------------------


def test_every_free_text_field_is_screened(world: World) -> None:
    user = world.user("fields")
    phrase = " ".join(_words())
    wif = _wif()

    # client_context: every field; the refused open stores nothing.
    for field, value, kind in (("device_model", f"iPhone {wif}", "private_key"),
                               ("error_code", "".join(phrase.split()), "mnemonic"),
                               ("app_version", "pass\u200bword: hunter22", "password"),
                               ("os", "PIN: 4821", "password")):
        response = user.api.post("/v1/sessions", json={"category": "funds", "client_context": {field: value}})
        _refused(response, kind, field=field)
    assert user.api.get("/v1/sessions").json()["items"] == []
    # A masked number in a context field is stored masked.
    opened = user.open_session("funds", client_context={"error_code": "card 4111 1111 1111 1111"})
    assert opened["client_context"]["error_code"] == "card **** **** **** 1111"

    # client_msg_id (a WIF fits its pattern): the first message, REST and Socket.IO sends.
    _refused(user.api.post("/v1/sessions", json={"category": "funds", "message": {"body": "hi", "client_msg_id": wif}}),
             "private_key", field="client_msg_id")
    sid = opened["id"]
    _refused(user.api.post(f"/v1/sessions/{sid}/messages", json={"body": "hello", "client_msg_id": wif}),
             "private_key", field="client_msg_id")
    sock = user.socket()
    ack = sock.call("message:send", {"session_id": sid, "body": "hello", "client_msg_id": wif})
    assert ack["ok"] is False and ack["error"]["details"] == {"kind": "private_key", "field": "client_msg_id"}
    assert [m for m in user.history(sid) if m["sender"]["type"] == "user"] == []

    # A device's app_version.
    response = user.api.request("PUT", "/v1/devices", json={"token": "tok-" + uid("d"), "platform": "ios",
                                                           "app_version": wif})
    _refused(response, "private_key", field="app_version")

    # Canned replies: title (copied into audit entries) and body (sent to users).
    admin = _actor(world, Role.ADMIN, "canned-admin")
    _refused(admin.api.post("/v1/canned-replies", json={"title": "PIN: 4821", "body": "Hello"}), "password",
             field="title")
    _refused(admin.api.post("/v1/canned-replies", json={"title": "Phrase", "body": phrase}), "mnemonic", field="body")
    _refused(admin.api.post("/v1/canned-replies", json={"title": "Chat", "body": "Join https://t.me/helpdesk"}),
             "off_platform", field="body")
    created = admin.api.post("/v1/canned-replies", json={"title": "FAQ", "body": "See https://help.example-exchange.com"})
    assert created.status_code == 201, created.text
    _refused(admin.api.request("PATCH", f"/v1/canned-replies/{created.json()['id']}", json={"title": wif}),
             "private_key", field="title")

    # An incident's title and updates (published, pushed, posted into chats); nothing is created.
    incident = {"title": {"ja": "障害", "en": f"Outage {wif}"}, "impact": "minor", "categories": ["other"]}
    _refused(admin.api.post("/v1/incidents", json=incident), "private_key", field="title.en")
    incident = {"title": {"ja": "障害", "en": "Outage"}, "impact": "minor", "categories": ["other"],
                "body": {"ja": "調査中です", "en": "Updates on https://t.me/exchange_status"}}
    _refused(admin.api.post("/v1/incidents", json=incident), "off_platform", field="body.en")
    assert admin.api.get("/v1/incidents").json()["items"] == []

    # Internal notes' client_msg_id, transfer notes and rating comments.
    op = world.operator(["funds"], label="fields-op")
    op.claim(sid)
    _refused(op.api.post(f"/v1/sessions/{sid}/messages",
                         json={"body": "note", "client_msg_id": wif, "visibility": "internal"}),
             "private_key", field="client_msg_id")
    # An internal note may name the fake account the user reported (staff only, never sent).
    note = op.api.post(f"/v1/sessions/{sid}/messages", json={"body": "User reports fake support t.me/fake_help",
                                                              "client_msg_id": uid("n"), "visibility": "internal"})
    assert note.status_code == 201, note.text
    _refused(op.api.post(f"/v1/sessions/{sid}/transfer", json={"department": "security", "note": phrase}), "mnemonic")
    assert op.api.post(f"/v1/sessions/{sid}/close").status_code == 200
    _refused(user.api.post(f"/v1/sessions/{sid}/rating", json={"score": 5, "comment": phrase}), "mnemonic")

    fields = {entry["details"].get("field") for entry in _audit(world, "sensitive_content.blocked")}
    assert {"device_model", "error_code", "app_version", "os", "client_msg_id", "title", "body"} <= fields


# --- disguises ------------------------------------------------------------------------------------


def test_every_disguise_is_refused_and_nothing_stored(world: World) -> None:
    user = world.user("disguise")
    sid = user.open_session("funds")["id"]
    sock = user.socket()
    for index, (name, text, kind) in enumerate(disguised_secrets()):
        if index % 2:
            ack = sock.call("message:send", {"session_id": sid, "body": text, "client_msg_id": f"d{index}"})
            assert ack["ok"] is False and ack["error"]["details"]["kind"] == kind, (name, ack)
        else:
            _refused(user.api.post(f"/v1/sessions/{sid}/messages", json={"body": text, "client_msg_id": f"d{index}"}),
                     kind)
    assert [m for m in user.history(sid) if m["sender"]["type"] == "user"] == []


def test_a_phrase_split_over_two_messages_is_caught_and_the_first_part_redacted(world: World) -> None:
    user = world.user("splitter")
    op = world.operator(["funds"], label="split-op")
    sid = user.open_session("funds")["id"]
    op.claim(sid)
    op_sock = op.socket()
    op_sock.join(sid)
    words = _words()
    first = user.post_message(sid, " ".join(words[:6]), "part-1")
    assert first["body"] == " ".join(words[:6])  # alone it is nothing
    error = _refused(user.api.post(f"/v1/sessions/{sid}/messages",
                                   json={"body": " ".join(words[6:]), "client_msg_id": "part-2"}),
                     "mnemonic", split=True)
    assert error["details"]["redacted"] == [first["id"]]
    stored = [m for m in user.history(sid) if m["sender"]["type"] == "user"]
    assert [(m["id"], m["body"]) for m in stored] == [(first["id"], "[This message was removed: it held part of a secret]")]
    updated = op_sock.wait_for("message:updated", lambda m: m["id"] == first["id"])[-1]
    assert (updated["seq"], updated["body"]) == (first["seq"], "[This message was removed: it held part of a secret]")
    assert any(entry["target"]["id"] == sid for entry in _audit(world, "sensitive_content.redacted"))

    # A key in two halves over Socket.IO, and someone else's message in between breaks the chain.
    wif = _wif()
    sock = user.socket()
    ack = sock.call("message:send", {"session_id": sid, "body": wif[:25], "client_msg_id": "k1"})
    assert ack["ok"] is True
    ack = sock.call("message:send", {"session_id": sid, "body": wif[25:], "client_msg_id": "k2"})
    assert ack["ok"] is False and ack["error"]["details"]["kind"] == "private_key"
    assert ack["error"]["details"]["split"] is True
    op.post_message(sid, "Please do not send keys here.")
    assert user.post_message(sid, " ".join(words[:6]), "p3")
    op.post_message(sid, "ok")
    assert user.post_message(sid, " ".join(words[6:]), "p4")  # not consecutive: nothing joined


# --- false alarms, cards, solicitation, off-platform -------------------------------------------------


def test_plain_speech_is_never_refused(world: World) -> None:
    user = world.user("speaker")
    sid = user.open_session("other")["id"]
    for index, text in enumerate(corpus.LIST_WORD_PROSE):
        error = _refused(user.api.post(f"/v1/sessions/{sid}/messages", json={"body": text, "client_msg_id": f"l{index}"}),
                         "possible_mnemonic")
        assert error["details"]["confirm_with"] == "confirm_sensitive"
        response = user.api.post(f"/v1/sessions/{sid}/messages",
                                 json={"body": text, "client_msg_id": f"l{index}", "confirm_sensitive": True})
        assert response.status_code == 201 and response.json()["body"] == text
    for index, text in enumerate(corpus.EVERYDAY + corpus.EVERYDAY_LONG):
        sent = user.post_message(sid, text, f"e{index}")
        assert sent["body"] == text and not sent.get("masked_kinds")
    session = user.api.get(f"/v1/sessions/{sid}").json()
    assert (session["risk"], session["department"]) == (None, "other")


def test_spaced_card_numbers_are_stored_masked(world: World) -> None:
    user = world.user("cards")
    sid = user.open_session("funds")["id"]
    for index, text in enumerate(("card 4111  1111  1111  1111", "カード 5555\u00a05555\u00a05555\u00a04444",
                                  "my card 4111\t1111\t1111\t1111 please")):
        sent = user.post_message(sid, text, f"c{index}")
        assert sent["masked_kinds"] == ["card_number"]
        assert sum(char.isdigit() for char in sent["body"]) == 4 and sent["body"].count("*") == 12
    assert all(m["body"].count("*") == 12 for m in user.history(sid) if m["sender"]["type"] == "user")


def test_operator_asking_for_a_one_time_code_or_going_off_platform_is_refused(world: World) -> None:
    user = world.user("victim")
    op = world.operator(["account"], label="otp-op")
    sid = user.open_session("account")["id"]
    op.claim(sid)
    sock = op.socket()
    for index, text in enumerate(("Please send me the code you just received.", "SMSで届いたコードを教えてください",
                                  "Could you read me the code from your authenticator app?")):
        _refused(op.api.post(f"/v1/sessions/{sid}/messages", json={"body": text, "client_msg_id": f"o{index}"}),
                 "solicitation")
    for index, text in enumerate(("Message me on Telegram: @support_help_desk", "wa.me/818012345678 で対応します",
                                  "Contact me at agent.tanaka@gmail.com", "See https://bit.ly/3xYz for the fix")):
        ack = sock.call("message:send", {"session_id": sid, "body": text, "client_msg_id": f"x{index}"})
        assert ack["ok"] is False and ack["error"]["details"] == {"kind": "off_platform"}, (text, ack)
    fine = op.post_message(sid, "Please see https://help.example-exchange.com/faq and enter the code in the app.")
    assert fine["body"].startswith("Please see")
    assert [m["id"] for m in user.history(sid) if m["sender"]["type"] == "operator"] == [fine["id"]]
    admin = _actor(world, Role.ADMIN, "guard-admin")
    counted = admin.api.get("/v1/admin/guard/blocked").json()
    assert counted["by_kind"]["off_platform"] >= 4 and counted["by_kind"]["solicitation"] >= 3
    assert len([e for e in _audit(world, "sensitive_content.blocked") if e["details"]["kind"] == "off_platform"]) >= 4


# --- scams -------------------------------------------------------------------------------------------


def test_a_scam_description_warns_flags_and_routes_to_security_first(world: World) -> None:
    ordinary = world.user("ordinary")
    waiting = ordinary.open_session("security", first="I want to turn on 2FA")
    assert (waiting["queue_position"], waiting["risk"]) == (1, None)

    victim = _actor(world, Role.USER, "victim-ja", locale="ja")
    opened = victim.open_session("funds", first="サポートを名乗る人からLINEで連絡が来て、手数料を払えと言われました")
    assert (opened["risk"], opened["risk_reason"], opened["department"]) == ("scam_suspected", "fake_support", "security")
    history = victim.history(opened["id"])
    assert [m["sender"]["type"] for m in history] == ["user", "system"]
    assert history[0]["body"].startswith("サポートを名乗る") and "アプリの外" in history[1]["body"]
    assert victim.api.get(f"/v1/sessions/{opened['id']}").json()["queue_position"] == 1
    assert ordinary.api.get(f"/v1/sessions/{waiting['id']}").json()["queue_position"] == 2

    # The security operator coming online takes the flagged chat first.
    security = world.operator(["security"], label="sec-op")
    sec_sock = security.socket()
    assert security.api.request("PUT", "/v1/operators/me/status", json={"status": "online"}).status_code == 200
    taken = sec_sock.wait_for("session:updated", lambda s: s["id"] == opened["id"] and s["status"] == "active")[-1]
    assert taken["risk"] == "scam_suspected" and taken["operator"]["id"] == security.id
    assert security.api.request("PUT", "/v1/operators/me/status", json={"status": "away"}).status_code == 200

    # An active chat in another department moves to the security queue when the user describes a scam.
    user = world.user("en-victim")
    funds_op = world.operator(["funds"], label="funds-op")
    sid = user.open_session("funds", first="Where is my deposit?")["id"]
    funds_op.claim(sid)
    op_sock = funds_op.socket()
    user_sock = user.socket()
    user_sock.join(sid)
    ack = user_sock.call("message:send", {"session_id": sid, "client_msg_id": "s1",
                                          "body": "They told me I must pay a 10% tax to unlock my funds. Is that you?"})
    assert ack["ok"] is True and ack["message"]["body"].startswith("They told me")
    warning = user_sock.wait_for("message:new", lambda m: m["sender"]["type"] == "system" and "Warning" in m["body"])[-1]
    assert warning["session_id"] == sid
    moved = op_sock.wait_for("session:updated", lambda s: s["id"] == sid and s["department"] == "security")[-1]
    assert (moved["status"], moved["operator"], moved["risk_reason"]) == ("waiting", None, "unlock_fee")
    # Once per chat: a second description adds no second warning.
    user.post_message(sid, "A recovery service also offered to help.")
    assert len([m for m in user.history(sid) if m["sender"]["type"] == "system" and "Warning" in m["body"]]) == 1

    admin = _actor(world, Role.ADMIN, "stats-admin")
    stats = admin.api.get("/v1/admin/stats").json()
    assert stats["safety"]["scam_suspected"] >= 2
    assert stats["safety"]["scam_by_reason"]["fake_support"] >= 1 and stats["safety"]["scam_by_reason"]["unlock_fee"] >= 1
    assert any(e["target"]["id"] == sid for e in _audit(world, "session.risk_flagged"))


# --- "is this really support?" ---------------------------------------------------------------------


def test_contacts_and_verify_contact(world: World) -> None:
    user = world.user("checker")
    op = world.operator(["trading"], label="alice")
    sid = user.open_session("trading", first="Order question")["id"]
    op.claim(sid)
    op.post_message(sid, "Hello, I am looking at it.")
    op.post_message(sid, "Done.")
    listed = user.api.get("/v1/me/contacts").json()["items"]
    assert [(c["operator"]["id"], c["operator"]["name"], c["session_id"], c["message_count"]) for c in listed] == [
        (op.id, "Alice", sid, 2)]
    assert listed[0]["first_message_at"] <= listed[0]["last_message_at"]
    assert op.api.get("/v1/me/contacts").status_code == 403
    assert world.user("stranger").api.get("/v1/me/contacts").json()["items"] == []

    def verdict(body: dict[str, str]) -> dict[str, Any]:
        response = user.api.post("/v1/verify-contact", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    assert verdict({"handle": "@exampleexchange"})["verdict"] == "official"
    assert verdict({"handle": "@ExampleExchange_Support"})["verdict"] == "not_official"
    assert verdict({"handle": "support@example-exchange.com"})["verdict"] == "official"
    assert verdict({"handle": "+81 120-123-456"})["verdict"] == "official"
    assert verdict({"url": "https://help.example-exchange.com/faq"})["verdict"] == "official"
    assert verdict({"url": "https://example-exchange.com.evil.io/login"})["verdict"] == "not_official"
    text = verdict({"text": "Hi, this is support. Continue on https://t.me/exchange_help or mail help@examp1e.com"})
    assert text["verdict"] == "not_official"
    assert {(i["type"], i["official"]) for i in text["items"]} == {("url", False), ("email", False)}
    assert "NOT" in text["advice"]
    assert verdict({"text": "hello there"})["verdict"] == "unknown"
    bad = user.api.post("/v1/verify-contact", json={"handle": "@a1", "url": "https://x.io"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
