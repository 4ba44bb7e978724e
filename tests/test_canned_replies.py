"""Canned replies: admins manage them, operators list, search and render them (issue 6)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from support_api.lib import cursors
from support_api.models import utcnow
from tests.conftest import Api
from tests.contract import SPEC_PATH

HANAKO_JA = "{user_name}様、お問い合わせありがとうございます。{category}の件、担当の{operator_name}が確認いたします。"


@pytest.fixture
def admin(api: Api) -> str:
    return api.token("admin-1", "admin", name="Boss")


def _create(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    body = {"title": "Greeting", "body": "Hello {user_name}", **fields}
    response = api.post("/canned-replies", token, json=body)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def _patch(api: Api, token: str, reply_id: str, body: Any) -> Any:
    return api.request("PATCH", f"/canned-replies/{reply_id}", token, json=body)


def _list(api: Api, token: str, query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"/canned-replies?limit=100{query}", token)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


def _titles(api: Api, token: str, query: str = "") -> set[str]:
    return {item["title"] for item in _list(api, token, query)}


def _fields(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    fields: dict[str, Any] = error["details"]["fields"]
    return fields


def _audit(api: Api, admin: str, action: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/admin/audit?action={action}", admin).get_json()["items"]
    return items


def test_admins_manage_operators_read_users_are_refused(api: Api, admin: str, operator: str, user: str) -> None:
    created = _create(api, admin, title="入金反映の確認", body=HANAKO_JA, locale="ja", department="funds")
    assert created["id"].startswith("cnr_")
    assert {k: created[k] for k in ("title", "body", "locale", "department", "created_by", "updated_by")} == {
        "title": "入金反映の確認", "body": HANAKO_JA, "locale": "ja", "department": "funds",
        "created_by": "admin-1", "updated_by": "admin-1"}
    assert created["created_at"] == created["updated_at"] and "rendered" not in created
    path = f"/canned-replies/{created['id']}"

    assert api.get(path, operator).get_json() == created
    assert [item["id"] for item in _list(api, operator)] == [created["id"]]

    # Operators use replies but do not manage them; users reach none of it.
    for response in (api.post("/canned-replies", operator, json={"title": "x", "body": "y"}),
                     _patch(api, operator, created["id"], {"title": "mine now"}),
                     api.request("DELETE", path, operator),
                     api.get("/canned-replies", user), api.get(path, user),
                     api.post("/canned-replies", user, json={"title": "x", "body": "y"}),
                     _patch(api, user, created["id"], {"title": "x"}), api.request("DELETE", path, user)):
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["error"]["code"] == "forbidden"
    assert api.get("/canned-replies").status_code == 401

    other_admin = api.token("admin-2", "admin")
    updated = _patch(api, other_admin, created["id"], {"title": "Deposit check", "locale": "en-us",
                                                       "body": "Hello {user_name}"})
    assert updated.status_code == 200, updated.get_json()
    changed = updated.get_json()
    assert (changed["title"], changed["locale"], changed["body"], changed["department"]) == (
        "Deposit check", "en-US", "Hello {user_name}", "funds")
    assert changed["created_by"] == "admin-1" and changed["updated_by"] == "admin-2"
    assert changed["updated_at"] >= changed["created_at"] == created["created_at"]
    assert api.get(path, operator).get_json() == changed

    # null clears locale and department: the reply is then for every locale and department.
    cleared = _patch(api, admin, created["id"], {"locale": None, "department": None}).get_json()
    assert cleared["locale"] is None and cleared["department"] is None and cleared["title"] == "Deposit check"
    # Sending the values it already has changes nothing and records nothing.
    same = _patch(api, admin, created["id"], {"title": "Deposit check", "locale": None})
    assert same.status_code == 200 and same.get_json() == cleared

    assert api.request("DELETE", path, admin).status_code == 204
    assert api.get(path, admin).status_code == 404
    assert api.request("DELETE", path, admin).status_code == 404
    assert _list(api, admin) == []

    (made,) = _audit(api, admin, "canned_reply.created")
    assert made["actor"] == {"type": "operator", "id": "admin-1", "role": "admin"}
    assert made["target"] == {"type": "canned_reply", "id": created["id"]}
    assert made["details"] == {"title": "入金反映の確認", "locale": "ja", "department": "funds"}
    updates = _audit(api, admin, "canned_reply.updated")
    assert sorted((e["actor"]["id"], e["details"]["fields"]) for e in updates) == [
        ("admin-1", ["department", "locale"]), ("admin-2", ["body", "locale", "title"])]
    (gone,) = _audit(api, admin, "canned_reply.deleted")
    assert gone["target"]["id"] == created["id"] and gone["actor"]["id"] == "admin-1"
    assert gone["details"] == {"title": "Deposit check", "locale": None, "department": None}


def _body_pattern() -> re.Pattern[str]:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return re.compile(spec["components"]["schemas"]["CannedReplyBody"]["pattern"])


@pytest.mark.parametrize(("body", "message"), [
    ("Hello {name}", "Unknown placeholder {name}"),
    ("Hello {user_name} from {operator}", "Unknown placeholder {operator}"),
    ("Hello {}", "Unknown placeholder {}"),
    ("Hello {0}", "Unknown placeholder {0}"),
    ("Hello {user_name.__class__}", "Unknown placeholder {user_name.__class__}"),
    ("Hello { user_name }", "Unknown placeholder { user_name }"),
    ("Hello {user_name", "Braces must pair up"),
    ("Hello user_name}", "Braces must pair up"),
    ("Hello {user_name!r}", "without a format spec or conversion"),
    ("Hello {user_name:>20}", "without a format spec or conversion"),
    ("Hello {user_name:}", "without a format spec or conversion"),
])
def test_bodies_with_unknown_placeholders_or_broken_braces_are_refused(api: Api, admin: str, body: str,
                                                                       message: str) -> None:
    fields = _fields(api.post("/canned-replies", admin, json={"title": "t", "body": body}))
    assert set(fields) == {"body"} and any(message in text for text in fields["body"]), fields
    created = _create(api, admin)
    assert set(_fields(_patch(api, admin, created["id"], {"body": body}))) == {"body"}
    # openapi.yaml's pattern states the same rule.
    assert not _body_pattern().match(body)
    assert len(_list(api, admin)) == 1 and len(_audit(api, admin, "canned_reply.updated")) == 0


def test_literal_braces_and_every_placeholder_are_accepted(api: Api, admin: str) -> None:
    body = "{{literal}} {user_name} {operator_name} {category} {session_id} }}\r\nbye"
    created = _create(api, admin, body=body)
    assert created["body"] == body.replace("\r\n", "\n")
    assert _body_pattern().match(body)


@pytest.mark.parametrize(("fields", "bad"), [
    ({"title": "x" * 201}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "two\nlines"}, "title"),
    ({"title": None}, "title"),
    ({"body": "x" * 4001}, "body"),
    ({"body": ""}, "body"),
    ({"body": " \n\t"}, "body"),
    ({"body": "nul\x00"}, "body"),
    ({"locale": "japanese"}, "locale"),
    ({"locale": "j"}, "locale"),
    ({"locale": "en-"}, "locale"),
    ({"locale": "en US"}, "locale"),
    ({"locale": "en-" + "a" * 40}, "locale"),
    ({"department": "billing"}, "department"),
    ({"department": 3}, "department"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_fields_are_refused_on_create_and_update(api: Api, admin: str, fields: dict[str, Any],
                                                         bad: str) -> None:
    body = {"title": "t", "body": "b", **fields}
    assert bad in _fields(api.post("/canned-replies", admin, json=body))
    created = _create(api, admin)
    assert bad in _fields(_patch(api, admin, created["id"], fields))
    assert _list(api, admin) == [created]


def test_limits_are_inclusive_and_an_update_must_change_a_field(api: Api, admin: str) -> None:
    longest = _create(api, admin, title="t" * 200, body="b" * 4000, locale="zh-Hant-TW")
    assert len(longest["title"]) == 200 and len(longest["body"]) == 4000 and longest["locale"] == "zh-Hant-TW"
    assert _create(api, admin, locale="EN_us")["locale"] == "en-US"
    assert "_schema" in _fields(_patch(api, admin, longest["id"], {}))
    assert api.request("PATCH", f"/canned-replies/{longest['id']}", admin, data="{",
                       content_type="application/json").status_code == 400
    assert api.request("PATCH", f"/canned-replies/{longest['id']}", admin, data="title=x",
                       content_type="application/x-www-form-urlencoded").status_code == 415


def test_operators_see_their_departments_and_locale_filters_by_language(api: Api, admin: str) -> None:
    for title, department, locale in [("funds-ja", "funds", "ja"), ("funds-jaJP", "funds", "ja-JP"),
                                      ("funds-en", "funds", "en"), ("trading-any", "trading", None),
                                      ("security-ja", "security", "ja"), ("all-any", None, None),
                                      ("all-en-US", None, "en-US")]:
        _create(api, admin, title=title, department=department, locale=locale)
    funds_op = api.token("op-funds", "operator", departments=["funds"])
    every_op = api.token("op-all", "operator")  # no departments in the token: all of them

    assert _titles(api, funds_op) == {"funds-ja", "funds-jaJP", "funds-en", "all-any", "all-en-US"}
    assert len(_list(api, every_op)) == len(_list(api, admin)) == 7
    security = next(r for r in _list(api, admin) if r["title"] == "security-ja")
    assert api.get(f"/canned-replies/{security['id']}", funds_op).status_code == 404
    assert api.get(f"/canned-replies/{security['id']}", every_op).status_code == 200

    assert _titles(api, admin, "&department=trading") == {"trading-any", "all-any", "all-en-US"}
    # A department the operator does not serve leaves only the replies for every department.
    assert _titles(api, funds_op, "&department=security") == {"all-any", "all-en-US"}

    ja = {"funds-ja", "funds-jaJP", "security-ja", "trading-any", "all-any"}
    assert _titles(api, admin, "&locale=ja") == ja
    assert _titles(api, admin, "&locale=ja-JP") == _titles(api, admin, "&locale=JA_jp") == ja
    assert _titles(api, admin, "&locale=en-GB") == {"funds-en", "trading-any", "all-any", "all-en-US"}
    assert _titles(api, admin, "&locale=fr") == {"trading-any", "all-any"}
    assert _titles(api, funds_op, "&locale=ja&department=funds") == {"funds-ja", "funds-jaJP", "all-any"}

    for query, field in (("locale=x", "locale"), ("department=billing", "department"), ("limit=0", "limit"),
                         ("limit=101", "limit"), ("q=", "q"), ("q=" + "x" * 201, "q"), ("colour=red", "colour"),
                         ("q=a&q=b", "q")):
        assert field in _fields(api.get(f"/canned-replies?{query}", admin)), query


def test_q_finds_substrings_case_insensitively_with_wildcards_literal(api: Api, admin: str, operator: str) -> None:
    _create(api, admin, title="Deposit not credited", body="We are checking your deposit.", locale="en")
    _create(api, admin, title="入金の確認", body="{user_name}様、入金が反映されるまでお待ちください。", locale="ja")
    _create(api, admin, title="Fees", body="The fee is 0.1% per trade.")
    _create(api, admin, title="Order ids", body="Quote the id that starts with ord_ please.")
    _create(api, admin, title="Security", body="Never share your password.", department="security")

    assert _titles(api, admin, "&q=DEPOSIT") == {"Deposit not credited"}
    assert _titles(api, admin, "&q=credit") == {"Deposit not credited"}  # title only
    assert _titles(api, admin, "&q=PASSWORD") == {"Security"}  # body only
    assert _titles(api, admin, "&q=入金") == {"入金の確認"}
    assert _titles(api, admin, "&q=反映される") == {"入金の確認"}
    assert _titles(api, admin, "&q=user_name") == {"入金の確認"}  # the template as written
    # % and _ are literal characters, not LIKE wildcards.
    assert _titles(api, admin, "&q=%25") == {"Fees"}
    assert _titles(api, admin, "&q=0.1%25") == {"Fees"}
    assert _titles(api, admin, "&q=d%25t") == set()  # as a wildcard it would find "Deposit not"
    assert _titles(api, admin, "&q=_") == {"Order ids", "入金の確認"}
    assert _titles(api, admin, "&q=ord_") == {"Order ids"}
    assert _titles(api, admin, "&q=w_rd") == set()  # as a wildcard it would find "password"
    assert _titles(api, admin, "&q=/") == set()  # the LIKE escape character is literal too
    assert _titles(api, admin, "&q=no such text") == set()
    # Search keeps the caller's departments and the other filters.
    assert _titles(api, operator, "&q=password") == set()
    assert _titles(api, admin, "&q=deposit&locale=ja") == set()
    assert _titles(api, admin, "&q=deposit&locale=en-US") == {"Deposit not credited"}


def test_rendered_fills_placeholders_from_a_session(api: Api, admin: str, operator: str,
                                                    open_session: Any, user: str) -> None:
    ja_reply = _create(api, admin, title="ja", body=HANAKO_JA, locale="ja")
    any_reply = _create(api, admin, title="any",
                        body="{{ref}} {session_id}: {category} / {operator_name} / {user_name}.")
    chat = open_session("funds")  # Hanako, token locale ja
    sid = chat["id"]

    def rendered(token: str, session_id: str = sid, query: str = "") -> dict[str, str]:
        return {item["title"]: item["rendered"] for item in _list(api, token, f"&session_id={session_id}{query}")}

    # Nobody holds the chat yet: the operator asking stands in for {operator_name}.
    assert rendered(operator) == {
        "ja": "Hanako様、お問い合わせありがとうございます。入出金の件、担当のSatoが確認いたします。",
        # No locale on the reply: the category is a word in the user's language.
        "any": f"{{ref}} {sid}: 入出金 / Sato / Hanako.",
    }
    assert api.post(f"/sessions/{sid}/claim", api.token("op-2", "operator", name="Suzuki")).status_code == 200
    assert rendered(operator)["any"] == f"{{ref}} {sid}: 入出金 / Suzuki / Hanako."
    assert "rendered" not in _list(api, operator)[0]
    assert "rendered" not in api.get(f"/canned-replies/{ja_reply['id']}", operator).get_json()

    # An English user with no name in the token, an admin with none either: empty values.
    en_user = api.token("user-9", locale="en")
    en_chat = open_session("system_error", token=en_user)["id"]
    en_reply = _create(api, admin, title="en", body="Hi {user_name}, {operator_name} here about your {category}.",
                       locale="en-US")
    admin_view = rendered(api.token("admin-3", "admin"), en_chat, "&locale=en")
    assert admin_view == {"en": "Hi ,  here about your system errors and bugs.", "any": f"{{ref}} {en_chat}: system errors and bugs /  / ."}
    # The reply's own language wins over the user's for the category word.
    assert rendered(admin, query="&locale=en")["en"] == "Hi Hanako, Suzuki here about your deposits and withdrawals."
    assert api.get(f"/canned-replies/{en_reply['id']}", admin).status_code == 200
    assert any_reply["body"].startswith("{{ref}}")

    # A session the caller may not see, an unknown one and a malformed id are all 404.
    trading_op = api.token("op-trading", "operator", name="Tanaka", departments=["trading"])
    for token, session_id in ((trading_op, sid), (admin, "ses_" + "0" * 28), (admin, "nope"),
                              (admin, "ses_" + "g" * 28)):
        response = api.get(f"/canned-replies?session_id={session_id}", token)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert api.get(f"/canned-replies?session_id={sid}", user).status_code == 403  # the role first


@pytest.mark.parametrize("reply_id", ["cnr_" + "0" * 28, "nope", "cnr_" + "A" * 28, "ses_" + "0" * 28,
                                      "cnr_" + "0" * 2000, "cnr_%00" + "0" * 25])
def test_unknown_and_malformed_ids_are_404(api: Api, admin: str, operator: str, reply_id: str) -> None:
    path = f"/canned-replies/{reply_id}"
    for response in (api.get(path, admin), api.get(path, operator), _patch(api, admin, reply_id, {"title": "x"}),
                     api.request("DELETE", path, admin)):
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["error"]["code"] == "not_found"
    assert _audit(api, admin, "canned_reply.updated") == _audit(api, admin, "canned_reply.deleted") == []


def test_pages_follow_the_cursor_newest_first(api: Api, admin: str, operator: str) -> None:
    made = [_create(api, admin, title=f"reply {n}", department="funds" if n % 2 else None)["id"] for n in range(7)]
    _create(api, admin, title="hidden", department="security")
    everything = [item["id"] for item in _list(api, operator)]
    assert sorted(everything) == sorted(made)
    times = [item["created_at"] for item in _list(api, operator)]
    assert times == sorted(times, reverse=True)  # newest first

    pages: list[list[str]] = []
    cursor = ""
    while True:
        response = api.get(f"/canned-replies?limit=3{cursor}", operator)
        assert response.status_code == 200
        page = response.get_json()
        pages.append([item["id"] for item in page["items"]])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == everything

    # The cursor of another list is not a canned-reply cursor.
    sessions_like = cursors.encode(utcnow(), "ses_" + "0" * 28)
    for bad in ("garbage", sessions_like):
        assert "cursor" in _fields(api.get(f"/canned-replies?cursor={bad}", operator))
