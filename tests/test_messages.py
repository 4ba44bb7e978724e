"""Sending and reading messages over REST: seq, idempotency, paging, and bad input."""

from __future__ import annotations

import io
import json
from typing import Any, Callable

import pytest

from support_api.lib.events import Events
from tests.conftest import Api
from tests.images import png

OpenSession = Callable[..., dict[str, Any]]


@pytest.fixture
def active(api: Api, operator: str, open_session: OpenSession) -> str:
    sid: str = open_session("funds")["id"]
    assert api.post(f"/sessions/{sid}/claim", operator).status_code == 200
    return sid


def send(api: Api, token: str, sid: str, body: str, cid: str) -> Any:
    return api.post(f"/sessions/{sid}/messages", token, json={"client_msg_id": cid, "body": body})


def test_seq_increments_and_retry_returns_original(api: Api, user: str, operator: str, active: str) -> None:
    # The claim said so in the chat: seq 1 is the system's "joined" message.
    (joined,) = api.get(f"/sessions/{active}/messages", user).get_json()["items"]
    assert (joined["seq"], joined["sender"]["type"], joined["body"]) == (1, "system", "Sato が対応します")
    first = send(api, user, active, "出金が遅れています", "u-1")
    reply = send(api, operator, active, "Checking now", "o-1")
    retry = send(api, user, active, "出金が遅れています", "u-1")
    assert (first.status_code, reply.status_code, retry.status_code) == (201, 201, 200)
    assert (first.get_json()["seq"], reply.get_json()["seq"]) == (2, 3)
    assert retry.get_json() == first.get_json()
    assert reply.get_json()["sender"] == {"type": "operator", "id": "op-1", "name": "Sato"}
    # The same client_msg_id from the other participant is a different message.
    other = send(api, operator, active, "again", "u-1")
    assert other.status_code == 201 and other.get_json()["seq"] == 4
    assert api.get(f"/sessions/{active}", user).get_json()["last_seq"] == 4


def test_operator_must_hold_the_session(api: Api, operator: str, open_session: OpenSession) -> None:
    sid = open_session("funds")["id"]
    refused = send(api, operator, sid, "hello", "o-1")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["details"]["reason"] == "not_assigned"
    assert api.get(f"/sessions/{sid}", operator).get_json()["last_seq"] == 0


def test_history_paging(api: Api, user: str, active: str) -> None:
    # seq 1 is the claim's "joined" message; the user's lines are seq 2..8.
    for i in range(2, 9):
        assert send(api, user, active, f"line {i}", f"c{i}").status_code == 201
    page = api.get(f"/sessions/{active}/messages?limit=3", user).get_json()
    assert [m["seq"] for m in page["items"]] == [1, 2, 3] and page["has_more"] and page["last_seq"] == 8
    assert [m["sender"]["type"] for m in page["items"]] == ["system", "user", "user"]
    page = api.get(f"/sessions/{active}/messages?after_seq=6", user).get_json()
    assert [m["seq"] for m in page["items"]] == [7, 8] and not page["has_more"]
    page = api.get(f"/sessions/{active}/messages?before_seq=8&limit=2", user).get_json()
    assert [m["seq"] for m in page["items"]] == [6, 7] and page["has_more"]
    page = api.get(f"/sessions/{active}/messages?after_seq=3&before_seq=6", user).get_json()
    assert [m["seq"] for m in page["items"]] == [4, 5]
    for query in ("limit=0", "limit=201", "after_seq=-1", "before_seq=0", "after_seq=99999999999", "after_seq=a"):
        assert api.get(f"/sessions/{active}/messages?{query}", user).status_code == 422, query


def _assert_nothing_stored(api: Api, user: str, sid: str) -> None:
    assert api.get(f"/sessions/{sid}", user).get_json()["last_seq"] == 0
    assert api.get(f"/sessions/{sid}/messages", user).get_json()["items"] == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"client_msg_id": "c", "body": ""}, "body"),
        ({"client_msg_id": "c", "body": "   \n "}, "body"),
        ({"client_msg_id": "c", "body": "x" * 4097}, "body"),
        ({"client_msg_id": "c", "body": "nul\x00byte"}, "body"),
        ({"client_msg_id": "c", "body": 42}, "body"),
        ({"client_msg_id": "c"}, "body"),
        ({"body": "hi"}, "client_msg_id"),
        ({"client_msg_id": "has space", "body": "hi"}, "client_msg_id"),
        ({"client_msg_id": "c" * 129, "body": "hi"}, "client_msg_id"),
        ({"client_msg_id": "c", "body": "hi", "extra": 1}, "extra"),
    ],
)
def test_invalid_message_is_refused_and_not_stored(api: Api, user: str, open_session: OpenSession,
                                                   payload: dict[str, Any], field: str) -> None:
    sid = open_session()["id"]
    response = api.post(f"/sessions/{sid}/messages", user, json=payload)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]["fields"]
    _assert_nothing_stored(api, user, sid)


def test_body_at_the_limit_is_accepted(api: Api, user: str, open_session: OpenSession) -> None:
    sid = open_session()["id"]
    assert send(api, user, sid, "あ" * 4096, "max").status_code == 201


