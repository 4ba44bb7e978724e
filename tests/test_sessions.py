"""Opening, listing, viewing, claiming, closing and reopening sessions over REST."""

from __future__ import annotations

from typing import Any, Callable

from tests.conftest import Api

OpenSession = Callable[..., dict[str, Any]]


def test_health(api: Api) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_open_session_with_first_message_and_context(api: Api, user: str) -> None:
    body = {
        "category": "funds",
        "message": {"body": "入金が反映されません", "client_msg_id": "m-1"},
        "client_context": {"app_version": "5.2.0", "os": "iOS 18.1", "device_model": "iPhone15,2",
                           "locale": "ja-JP", "error_code": "E1042"},
    }
    response = api.post("/sessions", user, json=body)
    assert response.status_code == 201
    session = response.get_json()
    assert session["status"] == "waiting"
    assert session["category"] == session["department"] == "funds"
    assert session["operator"] is None
    assert session["last_seq"] == 1
    assert session["unread_count"] == 0
    assert session["client_context"]["error_code"] == "E1042"
    first = session["first_message"]
    assert (first["seq"], first["body"], first["sender"]) == (1, "入金が反映されません",
                                                               {"type": "user", "id": "user-1", "name": "Hanako"})


def test_open_retry_returns_the_same_session(api: Api, user: str) -> None:
    body = {"category": "trading", "message": {"body": "Order stuck", "client_msg_id": "open-1"}}
    first = api.post("/sessions", user, json=body)
    again = api.post("/sessions", user, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["first_message"]["id"] == first.get_json()["first_message"]["id"]
    listed = api.get("/sessions", user).get_json()["items"]
    assert [s["id"] for s in listed] == [first.get_json()["id"]]


def test_only_users_open_sessions(api: Api, operator: str) -> None:
    response = api.post("/sessions", operator, json={"category": "funds"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_unknown_category_is_refused(api: Api, user: str) -> None:
    response = api.post("/sessions", user, json={"category": "lottery"})
    assert response.status_code == 422
    assert "category" in response.get_json()["error"]["details"]["fields"]
    assert api.get("/sessions", user).get_json()["items"] == []


def test_users_see_only_their_own_sessions(api: Api, user: str, other_user: str, open_session: OpenSession) -> None:
    mine = open_session("funds")
    theirs = open_session("trading", token=other_user)
    assert [s["id"] for s in api.get("/sessions", user).get_json()["items"]] == [mine["id"]]
    response = api.get(f"/sessions/{theirs['id']}", user)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    for action in ("claim", "close", "reopen", "read"):
        kwargs = {"json": {"seq": 0}} if action == "read" else {}
        assert api.post(f"/sessions/{theirs['id']}/{action}", user, **kwargs).status_code in (403, 404)
    assert api.get(f"/sessions/{theirs['id']}/messages", user).status_code == 404


def test_malformed_session_id_is_not_found(api: Api, user: str) -> None:
    for bad in ("nope", "ses_" + "0" * 27 + "%00", "ses_" + "z" * 28, "x" * 500):
        assert api.get(f"/sessions/{bad}", user).status_code == 404


def test_operators_see_their_departments_admins_all(api: Api, open_session: OpenSession) -> None:
    funds = open_session("funds")
    security = open_session("security")
    funds_op = api.token("op-funds", "operator", departments=["funds"])
    any_op = api.token("op-any", "operator")
    admin = api.token("boss", "admin")
    assert [s["id"] for s in api.get("/sessions", funds_op).get_json()["items"]] == [funds["id"]]
    assert api.get(f"/sessions/{security['id']}", funds_op).status_code == 404
    assert {s["id"] for s in api.get("/sessions", any_op).get_json()["items"]} == {funds["id"], security["id"]}
    assert {s["id"] for s in api.get("/sessions", admin).get_json()["items"]} == {funds["id"], security["id"]}


def test_list_filters_and_cursor_pagination(api: Api, user: str, operator: str, open_session: OpenSession) -> None:
    created = [open_session("funds")["id"] for _ in range(5)] + [open_session("trading")["id"]]
    api.post(f"/sessions/{created[0]}/claim", operator)
    assert [s["id"] for s in api.get("/sessions?category=trading", operator).get_json()["items"]] == [created[5]]
    assert [s["id"] for s in api.get("/sessions?assigned=me", operator).get_json()["items"]] == [created[0]]
    assert len(api.get("/sessions?status=waiting", operator).get_json()["items"]) == 5

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "/sessions?limit=2&order=asc" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(query, user).get_json()
        seen += [s["id"] for s in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created and pages == 3
    newest_first = [s["id"] for s in api.get("/sessions?limit=100", user).get_json()["items"]]
    assert newest_first == list(reversed(created))


def test_bad_list_queries(api: Api, user: str) -> None:
    for query, field in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("status=open", "status"),
                         ("cursor=!!!", "cursor"), ("assigned=me", "assigned"), ("bogus=1", "bogus")):
        response = api.get(f"/sessions?{query}", user)
        assert response.status_code == 422, query
        assert field in response.get_json()["error"]["details"]["fields"], query
    assert api.get("/sessions?status=waiting&status=closed", user).status_code == 422


def test_claim_rules(api: Api, user: str, operator: str, open_session: OpenSession) -> None:
    session = open_session("funds")
    sid = session["id"]
    assert api.post(f"/sessions/{sid}/claim", user).status_code == 403
    claimed = api.post(f"/sessions/{sid}/claim", operator)
    assert claimed.status_code == 200
    assert claimed.get_json()["status"] == "active"
    assert claimed.get_json()["operator"] == {"id": "op-1", "name": "Sato"}
    assert api.post(f"/sessions/{sid}/claim", operator).status_code == 200  # own claim again: no-op
    rival = api.token("op-2", "operator", departments=["funds"])
    conflict = api.post(f"/sessions/{sid}/claim", rival)
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["details"]["reason"] == "already_claimed"
    outsider = api.token("op-3", "operator", departments=["security"])
    assert api.post(f"/sessions/{sid}/claim", outsider).status_code == 404


def test_close_and_reopen_keep_history(api: Api, user: str, operator: str, open_session: OpenSession) -> None:
    sid = open_session("funds", message={"body": "help", "client_msg_id": "a"})["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    closed = api.post(f"/sessions/{sid}/close", operator)
    assert closed.status_code == 200
    assert closed.get_json()["status"] == "closed" and closed.get_json()["closed_at"] is not None
    assert api.post(f"/sessions/{sid}/close", user).get_json()["status"] == "closed"  # idempotent
    assert api.post(f"/sessions/{sid}/claim", operator).status_code == 409
    refused = api.post(f"/sessions/{sid}/messages", user, json={"client_msg_id": "b", "body": "still there?"})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["details"]["reason"] == "session_closed"
    assert api.post(f"/sessions/{sid}/reopen", operator).status_code == 403
    reopened = api.post(f"/sessions/{sid}/reopen", user).get_json()
    assert (reopened["status"], reopened["operator"], reopened["closed_at"]) == ("waiting", None, None)
    sent = api.post(f"/sessions/{sid}/messages", user, json={"client_msg_id": "b", "body": "still there?"})
    assert sent.status_code == 201 and sent.get_json()["seq"] == 3
    history = api.get(f"/sessions/{sid}/messages", user).get_json()["items"]
    assert [m["body"] for m in history] == ["help", "Sato が対応します", "still there?"]
    assert [m["sender"]["type"] for m in history] == ["user", "system", "user"]


def test_list_one_users_sessions(api: Api, user: str, other_user: str, operator: str) -> None:
    """`user_id` (the console's customer panel) narrows the list to one user's chats the caller may see."""
    mine = [api.post("/sessions", user, json={"category": c}).get_json()["id"] for c in ("funds", "trading")]
    theirs = api.post("/sessions", other_user, json={"category": "funds"}).get_json()["id"]
    user_sub = api.get(f"/sessions/{mine[0]}", user).get_json()["user_id"]
    listed = api.get(f"/sessions?user_id={user_sub}&order=asc", operator).get_json()["items"]
    assert [s["id"] for s in listed] == mine
    assert theirs not in [s["id"] for s in api.get(f"/sessions?user_id={user_sub}", other_user).get_json()["items"]]
    assert api.get("/sessions?user_id=", operator).status_code == 422
