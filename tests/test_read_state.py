"""Read positions, unread counts and the app badge."""

from __future__ import annotations

from typing import Any, Callable

from tests.conftest import Api

OpenSession = Callable[..., dict[str, Any]]


def _send(api: Api, token: str, sid: str, cid: str) -> int:
    response = api.post(f"/sessions/{sid}/messages", token, json={"client_msg_id": cid, "body": f"msg {cid}"})
    assert response.status_code == 201
    seq: int = response.get_json()["seq"]
    return seq


def test_unread_counts_follow_reads(api: Api, user: str, operator: str, open_session: OpenSession) -> None:
    sid = open_session("funds", message={"body": "help", "client_msg_id": "u0"})["id"]
    # The operator's badge counts only sessions assigned to them.
    assert api.get("/me/unread", operator).get_json() == {"sessions": 0, "messages": 0}
    api.post(f"/sessions/{sid}/claim", operator)
    # The claim's "joined" (seq 2) is news to the user; the operator who claimed has read up to it.
    [joined] = api.get(f"/sessions/{sid}/messages?after_seq=1", user).get_json()["items"]
    assert (joined["seq"], joined["sender"]["type"], joined["body"]) == (2, "system", "Sato が対応します")
    assert api.get("/me/unread", user).get_json() == {"sessions": 1, "messages": 1}
    assert api.get("/me/unread", operator).get_json() == {"sessions": 0, "messages": 0}
    assert _send(api, user, sid, "u1") == 3
    assert api.get("/me/unread", operator).get_json() == {"sessions": 1, "messages": 1}
    _send(api, operator, sid, "o1")
    _send(api, operator, sid, "o2")
    # Replying marks everything before the reply as read for the operator.
    assert api.get("/me/unread", operator).get_json() == {"sessions": 0, "messages": 0}
    assert api.get("/me/unread", user).get_json() == {"sessions": 1, "messages": 2}
    assert api.get(f"/sessions/{sid}", user).get_json()["unread_count"] == 2
    assert api.get("/sessions", user).get_json()["items"][0]["unread_count"] == 2

    read = api.post(f"/sessions/{sid}/read", user, json={"seq": 4})
    assert read.status_code == 200
    assert read.get_json() == {"session_id": sid, "reader": {"type": "user", "id": "user-1"},
                               "last_read_seq": 4, "unread_count": 1}
    # Reading never moves backwards, and a seq past the end is clamped to the last message.
    assert api.post(f"/sessions/{sid}/read", user, json={"seq": 1}).get_json()["last_read_seq"] == 4
    assert api.post(f"/sessions/{sid}/read", user, json={"seq": 999}).get_json()["last_read_seq"] == 5
    assert api.get("/me/unread", user).get_json() == {"sessions": 0, "messages": 0}


def test_unread_spans_sessions(api: Api, user: str, operator: str, open_session: OpenSession) -> None:
    first = open_session("funds")["id"]
    second = open_session("trading")["id"]
    for sid in (first, second):
        api.post(f"/sessions/{sid}/claim", operator)
        _send(api, operator, sid, f"{sid}-a")
    _send(api, operator, second, "extra")
    # Each claim's "joined" is unread too: 1 + 1 in the first, 1 + 2 in the second.
    assert api.get("/me/unread", user).get_json() == {"sessions": 2, "messages": 5}
    # Closing does not hide a reply the user has not read yet.
    api.post(f"/sessions/{second}/close", operator)
    assert api.get("/me/unread", user).get_json() == {"sessions": 2, "messages": 5}
    assert api.get("/me/unread", operator).get_json() == {"sessions": 0, "messages": 0}


def test_read_validation(api: Api, user: str, open_session: OpenSession) -> None:
    sid = open_session()["id"]
    for body in ({"seq": -1}, {"seq": "3"}, {"seq": 1.5}, {}, {"seq": 2**31}):
        response = api.post(f"/sessions/{sid}/read", user, json=body)
        assert response.status_code == 422, body