def test_lone_surrogate_and_non_json_bodies(api: Api, user: str, open_session: OpenSession) -> None:
    sid = open_session()["id"]
    path = f"/sessions/{sid}/messages"
    raw = '{"client_msg_id": "c", "body": "bad \\ud800 half"}'
    response = api.post(path, user, data=raw, content_type="application/json")
    assert response.status_code == 422 and "body" in response.get_json()["error"]["details"]["fields"]
    response = api.post(path, user, data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"
    response = api.post(path, user, data="body=hi", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.get_json()["error"]["code"] == "unsupported_media_type"
    response = api.post(path, user, data=json.dumps(["a", "list"]), content_type="application/json")
    assert response.status_code == 422
    response = api.post(path, user, data=json.dumps({"body": "x" * 300_000, "client_msg_id": "c"}),
                        content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"
    _assert_nothing_stored(api, user, sid)


def test_configured_length_limit(api: Api, user: str, open_session: OpenSession, app: Any) -> None:
    from dataclasses import replace

    runtime = app.extensions["support_api"]
    app.extensions["support_api"] = replace(runtime, settings=replace(runtime.settings, max_message_length=10))
    sid = open_session()["id"]
    refused = send(api, user, sid, "x" * 11, "c1")
    assert refused.status_code == 422
    assert "10" in refused.get_json()["error"]["details"]["fields"]["body"][0]
    assert send(api, user, sid, "x" * 10, "c2").status_code == 201


def test_unknown_route_and_method_use_the_envelope(api: Api, user: str) -> None:
    response = api.client.get("/v1/nowhere", headers={"Authorization": f"Bearer {user}"})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = api.client.delete("/v1/sessions", headers={"Authorization": f"Bearer {user}"})
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


def test_a_batch_of_sends_is_stored_in_one_transaction(api: Api, app: Any, user: str, operator: str,
                                                       active: str, open_session: OpenSession) -> None:
    """The group-commit store of several texts at once (services/messages._store_texts): on
    PostgreSQL its seq UPDATEs go through one psycopg pipeline of precompiled SQL. A statement
    that compiles to SQL the pipeline cannot run (a post-compile IN list did) fails every
    batch, which group commit then hides by rerunning each job alone: so call it directly."""
    from support_api.services.messages import _store_texts, _TextSend

    rt = app.extensions["support_api"]
    u, op = rt.verifier.verify(user), rt.verifier.verify(operator)
    closed = open_session("trading")["id"]
    assert api.post(f"/sessions/{closed}/close", user).status_code == 200
    jobs = [_TextSend(u, active, "one", "b-1"), _TextSend(op, active, "two", "b-2"),
            _TextSend(u, closed, "too late", "b-3"), _TextSend(u, active, "three", "b-4")]
    with rt.db.write_connection() as conn:
        stored = _store_texts(conn, rt.settings, rt.events, jobs)
    assert stored[2] is None  # closed: not matched, nothing changed
    assert [(m.seq, m.body, m.sender_type) for _, m in (s for s in stored if s is not None)] == \
        [(2, "one", "user"), (3, "two", "operator"), (4, "three", "user")]
    items = api.get(f"/sessions/{active}/messages", user).get_json()["items"]
    assert [(m["seq"], m["body"]) for m in items[1:]] == [(2, "one"), (3, "two"), (4, "three")]
    assert "too late" not in [m["body"] for m in api.get(f"/sessions/{closed}/messages", user).get_json()["items"]]
    # Whoever wrote has read up to their own last message (on PostgreSQL stored by the same
    # statement as the message: messages._send_statement); nothing moved in the closed session.
    from sqlalchemy import select

    from support_api.models import ReadState

    with rt.db.read() as db:
        positions = {(r.session_id, r.reader_type): r.last_read_seq for r in db.execute(select(ReadState)).scalars()}
    assert positions[(active, "user")] == 4 and positions[(active, "operator")] == 3
    assert positions.get((closed, "user"), 0) < 2


@pytest.mark.parametrize("kind", ["text", "attachment", "note"])
def test_a_retry_between_the_commit_and_the_emit_is_not_delivered_twice(
        app: Any, api: Api, user: str, operator: str, active: str, socket_client: Callable[[str | None], Any],
        monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """A retry answered on the same process after the first send's commit but before its emit
    (it waited on the same row lock or batch) must not deliver the message again: the process
    marks what it stored before the commit (Events.expect), not only when it emits."""
    watcher = socket_client(operator)
    assert watcher.emit("session:join", {"session_id": active}, callback=True)["ok"]
    watcher.get_received()
    path = f"/sessions/{active}/messages"
    if kind == "note":
        token, body, event = operator, {"body": "確認中", "visibility": "internal"}, "note:new"
    else:
        token, body, event = user, {"body": "出金が遅れています"}, "message:new"
    if kind == "attachment":  # the ORM path (a text-only message takes the group-commit path)
        upload = api.post("/attachments", user, data={"file": (io.BytesIO(png()), "a.png", "image/png")},
                          content_type="multipart/form-data")
        body = {**body, "attachment_ids": [upload.get_json()["id"]]}
    payload = {"client_msg_id": f"race-{kind}", **body}
    emit, retries = Events.emit, []

    def retry_first(self: Events, name: str, data: dict[str, Any], rooms: list[str], **kwargs: Any) -> None:
        if name == event and not retries:  # committed, not yet emitted: the retry comes in now
            retries.append(api.post(path, token, json=payload).status_code)
        emit(self, name, data, rooms, **kwargs)

    monkeypatch.setattr(Events, "emit", retry_first)
    assert api.post(path, token, json=payload).status_code == 201
    delivered = [e["args"][0]["id"] for e in watcher.get_received() if e["name"] == event]
    assert retries == [200] and len(delivered) == 1, (retries, delivered)
