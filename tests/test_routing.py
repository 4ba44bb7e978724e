"""Operators' status, auto-assignment, the queue users see, and business hours (issue 6, part A)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from support_api.app import create_app, socketio_of
from support_api.config import ConfigError, Settings
from support_api.lib import business_hours
from support_api.lib.business_hours import TOKYO
from support_api.models import ChatSession, Message, utcnow
from support_api.services import routing
from tests import socket_contract
from tests.conftest import Api

MakeApi = Callable[..., tuple[Api, Flask]]


@pytest.fixture
def make_api(settings: Settings) -> Iterator[MakeApi]:
    """An app (own engine) with routing settings overridden, and its checked API client."""
    apps: list[Flask] = []

    def make(**routing_overrides: Any) -> tuple[Api, Flask]:
        custom = settings.with_overrides(routing=replace(settings.routing, **routing_overrides))
        app = create_app(custom)
        apps.append(app)
        return Api(app.test_client(), custom), app

    yield make
    for app in apps:
        app.extensions["support_api"].db.dispose()


def _op(api: Api, sub: str, name: str, departments: list[str] | None = None) -> str:
    return api.token(sub, "operator", name=name, departments=departments or ["funds"])


def _online(api: Api, token: str, status: str = "online") -> dict[str, Any]:
    response = api.request("PUT", "/operators/me/status", token, json={"status": status})
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def _open(api: Api, token: str, category: str = "funds", key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"category": category}
    if key:
        body["message"] = {"client_msg_id": key, "body": "help"}
    response = api.post("/sessions", token, json=body)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def _session(api: Api, token: str, sid: str) -> dict[str, Any]:
    data: dict[str, Any] = api.get(f"/sessions/{sid}", token).get_json()
    return data


def _messages(api: Api, token: str, sid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/sessions/{sid}/messages?after_seq=0", token).get_json()["items"]
    return items


def _queue_events(client: Any) -> list[dict[str, Any]]:
    return [socket_contract.check_event("queue:updated", e["args"][0])
            for e in client.get_received() if e["name"] == "queue:updated"]


def test_operator_status_is_stored_and_listed(api: Api, user: str) -> None:
    sato = _op(api, "op-sato", "Sato", ["funds", "trading"])
    admin = api.token("admin-1", "admin", name="Boss")
    assert api.get("/operators", sato).get_json() == {"items": []}  # nobody set a status yet: all away

    me = _online(api, sato)
    assert me["status"] == me["chosen_status"] == "online"
    assert me["departments"] == ["funds", "trading"] and me["load"] == 0 and me["capacity"] == 5
    _online(api, admin, "offline")
    listed = api.get("/operators", admin).get_json()["items"]
    assert [(o["id"], o["status"]) for o in listed] == [("op-sato", "online"), ("admin-1", "offline")]

    assert api.get("/operators", user).status_code == 403
    assert api.request("PUT", "/operators/me/status", user, json={"status": "online"}).status_code == 403
    bad = api.request("PUT", "/operators/me/status", sato, json={"status": "busy"})
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["details"]["fields"]


def test_auto_assignment_by_load_capacity_and_idle_time_then_fifo(make_api: MakeApi) -> None:
    api, _ = make_api(operator_capacity=2)
    hanako = api.token("user-1", name="Hanako", locale="ja")
    a, b = _op(api, "op-a", "Aoki"), _op(api, "op-b", "Baba")
    _online(api, a)
    _online(api, b)
    other_dept = _op(api, "op-sec", "Sec", ["security"])
    _online(api, other_dept)

    opened = [_open(api, hanako, key=f"k{i}") for i in range(6)]
    # Equal loads go to the one idle longest (never assigned first, then by id).
    assert [s["operator"]["id"] if s["operator"] else None for s in opened] == [
        "op-a", "op-b", "op-a", "op-b", None, None]
    assert [s["queue_position"] for s in opened] == [None, None, None, None, 1, 2]
    first = _messages(api, hanako, opened[0]["id"])
    assert [(m["seq"], m["sender"]["type"], m["body"]) for m in first] == [
        (1, "user", "help"), (2, "system", "Aoki が対応します")]
    assert first[1]["sender"] == {"type": "system", "id": None, "name": None}
    assert {o["id"]: o["load"] for o in api.get("/operators", a).get_json()["items"]} == {
        "op-a": 2, "op-b": 2, "op-sec": 0}
    admin = api.token("admin-1", "admin")
    trail = api.get("/admin/audit?action=session.assigned", admin).get_json()["items"]
    assert sorted((e["actor"]["type"], e["target"]["id"], e["details"]["operator"]) for e in trail) == sorted(
        ("system", s["id"], s["operator"]["id"]) for s in opened[:4])

    # Capacity frees up: the oldest waiting chat goes to that operator, the next moves up.
    assert api.post(f"/sessions/{opened[1]['id']}/close", b).status_code == 200
    assert _session(api, hanako, opened[4]["id"])["operator"]["id"] == "op-b"
    still = _session(api, hanako, opened[5]["id"])
    assert still["status"] == "waiting" and still["queue_position"] == 1


def test_nobody_online_or_auto_assignment_off_leaves_the_queue_to_claims(make_api: MakeApi) -> None:
    api, _ = make_api(auto_assign=False)
    user = api.token("user-1", locale="en")
    sato = _op(api, "op-sato", "Sato")
    assert _open(api, user)["status"] == "waiting"
    _online(api, sato)
    waiting = _open(api, user)
    assert waiting["status"] == "waiting" and waiting["queue_position"] == 2

    auto, _ = make_api()
    away = _op(auto, "op-away", "Away")
    _online(auto, away, "away")
    _online(auto, sato, "offline")
    third = _open(auto, user)
    assert third["status"] == "waiting" and third["queue_position"] == 3
    claimed = auto.post(f"/sessions/{third['id']}/claim", away).get_json()
    assert claimed["status"] == "active" and claimed["queue_position"] is None
    assert claimed["estimated_wait_seconds"] is None
    # A manual claim says so in the chat, like an auto-assignment.
    assert claimed["last_seq"] == 1
    assert [(m["seq"], m["sender"]["type"], m["body"]) for m in _messages(auto, user, third["id"])] == [
        (1, "system", "Away joined")]


def test_an_operator_coming_online_takes_the_oldest_waiting_chats(api: Api) -> None:
    user = api.token("user-1", locale="en")
    chats = [_open(api, user)["id"] for _ in range(3)]
    sato = _op(api, "op-sato", "Sato")
    _online(api, sato)
    assert [_session(api, user, sid)["operator"]["id"] for sid in chats] == ["op-sato"] * 3
    assert _messages(api, user, chats[0])[-1]["body"] == "Sato joined"
    again = _online(api, sato)  # already online: nothing more to take
    assert again["load"] == 3


def test_queue_updates_and_estimate_reach_the_waiting_users_socket(make_api: MakeApi, app: Flask) -> None:
    api, routing_app = make_api(auto_assign=False)
    first_user, second_user = api.token("user-1", locale="ja"), api.token("user-2", locale="en")
    sato = _op(api, "op-sato", "Sato")
    s1, s2 = _open(api, first_user)["id"], _open(api, second_user)["id"]
    waiting = _session(api, second_user, s2)
    # No assignment in the last hour: no estimate rather than a made-up one.
    assert waiting["queue_position"] == 2 and waiting["estimated_wait_seconds"] is None
    s3 = _open(api, second_user)["id"]

    socket = socketio_of(routing_app).test_client(routing_app, auth={"token": second_user})
    socket.get_received()
    # s1 waited two minutes before it was taken: the median wait is 120 s.
    with routing_app.extensions["support_api"].db.write() as db:
        db.execute(update(ChatSession).where(ChatSession.id == s1)
                   .values(queued_at=utcnow() - timedelta(seconds=120)))
    _online(api, sato)
    assert api.post(f"/sessions/{s1}/claim", sato).status_code == 200

    updates = {u["session_id"]: u for u in _queue_events(socket)}
    assert set(updates) == {s2, s3}  # only this user's waiting chats, on their own socket
    assert updates[s2]["queue_position"] == 1 and 119 <= updates[s2]["estimated_wait_seconds"] <= 122
    assert updates[s3]["queue_position"] == 2 and 239 <= updates[s3]["estimated_wait_seconds"] <= 244
    assert 119 <= _session(api, second_user, s2)["estimated_wait_seconds"] <= 122

    # A second operator online halves the wait; one going offline leaves no estimate at all.
    _online(api, _op(api, "op-two", "Two"))
    assert 119 <= [u for u in _queue_events(socket) if u["session_id"] == s3][-1]["estimated_wait_seconds"] <= 122
    _online(api, sato, "offline")
    _online(api, _op(api, "op-two", "Two"), "offline")
    assert [u for u in _queue_events(socket) if u["session_id"] == s3][-1]["estimated_wait_seconds"] is None
    socket.disconnect()


def test_away_after_the_grace_without_a_socket(make_api: MakeApi) -> None:
    api, app = make_api(away_grace_seconds=0)
    sato = _op(api, "op-sato", "Sato")
    assert _online(api, sato)["chosen_status"] == "online"
    assert api.get("/operators", sato).get_json()["items"][0]["status"] == "away"
    socket = socketio_of(app).test_client(app, auth={"token": sato})
    assert api.get("/operators", sato).get_json()["items"][0]["status"] == "online"
    socket.disconnect()
    listed = api.get("/operators", sato).get_json()["items"][0]
    assert listed["status"] == "away" and listed["chosen_status"] == "online"

    # Away operators are not auto-assigned; reconnecting makes them online and they take the queue.
    user = api.token("user-1", locale="en")
    chat = _open(api, user)
    assert chat["status"] == "waiting"
    socket = socketio_of(app).test_client(app, auth={"token": sato})
    assert _session(api, user, chat["id"])["operator"]["id"] == "op-sato"
    socket.disconnect()

    lenient, _ = make_api()  # the default 60 s grace covers the moment before a socket connects
    assert _online(lenient, sato)["status"] == "online"


def _closed_all_day_today() -> str:
    tomorrow = business_hours.DAYS[(utcnow().astimezone(TOKYO).weekday() + 1) % 7]
    return f"funds={tomorrow}@09:00-18:00"


def test_out_of_hours_reply_and_the_chat_still_waits(make_api: MakeApi) -> None:
    api, _ = make_api(business_hours=business_hours.parse(_closed_all_day_today()))
    ja_user, en_user = api.token("user-1", locale="ja"), api.token("user-2")
    chat = _open(api, ja_user, key="first")
    assert chat["status"] == "waiting" and chat["queue_position"] == 1 and chat["last_seq"] == 2
    reply = _messages(api, ja_user, chat["id"])[1]
    assert reply["sender"]["type"] == "system" and "受付時間外" in reply["body"] and "09:00" in reply["body"]
    english = _messages(api, en_user, _open(api, en_user)["id"])[0]
    assert english["body"].startswith("We are outside support hours") and "09:00 (Japan time)" in english["body"]
    # Other departments keep the default: around the clock.
    assert _open(api, en_user, "security")["last_seq"] == 0

    # An operator online is assigned whatever the clock says, and then no out-of-hours reply.
    _online(api, _op(api, "op-sato", "Sato"))
    assert _session(api, ja_user, chat["id"])["operator"]["id"] == "op-sato"
    late = _open(api, en_user)
    assert late["status"] == "active"
    assert [m["body"] for m in _messages(api, en_user, late["id"])] == ["Sato joined"]


def test_business_hours_format() -> None:
    hours = business_hours.parse("funds=mon-fri@09:00-18:00, funds=sat@10:00-15:00,*=00:00-24:00")
    assert [sorted(w.days) for w in hours["funds"]] == [[0, 1, 2, 3, 4], [5]]
    monday_noon = datetime(2026, 11, 23, 12, 0, tzinfo=TOKYO)
    assert business_hours.is_open(hours, "funds", monday_noon)
    sunday = monday_noon + timedelta(days=6)
    assert not business_hours.is_open(hours, "funds", sunday)
    assert business_hours.next_opening(hours, "funds", sunday) == monday_noon.replace(day=30, hour=9)
    assert business_hours.is_open(hours, "trading", sunday)  # `*`: around the clock here
    for bad in ("funds=9-18", "funds=18:00-09:00", "funds=fri-mon@09:00-10:00", "funds=xyz@09:00-10:00"):
        with pytest.raises(ConfigError):
            Settings.from_env({"SUPPORT_API_BUSINESS_HOURS": bad})
    assert Settings.from_env({}).routing.business_hours == {}


def test_concurrent_claims_and_assignments_never_give_a_chat_twice(make_api: MakeApi) -> None:
    setup, _ = make_api(auto_assign=False)
    chats = [_open(setup, setup.token(f"user-{i}", locale="en"))["id"] for i in range(12)]
    for sub in ("op-a", "op-b"):
        _online(setup, _op(setup, sub, sub.upper()))
    claimer = _op(setup, "op-c", "C")
    workers = [make_api(operator_capacity=3) for _ in range(4)]
    barrier = threading.Barrier(len(workers) + len(chats))
    claims: dict[str, int] = {}
    errors: list[BaseException] = []

    def drain(app: Flask) -> None:
        try:
            barrier.wait()
            routing.drain(app.extensions["support_api"], ["funds"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def claim(api: Api, sid: str) -> None:
        try:
            barrier.wait()
            claims[sid] = api.post(f"/sessions/{sid}/claim", claimer).status_code
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(app,)) for _, app in workers]
    threads += [threading.Thread(target=claim, args=(workers[i % 4][0], sid)) for i, sid in enumerate(chats)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    with workers[0][1].extensions["support_api"].db.read() as db:
        rows = {c.id: c for c in db.execute(select(ChatSession).where(ChatSession.id.in_(chats))).scalars()}
        joins = db.execute(select(Message.session_id, Message.body).where(
            Message.session_id.in_(chats), Message.sender_type == "system")).all()
    assert all(row.status == "active" for row in rows.values())
    held = {op: [sid for sid, row in rows.items() if row.operator_id == op] for op in ("op-a", "op-b", "op-c")}
    assert len(held["op-a"]) <= 3 and len(held["op-b"]) <= 3
    assert sorted(sid for sid, status in claims.items() if status == 200) == sorted(held["op-c"])
    assert all(status in (200, 409) for status in claims.values())
    # Each chat was announced exactly once, by whoever took it (auto-assigned or claimed).
    names = {"op-a": "OP-A", "op-b": "OP-B", "op-c": "C"}
    assert sorted(joins) == sorted((sid, f"{names[row.operator_id]} joined") for sid, row in rows.items())
    assert all(row.last_seq == 1 for row in rows.values())


def test_reopened_chat_joins_the_end_of_the_queue_and_a_freed_operator_takes_it(make_api: MakeApi) -> None:
    api, _ = make_api(operator_capacity=1)
    user, other = api.token("user-1", locale="en"), api.token("user-2", locale="en")
    sato = api.token("op-sato", "operator", name="Sato", departments=["funds", "trading"])
    _online(api, sato)
    held = _open(api, user)
    assert held["operator"]["id"] == "op-sato"
    assert api.post(f"/sessions/{held['id']}/close", user).status_code == 200
    trading = _open(api, other, "trading")  # the freed operator serves trading too
    assert trading["operator"]["id"] == "op-sato"
    waiting = _open(api, other)
    reopened = api.post(f"/sessions/{held['id']}/reopen", user).get_json()
    assert reopened["status"] == "waiting" and reopened["queue_position"] == 2 and reopened["operator"] is None

    # The trading chat closes: Sato's one slot goes to the older waiting funds chat, not the reopened one.
    assert api.post(f"/sessions/{trading['id']}/close", sato).status_code == 200
    assert _session(api, other, waiting["id"])["operator"]["id"] == "op-sato"
    assert _session(api, user, held["id"])["queue_position"] == 1
