"""Incidents through the real server (eventlet, pushing through the real firebase-admin to the
fake FCM server): the public status without a token, the SYSTEM answer and link of chats in
affected categories only, updates reaching open linked chats and their users' phones (one
push per user per update), resolution, close-linked, the `status:updated` broadcast, and the
per-incident figures.

Incidents are global: each test uses its own categories and resolves what it opened, so the
tests of the module's server do not see each other's incidents in their chats.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from support_api.lib.auth import Role, mint_token
from tests.e2e.conftest import Actor, ServerProcess, World, two_processes, uid, world_on
from tests.e2e.test_multiprocess_redis import REDIS_URL, _redis_problem
from tests.e2e.test_push_e2e import QUIET, push_env, push_server, register
from tests.dbutil import backends, fresh_database
from tests.fake_fcm import FakeFcm

TITLE = {"ja": "取引システムの障害", "en": "Trading outage"}
FIRST = {"ja": "注文が約定しない事象を調査しています。", "en": "Orders are not being filled; we are investigating."}


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFcm]:
    fake = FakeFcm()
    yield fake
    fake.close()


@pytest.fixture(scope="module", params=backends())
def server(request: pytest.FixtureRequest, fcm: FakeFcm,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    var_dir = tmp_path_factory.mktemp("incidents")
    with fresh_database(request.param) as url, \
            push_server(push_env(url, var_dir, fcm, secrets.token_urlsafe(32)), var_dir) as proc:
        yield proc


@pytest.fixture
def world(server: ServerProcess) -> Iterator[World]:
    with world_on(server) as w:
        yield w


def admin_of(world: World) -> Actor:
    return Actor(world, uid("admin"), Role.ADMIN, "Admin", None, world.server)


def declare(admin: Actor, categories: list[str], *, impact: str = "critical", body: dict[str, str] | None = FIRST,
            eta: str | None = "2030-01-02T03:00:00Z") -> dict[str, Any]:
    payload: dict[str, Any] = {"title": TITLE, "impact": impact, "categories": categories, "eta": eta}
    if body is not None:
        payload["body"] = body
    response = admin.api.post("/v1/incidents", json=payload)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def post_update(admin: Actor, incident_id: str, status: str, body: dict[str, str], expect: int = 201) -> dict[str, Any]:
    response = admin.api.post(f"/v1/incidents/{incident_id}/updates", json={"status": status, "body": body})
    assert response.status_code == expect, response.text
    data: dict[str, Any] = response.json()
    return data


def resolve(admin: Actor, incident_id: str) -> dict[str, Any]:
    return post_update(admin, incident_id, "resolved", {"ja": "復旧しました。", "en": "Service is back."})


def test_status_needs_no_token_and_follows_the_incident(world: World) -> None:
    admin, user, op = admin_of(world), world.user(), world.operator(["security"])
    anonymous = world.api()
    user_sock, op_sock = user.socket(label="user"), op.socket(label="op")

    before = anonymous.get("/v1/status")
    assert before.status_code == 200
    assert before.headers["Cache-Control"] == "public, max-age=10" and before.headers["ETag"]
    assert {c["category"]: c["state"] for c in before.json()["categories"]}["security"] == "operational"
    # Unchanged: a conditional request is a 304 without a body.
    again = anonymous.get("/v1/status", headers={"If-None-Match": before.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""

    # Only admins declare incidents.
    refused = user.api.post("/v1/incidents", json={"title": TITLE, "impact": "minor", "categories": ["security"]})
    assert refused.status_code == 403
    assert anonymous.post("/v1/incidents", json={"title": TITLE, "impact": "minor",
                                                 "categories": ["security"]}).status_code == 401
    bad = admin.api.post("/v1/incidents", json={"title": {"ja": "x"}, "impact": "huge", "categories": []})
    assert bad.status_code == 422
    assert set(bad.json()["error"]["details"]["fields"]) == {"title.en", "impact", "categories"}

    incident = declare(admin, ["security"], impact="major")
    for sock in (user_sock, op_sock):
        opened = sock.wait_for("status:updated", lambda e: e["incident"]["id"] == incident["id"])[-1]
        assert opened["change"] == "opened" and opened["incident"]["title"] == TITLE
        assert opened["incident"]["latest_update"]["body"] == FIRST

    ja = anonymous.get("/v1/status", params={"locale": "ja-JP"}, headers={"Accept-Language": "en"})
    assert ja.status_code == 200 and ja.headers["ETag"] != before.headers["ETag"]
    body = ja.json()
    assert body["locale"] == "ja"
    [shown] = [i for i in body["incidents"] if i["id"] == incident["id"]]
    assert (shown["title"], shown["impact"], shown["categories"]) == (TITLE["ja"], "major", ["security"])
    assert shown["latest_update"]["body"] == FIRST["ja"] and shown["eta"] == "2030-01-02T03:00:00.000Z"
    assert {c["category"]: c["state"] for c in body["categories"]}["security"] == "major"
    # No ?locale=: Accept-Language decides.
    en = anonymous.get("/v1/status", headers={"Accept-Language": "en-US,en;q=0.9"}).json()
    assert [i["title"] for i in en["incidents"] if i["id"] == incident["id"]] == [TITLE["en"]]
    assert anonymous.get("/v1/status", params={"locale": "x"}).status_code == 422

    # A change of the ETA is broadcast and shown.
    patched = admin.api.request("PATCH", f"/v1/incidents/{incident['id']}", json={"eta": None, "impact": "minor"})
    assert patched.status_code == 200 and patched.json()["eta"] is None
    changed = op_sock.wait_for("status:updated", lambda e: e["incident"]["id"] == incident["id"]
                               and e["change"] == "updated")[-1]
    assert changed["incident"]["impact"] == "minor"

    resolve(admin, incident["id"])
    for sock in (user_sock, op_sock):
        sock.wait_for("status:updated", lambda e: e["incident"]["id"] == incident["id"] and e["change"] == "resolved")
    after = anonymous.get("/v1/status").json()
    assert incident["id"] not in [i["id"] for i in after["incidents"]]
    assert {c["category"]: c["state"] for c in after["categories"]}["security"] == "operational"
    listed = op.api.get("/v1/incidents", params={"status": "all"}).json()["items"]
    assert [i["status"] for i in listed if i["id"] == incident["id"]] == ["resolved"]
    assert incident["id"] not in [i["id"] for i in op.api.get("/v1/incidents").json()["items"]]
    assert user.api.get("/v1/incidents").status_code == 403


def _system_bodies(user: Actor, session_id: str) -> list[str]:
    return [m["body"] for m in user.history(session_id) if m["sender"]["type"] == "system"]


def test_chats_in_affected_categories_are_answered_linked_and_told_of_updates(world: World, fcm: FakeFcm) -> None:
    admin = admin_of(world)
    incident = declare(admin, ["trading"])
    try:
        ja_user, en_user = user_with_locale(world, "ja"), user_with_locale(world, "en")
        ja_phone, en_phone = uid("ja-phone"), uid("en-phone")
        register(ja_user, ja_phone, locale="ja")
        register(en_user, en_phone, locale="en")

        first = ja_user.open_session("trading", first="注文が通りません")
        assert first["incident_id"] == incident["id"] and first["last_seq"] == 2
        [notice] = _system_bodies(ja_user, first["id"])
        assert TITLE["ja"] in notice and FIRST["ja"] in notice and "2030" not in notice  # ETA in Japan time
        assert "1月2日 12:00" in notice
        second = ja_user.open_session("trading")
        en_chat = en_user.open_session("trading", first="My order is stuck")
        [en_notice] = _system_bodies(en_user, en_chat["id"])
        assert TITLE["en"] in en_notice and FIRST["en"] in en_notice and "02 Jan 12:00" in en_notice
        # An unaffected category: no link, no answer.
        other = ja_user.open_session("funds", first="入金について")
        assert other["incident_id"] is None and _system_bodies(ja_user, other["id"]) == []
        # Closed before the update: not told; reopened while the incident is open: linked and told again.
        closed = en_user.open_session("trading")
        assert en_user.api.post(f"/v1/sessions/{closed['id']}/close").status_code == 200
        time.sleep(QUIET)
        assert fcm.attempts(ja_phone) == [] and fcm.attempts(en_phone) == []  # the answers on open are not pushed

        # A user socket connected now hears the update in each linked chat (user room).
        listener = ja_user.socket(label="ja-listener")
        update = {"ja": "原因を特定しました。", "en": "We found the cause."}
        after = post_update(admin, incident["id"], "identified", update)
        assert after["status"] == "identified" and [u["status"] for u in after["updates"]] == [
            "investigating", "identified"]
        for chat in (first, second):
            message = listener.wait_for("message:new", lambda m, c=chat: m["session_id"] == c["id"]
                                        and m["sender"]["type"] == "system" and "原因を特定" in m["body"])[-1]
            assert message["body"].startswith("【原因特定】" + TITLE["ja"])
        assert _system_bodies(en_user, en_chat["id"])[-1].startswith("[Identified] Trading outage\nWe found the cause.")
        assert _system_bodies(en_user, closed["id"]) == [en_notice]
        assert _system_bodies(ja_user, other["id"]) == []

        # One push per user per update (Hanako-ja has two linked chats), grouped per chat.
        [ja_push] = fcm.wait_for(1, ja_phone)
        [en_push] = fcm.wait_for(1, en_phone)
        time.sleep(QUIET)
        assert len(fcm.attempts(ja_phone)) == 1 and len(fcm.attempts(en_phone)) == 1
        assert ja_push.data["type"] == "incident" and ja_push.data["session_id"] in (first["id"], second["id"])
        assert ja_push.message["notification"]["title"] == "障害情報が更新されました"
        assert ja_push.message["apns"]["payload"]["aps"]["thread-id"] == ja_push.data["session_id"]
        assert en_push.data["session_id"] == en_chat["id"]
        assert en_push.message["notification"] == {"title": "Service status update",
                                                   "body": "[Identified] Trading outage"}

        reopened = en_user.api.post(f"/v1/sessions/{closed['id']}/reopen").json()
        assert reopened["incident_id"] == incident["id"]
        assert _system_bodies(en_user, closed["id"])[-1].startswith("We are aware of an ongoing incident: Trading")
        assert "We found the cause." in _system_bodies(en_user, closed["id"])[-1]

        resolved = resolve(admin, incident["id"])
        assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
        for chat, owner in ((first, ja_user), (second, ja_user), (en_chat, en_user), (closed, en_user)):
            last = _system_bodies(owner, chat["id"])[-1]
            assert last.startswith("【復旧】") or last.startswith("[Resolved]"), last
        fcm.wait_for(2, ja_phone)
        fcm.wait_for(2, en_phone)
        time.sleep(QUIET)
        assert len(fcm.attempts(ja_phone)) == 2 and len(fcm.attempts(en_phone)) == 2

        # Resolved: a new chat in the category is not linked any more.
        later = en_user.open_session("trading")
        assert later["incident_id"] is None and _system_bodies(en_user, later["id"]) == []
        post_update(admin, incident["id"], "monitoring", update, expect=409)
    finally:
        _resolve_quietly(admin, incident["id"])


def user_with_locale(world: World, locale: str) -> Actor:
    """A user whose token carries `locale` (the language of their chats' SYSTEM messages)."""
    user = world.user(f"user-{locale}")
    user.token = mint_token(world.server.settings, user.id, Role.USER, name=user.name, locale=locale)
    user.api = world.api(user.token)
    return user


def _resolve_quietly(admin: Actor, incident_id: str) -> None:
    admin.api.post(f"/v1/incidents/{incident_id}/updates",
                   json={"status": "resolved", "body": {"ja": "終了", "en": "Done"}})


def test_resolution_close_linked_and_figures(world: World) -> None:
    admin = admin_of(world)
    user = world.user()
    op = world.operator(["system_error"], label="sato")
    incident = declare(admin, ["system_error"], body=None, eta=None)
    try:
        chats = [user.open_session("system_error", first=f"エラー {n}") for n in range(3)]
        assert all(c["incident_id"] == incident["id"] and c["status"] == "waiting" for c in chats)
        notice = _system_bodies(user, chats[0]["id"])[0]
        assert "Expected recovery: not known yet" in notice or "復旧見込み: 確認中" in notice
        op.claim(chats[1]["id"])  # one is answered by an operator
        sock = user.socket()

        early = op.api.post(f"/v1/incidents/{incident['id']}/close-linked")
        assert early.status_code == 409 and early.json()["error"]["details"]["reason"] == "incident_open"
        assert user.api.post(f"/v1/incidents/{incident['id']}/close-linked").status_code == 403
        assert op.api.post("/v1/incidents/inc_nope/close-linked").status_code == 404

        resolve(admin, incident["id"])
        for chat in chats:
            assert "Service is back." in _system_bodies(user, chat["id"])[-1]

        done = op.api.post(f"/v1/incidents/{incident['id']}/close-linked")
        assert done.status_code == 200, done.text
        result = done.json()
        assert result["closed"] == 2
        assert sorted(s["id"] for s in result["sessions"]) == sorted([chats[0]["id"], chats[2]["id"]])
        for chat in (chats[0], chats[2]):
            sock.wait_for("session:updated", lambda s, c=chat: s["id"] == c["id"] and s["status"] == "closed")
            assert "closed this chat" in _system_bodies(user, chat["id"])[-1]
        kept = user.api.get(f"/v1/sessions/{chats[1]['id']}").json()
        assert kept["status"] == "active"  # an operator's chat is theirs to close
        assert op.api.post(f"/v1/incidents/{incident['id']}/close-linked").json()["closed"] == 0

        figures = op.api.get(f"/v1/incidents/{incident['id']}").json()["stats"]
        assert figures == {"linked_sessions": 3, "closed_without_operator": 2}
        assert admin.api.request("PATCH", f"/v1/incidents/{incident['id']}",
                                 json={"impact": "minor"}).status_code == 409
    finally:
        _resolve_quietly(admin, incident["id"])


def test_status_updated_reaches_sockets_of_every_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The broadcast goes through the Redis message queue: a socket connected to process B hears
    an incident declared on process A."""
    problem = _redis_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    with two_processes("sqlite", tmp_path_factory.mktemp("incident-cluster"), REDIS_URL) as (a, b), \
            world_on(a, b) as world:
        admin = Actor(world, uid("admin"), Role.ADMIN, "Admin", None, a)
        on_b = world.user(server=b).socket(label="user-on-b")
        staff_on_b = world.operator(["funds"], server=b).socket(label="op-on-b")
        incident = declare(admin, ["other"], impact="minor")
        for sock in (on_b, staff_on_b):
            event = sock.wait_for("status:updated", lambda e: e["incident"]["id"] == incident["id"])[-1]
            assert event["change"] == "opened" and event["incident"]["impact"] == "minor"
        resolve(admin, incident["id"])
        on_b.wait_for("status:updated", lambda e: e["incident"]["id"] == incident["id"] and e["change"] == "resolved")
