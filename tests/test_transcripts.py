"""Transcripts: public messages for the user, notes interleaved for staff, attachments,
ja/en text, locale choice, bounds, and bad input."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from flask import Flask
from sqlalchemy import event, select

from support_api.lib.transcript_text import choose_language
from support_api.models import AuditEntry, ChatSession, InternalNote, utcnow
from support_api.services import transcripts
from tests import images
from tests.conftest import Api

OpenSession = Callable[..., dict[str, Any]]

NOTE_BODIES = ("NOTE-first", "NOTE-after-user", "NOTE-after-reply-a", "NOTE-after-reply-b", "NOTE-at-the-end")


@dataclass
class Conversation:
    sid: str
    # Every entry as it was written, ("public", seq) or ("internal", note seq): the order staff
    # must get back, known without the rule the service applies.
    written: list[tuple[str, int]]
    # What the claim itself wrote (the "Sato が対応します" system message, when claims add one).
    joined: list[dict[str, Any]]

    @property
    def public(self) -> list[tuple[str, int]]:
        return [entry for entry in self.written if entry[0] == "public"]


def send(api: Api, token: str, sid: str, body: str, cid: str, **extra: Any) -> dict[str, Any]:
    response = api.post(f"/sessions/{sid}/messages", token, json={"client_msg_id": cid, "body": body, **extra})
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def add_note(app: Flask, sid: str, body: str, author: tuple[str, str] | None = ("op-1", "Sato")) -> int:
    """A note as the notes service stores one: next note seq under the session's lock, after
    the public message that is last now."""
    with app.extensions["support_api"].db.write() as db:
        chat = db.execute(select(ChatSession).where(ChatSession.id == sid).with_for_update()).scalar_one()
        chat.last_note_seq += 1
        db.add(InternalNote(session_id=sid, seq=chat.last_note_seq, after_seq=chat.last_seq,
                            author_id=author[0] if author else None, author_name=author[1] if author else None,
                            body=body, created_at=utcnow()))
        return chat.last_note_seq


def transcript(api: Api, token: str, sid: str, query: str = "", **kwargs: Any) -> Any:
    """The JSON transcript, or with `format=text` (given once, alone of its kind) the text file at
    its own path; anything else goes to the JSON path as written."""
    parts = [part for part in query.split("&") if part]
    formats = [part for part in parts if part.startswith("format=")]
    path = f"/sessions/{sid}/transcript"
    if formats == ["format=text"]:
        path, parts = path + "/text", [part for part in parts if part != "format=text"]
    return api.get(path + ("?" + "&".join(parts) if parts else ""), token, **kwargs)


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL the app sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = app.extensions["support_api"].db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def admin(api: Api) -> str:
    return api.token("admin-1", "admin", name="Boss")


@pytest.fixture
def conversation(api: Api, app: Flask, user: str, operator: str, open_session: OpenSession) -> Conversation:
    """A note, user, a note, operator (two lines), two notes, user, a note."""
    sid: str = open_session("funds")["id"]
    assert api.post(f"/sessions/{sid}/claim", operator).status_code == 200
    joined = api.get(f"/sessions/{sid}/messages", operator).get_json()["items"]
    written = [("public", m["seq"]) for m in joined]

    def note(body: str, author: tuple[str, str] | None = ("op-1", "Sato")) -> None:
        written.append(("internal", add_note(app, sid, body, author)))

    def message(token: str, body: str, cid: str) -> None:
        written.append(("public", send(api, token, sid, body, cid)["seq"]))

    note(NOTE_BODIES[0], author=None)
    message(user, "入金が反映されません", "u1")
    note(NOTE_BODIES[1])
    message(operator, "確認いたします。\n少々お待ちください。", "o1")
    note(NOTE_BODIES[2])
    note(NOTE_BODIES[3], author=("op-2", "Suzuki"))
    message(user, "ありがとうございます", "u2")
    note(NOTE_BODIES[4])
    return Conversation(sid, written, joined)


def _order(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(item["visibility"], item["seq"]) for item in items]


def test_user_gets_public_messages_only(api: Api, user: str, conversation: Conversation) -> None:
    response = transcript(api, user, conversation.sid)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Content-Disposition" not in response.headers
    data = response.get_json()
    assert _order(data["items"]) == conversation.public
    assert data["includes_internal_notes"] is False and data["truncated"] is False
    assert [m["body"] for m in data["items"][len(conversation.joined):]] == [
        "入金が反映されません", "確認いたします。\n少々お待ちください。", "ありがとうございます"]
    assert data["session"]["last_seq"] == len(conversation.public)
    assert data["session"]["user"] == {"id": "user-1", "name": "Hanako"}
    assert data["session"]["operator"] == {"id": "op-1", "name": "Sato"}
    text = transcript(api, user, conversation.sid, "format=text").get_data(as_text=True)
    assert "ありがとうございます" in text
    for raw in (response.get_data(as_text=True), text):
        assert "NOTE-" not in raw and '"internal"' not in raw and "Internal note" not in raw and "社内メモ" not in raw


def test_user_path_never_queries_internal_notes(api: Api, app: Flask, user: str, operator: str,
                                                conversation: Conversation) -> None:
    for fmt in ("json", "text"):
        with statements(app) as seen:
            assert transcript(api, user, conversation.sid, f"format={fmt}").status_code == 200
        assert seen and not any("internal_notes" in s for s in seen), fmt
    # The capture does see the table when it is read: staff transcripts do.
    with statements(app) as seen:
        assert transcript(api, operator, conversation.sid).status_code == 200
    assert any("internal_notes" in s for s in seen)


@pytest.mark.parametrize("who", ["operator", "admin", "colleague"])
def test_staff_get_notes_in_conversation_order(api: Api, request: pytest.FixtureRequest,
                                               conversation: Conversation, who: str) -> None:
    token = (api.token("op-9", "operator", departments=["funds"]) if who == "colleague"
             else request.getfixturevalue(who))
    data = transcript(api, token, conversation.sid).get_json()
    assert data["includes_internal_notes"] is True and data["truncated"] is False
    assert _order(data["items"]) == conversation.written
    notes = [item for item in data["items"] if item["visibility"] == "internal"]
    assert [n["body"] for n in notes] == list(NOTE_BODIES)
    # Written after: nothing yet (or the join message), the user, the reply (twice), the user.
    start = len(conversation.joined)
    assert [n["after_seq"] for n in notes] == [start, start + 1, start + 2, start + 2, start + 3]
    assert notes[0]["sender"] == {"type": "system", "id": None, "name": None}
    assert notes[3]["sender"] == {"type": "operator", "id": "op-2", "name": "Suzuki"}


def test_note_before_the_first_message(api: Api, app: Flask, user: str, operator: str,
                                       open_session: OpenSession) -> None:
    sid = open_session("funds")["id"]  # waiting, no message yet
    add_note(app, sid, "NOTE-zero")
    send(api, user, sid, "hello", "u1")
    add_note(app, sid, "NOTE-one")
    data = transcript(api, operator, sid).get_json()
    assert [(i["visibility"], i["seq"], i.get("after_seq")) for i in data["items"]] == [
        ("internal", 1, 0), ("public", 1, None), ("internal", 2, 1)]
    assert _order(transcript(api, user, sid).get_json()["items"]) == [("public", 1)]


def test_staff_text_marks_notes_in_place(api: Api, operator: str, conversation: Conversation) -> None:
    sid = conversation.sid
    response = transcript(api, operator, sid, "format=text&locale=ja")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="transcript-{sid}.txt"'
    assert response.headers["Cache-Control"] == "private, no-store"
    lines = response.get_data(as_text=True).splitlines()
    assert "社内メモを含みます（社外秘：お客様に渡さないでください）。" in lines
    assert "担当部署: 入出金" in lines
    entries = [re.sub(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] ", "", line) for line in lines if line.startswith("[")]
    assert entries == [f"システム: {m['body']}" for m in conversation.joined] + [
        "[社内メモ] システム: NOTE-first",
        "ユーザー: 入金が反映されません",
        "[社内メモ] オペレーター Sato: NOTE-after-user",
        "オペレーター Sato: 確認いたします。",
        "[社内メモ] オペレーター Sato: NOTE-after-reply-a",
        "[社内メモ] オペレーター Suzuki: NOTE-after-reply-b",
        "ユーザー: ありがとうございます",
        "[社内メモ] オペレーター Sato: NOTE-at-the-end",
    ]
    # A body's further lines stay with their entry, indented.
    reply = next(i for i, line in enumerate(lines) if line.endswith("] オペレーター Sato: 確認いたします。"))
    assert lines[reply + 1] == "    少々お待ちください。"
    english = transcript(api, operator, sid, "format=text&locale=en").get_data(as_text=True)
    assert "] [Internal note] System: NOTE-first\n" in english
    assert "] [Internal note] Operator Suzuki: NOTE-after-reply-b\n" in english
    assert "] Operator Sato: 確認いたします。\n" in english and "] User: ありがとうございます\n" in english
    assert "\nIncludes internal notes (staff only: do not give this to the customer).\n" in english


def upload_png(api: Api, token: str, width: int = 64, height: int = 48) -> dict[str, Any]:
    response = api.post("/attachments", token, content_type="multipart/form-data",
                        data={"file": (io.BytesIO(images.png(width, height)), "s.png", "image/png")})
    assert response.status_code == 201
    data: dict[str, Any] = response.get_json()
    return data


def test_attachments_are_listed_without_links(api: Api, user: str, operator: str,
                                              conversation: Conversation) -> None:
    sid = conversation.sid
    uploaded = upload_png(api, user)
    seq = send(api, user, sid, "", "u3", attachment_ids=[uploaded["id"]])["seq"]
    for token in (user, operator):
        # Last for staff too: the last note was written before it.
        message = transcript(api, token, sid).get_json()["items"][-1]
        assert message["seq"] == seq and message["body"] == ""
        assert [(a["id"], a["sha256"]) for a in message["attachments"]] == [(uploaded["id"], uploaded["sha256"])]
        assert message["attachments"][0]["url"].startswith(f"/v1/attachments/{uploaded['id']}?expires=")
    text = transcript(api, user, sid, "format=text&locale=ja").get_data(as_text=True)
    size = f"{uploaded['size']:,}"
    assert re.search(rf"\] ユーザー:\n  \[添付\] image/png 64x48 {size} バイト {uploaded['id']}\n$", text)
    english = transcript(api, user, sid, "format=text&locale=en").get_data(as_text=True)
    assert english.endswith(f"] User:\n  [Attachment] image/png 64x48 {size} bytes {uploaded['id']}\n")
    assert "sig=" not in text + english and "/v1/" not in text + english


@pytest.fixture
def active_session(api: Api, operator: str, open_session: OpenSession) -> str:
    sid: str = open_session("funds")["id"]
    assert api.post(f"/sessions/{sid}/claim", operator).status_code == 200
    return sid


def test_attachments_load_without_a_query_per_message(api: Api, app: Flask, user: str, active_session: str) -> None:
    def count_queries() -> int:
        with statements(app) as seen:
            assert transcript(api, user, active_session).status_code == 200
        return len(seen)

    def with_images(cid: str, count: int) -> None:
        ids = [upload_png(api, user)["id"] for _ in range(count)]
        send(api, user, active_session, cid, cid, attachment_ids=ids)

    with_images("one", 1)
    few = count_queries()
    for i in range(5):
        with_images(f"more-{i}", 2)
    data = transcript(api, user, active_session).get_json()
    assert [len(m["attachments"]) for m in data["items"] if m["sender"]["type"] == "user"] == [1] + [2] * 5
    assert count_queries() == few


def test_japanese_and_english_headers(api: Api, user: str, conversation: Conversation) -> None:
    sid = conversation.sid
    # The user's token says ja.
    ja = transcript(api, user, sid, "format=text").get_data(as_text=True)
    lines = ja.splitlines()
    assert lines[0] == "サポートチャット記録"
    assert f"セッションID: {sid}" in lines and "カテゴリ: 入出金" in lines
    assert "状態: 対応中" in lines and "ユーザー: Hanako (user-1)" in lines
    assert "担当オペレーター: Sato (op-1)" in lines and "終了日時: 未終了" in lines
    assert "時刻はすべて協定世界時（UTC）です。" in lines
    # Staff-only lines never reach the user.
    assert not any(line.startswith("担当部署") for line in lines)
    assert re.search(r"^開始日時: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", ja, re.M)
    assert "] ユーザー: 入金が反映されません\n" in ja and "] オペレーター Sato: 確認いたします。\n" in ja

    en = transcript(api, user, sid, "format=text&locale=en").get_data(as_text=True)
    lines = en.splitlines()
    assert lines[0] == "Support chat transcript"
    assert f"Session ID: {sid}" in lines and "Category: Deposits and withdrawals" in lines
    assert "Status: Active" in lines and "User: Hanako (user-1)" in lines
    assert "Operator: Sato (op-1)" in lines and "Closed: not closed" in lines and "All times are in UTC." in lines
    assert "] User: 入金が反映されません\n" in en and "] Operator Sato: 確認いたします。\n" in en
    assert transcript(api, user, sid, "locale=en").get_json()["locale"] == "en"
    assert transcript(api, user, sid).get_json()["locale"] == "ja"


def test_opened_time_matches_the_session(api: Api, user: str, conversation: Conversation) -> None:
    data = transcript(api, user, conversation.sid).get_json()
    opened = data["session"]["created_at"]
    assert opened == api.get(f"/sessions/{conversation.sid}", user).get_json()["created_at"]
    text = transcript(api, user, conversation.sid, "format=text&locale=en").get_data(as_text=True)
    assert f"\nOpened: {opened[:10]} {opened[11:19]} UTC\n" in text
    first = data["items"][0]
    assert f"\n[{first['created_at'][:10]} {first['created_at'][11:19]}] " in text


def test_language_choice(api: Api, open_session: OpenSession) -> None:
    english_user = api.token("user-en", name="Ann", locale="en-US")
    sid = open_session("security", token=english_user)["id"]

    def first_line(token: str, query: str = "", headers: dict[str, str] | None = None) -> str:
        response = transcript(api, token, sid, "format=text" + query, headers=headers or {})
        return str(response.get_data(as_text=True).splitlines()[0])

    admin_no_locale = api.token("admin-1", "admin")
    french_admin = api.token("admin-2", "admin", locale="fr-FR")
    assert first_line(english_user) == "Support chat transcript"
    # The parameter beats the token; the token beats Accept-Language.
    assert first_line(english_user, "&locale=ja") == "サポートチャット記録"
    assert first_line(english_user, headers={"Accept-Language": "ja"}) == "Support chat transcript"
    # No usable token locale: Accept-Language by quality, skipping other languages and q=0.
    assert first_line(admin_no_locale, headers={"Accept-Language": "fr;q=1, ja-JP;q=0.8, en;q=0.5"}) == \
        "サポートチャット記録"
    assert first_line(admin_no_locale, headers={"Accept-Language": "ja;q=0, en-GB;q=0.3"}) == \
        "Support chat transcript"
    assert first_line(french_admin, headers={"Accept-Language": "ja"}) == "サポートチャット記録"
    assert first_line(admin_no_locale) == "Support chat transcript"
    assert "カテゴリ: セキュリティ" in transcript(api, english_user, sid, "format=text&locale=ja").get_data(as_text=True)


def test_choose_language_unit() -> None:
    assert choose_language("ja") == "ja"
    assert choose_language(None, "ja_JP") == "ja"
    assert choose_language(None, "EN-us", "ja") == "en"
    assert choose_language("", "de", "zh-Hant", "ja-JP") == "ja"
    assert choose_language(None, None) == "en"
    assert choose_language("jav") == "en"  # Javanese is not Japanese


def test_closed_and_waiting_sessions(api: Api, user: str, operator: str, conversation: Conversation,
                                     open_session: OpenSession) -> None:
    sid = conversation.sid
    closed = api.post(f"/sessions/{sid}/close", user).get_json()
    data = transcript(api, operator, sid).get_json()
    assert data["session"]["status"] == "closed" and data["session"]["closed_at"] == closed["closed_at"]
    assert _order(data["items"]) == conversation.written
    stamp = closed["closed_at"][:19].replace("T", " ")
    text = transcript(api, user, sid, "format=text&locale=en").get_data(as_text=True)
    assert f"\nClosed: {stamp} UTC\n" in text and "\nStatus: Closed\n" in text
    ja = transcript(api, user, sid, "format=text").get_data(as_text=True)
    assert f"\n終了日時: {stamp} UTC\n" in ja and "\n状態: 終了\n" in ja

    waiting = open_session("trading")["id"]
    data = transcript(api, user, waiting).get_json()
    assert data["items"] == [] and data["session"]["status"] == "waiting"
    assert data["session"]["operator"] is None and data["session"]["closed_at"] is None
    text = transcript(api, user, waiting, "format=text").get_data(as_text=True)
    assert "\n状態: 対応待ち\n" in text and "\n担当オペレーター: 未割り当て\n" in text
    assert text.endswith("（メッセージはありません）\n")


def test_who_may_read_it(api: Api, user: str, other_user: str, conversation: Conversation) -> None:
    outsider_op = api.token("op-sec", "operator", departments=["security"])
    for token in (other_user, outsider_op):
        for fmt in ("json", "text"):
            response = transcript(api, token, conversation.sid, f"format={fmt}")
            assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert transcript(api, user, "ses_" + "0" * 28).status_code == 404
    assert transcript(api, user, "not-a-session").status_code == 404
    response = api.get(f"/sessions/{conversation.sid}/transcript")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("query", ["format=pdf", "format=", "format=JSON", "locale=fr", "locale=ja-JP",
                                   "format=text&format=json", "colour=red"])
def test_bad_query_is_refused(api: Api, user: str, conversation: Conversation, query: str) -> None:
    response = transcript(api, user, conversation.sid, query)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and error["details"]["fields"]


def test_text_is_its_own_path(api: Api, user: str, conversation: Conversation) -> None:
    response = api.get(f"/sessions/{conversation.sid}/transcript?format=text", user)
    assert response.status_code == 422
    assert "transcript/text" in response.get_json()["error"]["details"]["fields"]["format"][0]
    assert api.get(f"/sessions/{conversation.sid}/transcript/text?format=text", user).status_code == 422
    text = api.get(f"/sessions/{conversation.sid}/transcript/text", user)
    assert text.status_code == 200 and text.mimetype == "text/plain"


def test_staff_exports_are_audited(api: Api, app: Flask, user: str, operator: str,
                                   conversation: Conversation) -> None:
    transcript(api, user, conversation.sid)
    transcript(api, operator, conversation.sid, "format=text")
    with app.extensions["support_api"].db.read() as db:
        rows = list(db.execute(select(AuditEntry).where(AuditEntry.action == "session.transcript_exported"))
                    .scalars())
    assert [(r.actor_id, r.target_type, r.target_id, r.details) for r in rows] == \
        [("op-1", "session", conversation.sid, {"format": "text", "items": len(conversation.written)})]


def test_long_conversation_is_cut_and_says_so(api: Api, operator: str, user: str, conversation: Conversation,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sid = conversation.sid
    monkeypatch.setattr(transcripts, "MAX_ITEMS", 5)
    staff = transcript(api, operator, sid).get_json()
    assert staff["truncated"] is True and _order(staff["items"]) == conversation.written[:5]
    monkeypatch.setattr(transcripts, "MAX_ITEMS", len(conversation.public))
    mine = transcript(api, user, sid).get_json()
    assert mine["truncated"] is False and _order(mine["items"]) == conversation.public
    monkeypatch.setattr(transcripts, "MAX_ITEMS", 2)
    mine = transcript(api, user, sid).get_json()
    assert mine["truncated"] is True and _order(mine["items"]) == conversation.public[:2]
    text = transcript(api, user, sid, "format=text&locale=en").get_data(as_text=True)
    assert text.endswith("(Too long: only the first 2 entries are listed.)\n")
    assert "ありがとうございます" not in text
    ja = transcript(api, operator, sid, "format=text&locale=ja").get_data(as_text=True)
    assert ja.endswith("（長いため先頭の 2 件のみを記載しています）\n")
    assert "NOTE-after-user" not in ja and len([line for line in ja.splitlines() if line.startswith("[")]) == 2
