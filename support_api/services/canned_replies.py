"""Canned replies: admins write them, operators (and admins) list, search and use them.

A reply's body is a template. The only placeholders are `PLACEHOLDERS`, written `{name}`
with nothing else inside the braces; `{{` and `}}` are literal braces. Anything else (an
unknown name, a format spec or conversion, `{}`, a lone brace) is refused when the reply
is written, so every stored body renders. Rendering never calls `str.format`: a template
names a value, it cannot reach attributes or format specs.

Filled from a session (`render`):
- `user_name`: the session's user name (from the user's token); empty when it has none;
- `operator_name`: the session's operator, else the caller (about to take it); else empty;
- `category`: the session's category as a word in the reply's language (its `locale`,
  else the user's locale; ja or en), e.g. `入出金` / `deposits and withdrawals`;
- `session_id`: the session's id (a reference number to quote).
A missing value renders empty rather than a generic word: a template such as
`{user_name}様` would read wrong with any stand-in, and admins know the rule.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from support_api.lib import cursors
from support_api.lib.access import get_session, require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import NotFound, ValidationFailed
from support_api.lib.categories import category_name
from support_api.lib.push_text import language
from support_api.lib.runtime import Runtime
from support_api.models import CannedReply, ChatSession, new_id, utcnow
from support_api.services import audit, guard

PLACEHOLDERS = ("user_name", "operator_name", "category", "session_id")

_ID_PREFIX = "cnr"
_REPLY_ID = re.compile(r"^cnr_[0-9a-f]{28}\Z")
_FORMATTER = string.Formatter()
# Fields an update may change (CannedReplyUpdateSchema sends no others).
_EDITABLE = ("title", "body", "locale", "department")


def canonical_locale(locale: str | None) -> str | None:
    """`EN_us` → `en-US`: BCP 47's usual case (language lower, region upper, script title), so
    equal tags compare equal in SQL. The schema has already checked the shape."""
    if locale is None:
        return None
    first, *rest = locale.replace("_", "-").split("-")
    subtags = [first.lower()]
    for subtag in rest:
        if len(subtag) == 2 and subtag.isalpha():
            subtags.append(subtag.upper())
        elif len(subtag) == 4 and subtag.isalpha():
            subtags.append(subtag.title())
        else:
            subtags.append(subtag.lower())
    return "-".join(subtags)


def _parse(body: str) -> list[tuple[str, str | None]]:
    """The template as (literal text, placeholder or None) pairs, or ValidationFailed on `body`."""
    try:
        parts = list(_FORMATTER.parse(body))
    except ValueError:
        raise ValidationFailed("The reply's body is not a valid template", {"fields": {"body": [
            "Braces must pair up as placeholders such as {user_name}; write {{ and }} for literal braces."]}}) from None
    errors: list[str] = []
    rebuilt: list[str] = []
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parts:
        rebuilt.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            pieces.append((literal, None))
            continue
        error = None
        if name not in PLACEHOLDERS:
            shown = name if len(name) <= 40 else name[:39] + "…"  # the message echoes it: keep it short
            error = f"Unknown placeholder {{{shown}}}; use " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS) + "."
        elif spec or conversion:
            error = f"Write the placeholder as {{{name}}}, without a format spec or conversion."
        if error is not None and error not in errors:
            errors.append(error)
        rebuilt.append(f"{{{name}}}")
        pieces.append((literal, name))
    # `{user_name:}` parses exactly like `{user_name}`: only the plain spelling is accepted, so
    # the rule is the one openapi.yaml's pattern states.
    if not errors and "".join(rebuilt) != body:
        errors.append("Write placeholders as {name}, without a format spec or conversion.")
    if errors:
        raise ValidationFailed("The reply's body is not a valid template", {"fields": {"body": errors}})
    return pieces


def render(reply: CannedReply, chat: ChatSession, principal: Principal) -> str:
    """The reply's body with the placeholders filled from `chat` (see the module docstring)."""
    values = {
        "user_name": chat.user_name or "",
        "operator_name": (chat.operator_name if chat.operator_id else principal.name) or "",
        "category": category_name(language(reply.locale or chat.user_locale), chat.category),
        "session_id": chat.id,
    }
    return "".join(literal + (values[name] if name else "") for literal, name in _parse(reply.body))


def _visible(principal: Principal) -> ColumnElement[bool]:
    """Replies `principal` may see: an operator, those of their departments (all when the token
    names none) and those for every department; an admin, all."""
    if principal.role is Role.OPERATOR and principal.departments:
        return or_(CannedReply.department.is_(None), CannedReply.department.in_(principal.departments))
    return true()


def _for_locale(locale: str) -> ColumnElement[bool]:
    """Replies in `locale`'s language (`ja` and `ja-JP` alike) and those for every locale."""
    lang = locale.replace("_", "-").split("-")[0].lower()
    # Stored tags are canonical (`canonical_locale`) and a language is only letters: nothing
    # to escape in the LIKE.
    return or_(CannedReply.locale.is_(None), CannedReply.locale == lang, CannedReply.locale.like(f"{lang}-%"))


def _get(db: Session, principal: Principal, reply_id: str, *, for_update: bool = False) -> CannedReply:
    # Checked before querying: a malformed id (NUL bytes, huge strings) never reaches SQL.
    if not isinstance(reply_id, str) or not _REPLY_ID.match(reply_id):
        raise NotFound("Canned reply not found")
    query = select(CannedReply).where(CannedReply.id == reply_id, _visible(principal))
    if for_update:
        query = query.with_for_update()
    reply = db.execute(query).scalar_one_or_none()
    if reply is None:
        raise NotFound("Canned reply not found")
    return reply


def _describe(reply: CannedReply) -> dict[str, Any]:
    return {"title": reply.title, "locale": reply.locale, "department": reply.department}


def _screened(rt: Runtime, principal: Principal, values: dict[str, str]) -> dict[str, str]:
    """Issue 15: the guard screens a reply's title (copied into audit entries) and its body (sent
    to users as the operator's message: off-platform details refused here already)."""
    out = {}
    for name, value in values.items():
        out[name] = guard.screen(rt, principal, value, session_of=lambda: None, field=name,
                                 confirm_sensitive=name == "body").text
    return out


def create(rt: Runtime, principal: Principal, *, title: str, body: str, locale: str | None,
           department: str | None) -> CannedReply:
    require_role(principal, Role.ADMIN)
    _parse(body)
    title, body = _screened(rt, principal, {"title": title, "body": body}).values()
    now = utcnow()
    reply = CannedReply(id=new_id(_ID_PREFIX), title=title, body=body, locale=canonical_locale(locale),
                        department=department, created_by=principal.id, updated_by=principal.id,
                        created_at=now, updated_at=now)
    with rt.db.write() as db:
        db.add(reply)
        audit.record(db, principal, "canned_reply.created", "canned_reply", reply.id, _describe(reply))
    return reply


def update(rt: Runtime, principal: Principal, reply_id: str, changes: dict[str, Any]) -> CannedReply:
    """Change the fields in `changes` (a partial update; None clears `locale` or `department`).
    Values equal to the stored ones change nothing, and an update that changes nothing is not
    recorded."""
    require_role(principal, Role.ADMIN)
    if "body" in changes:
        _parse(changes["body"])
    changes = {**changes, **_screened(rt, principal, {name: changes[name] for name in ("title", "body")
                                                      if changes.get(name)})}
    if "locale" in changes:
        changes = {**changes, "locale": canonical_locale(changes["locale"])}
    with rt.db.write() as db:
        reply = _get(db, principal, reply_id, for_update=True)
        changed = sorted(name for name in _EDITABLE if name in changes and getattr(reply, name) != changes[name])
        if changed:
            for name in changed:
                setattr(reply, name, changes[name])
            reply.updated_by = principal.id
            reply.updated_at = utcnow()
            audit.record(db, principal, "canned_reply.updated", "canned_reply", reply.id, {"fields": changed})
    return reply


def delete(rt: Runtime, principal: Principal, reply_id: str) -> None:
    require_role(principal, Role.ADMIN)
    with rt.db.write() as db:
        reply = _get(db, principal, reply_id, for_update=True)
        # The trail keeps what the reply was: the row itself is gone.
        audit.record(db, principal, "canned_reply.deleted", "canned_reply", reply.id, _describe(reply))
        db.delete(reply)


def get(rt: Runtime, principal: Principal, reply_id: str) -> CannedReply:
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    with rt.db.read() as db:
        return _get(db, principal, reply_id)


@dataclass(frozen=True)
class Page:
    items: list[CannedReply]
    next_cursor: str | None
    # Each item's body filled from the session named in the request; None without one.
    rendered: dict[str, str] | None


def list_replies(rt: Runtime, principal: Principal, *, q: str | None = None, locale: str | None = None,
                 department: str | None = None, session_id: str | None = None, limit: int = 20,
                 cursor: str | None = None) -> Page:
    """Replies the caller may see, newest first, narrowed to what suits a chat: `locale` keeps
    its language's and the locale-less ones, `department` that department's and the
    department-less ones; `q` is a case-insensitive substring of the title or body."""
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    query = select(CannedReply).where(_visible(principal))
    if locale:
        query = query.where(_for_locale(locale))
    if department:
        query = query.where(or_(CannedReply.department.is_(None), CannedReply.department == department))
    if q:
        # autoescape: `%`, `_` (and the escape character) in `q` are literal, not wildcards.
        # SQLite lowers ASCII only; PostgreSQL's ILIKE folds case per the database's locale.
        query = query.where(or_(CannedReply.title.icontains(q, autoescape=True),
                                CannedReply.body.icontains(q, autoescape=True)))
    if cursor:
        query = query.where(cursors.beyond(CannedReply.created_at, CannedReply.id, cursor, _ID_PREFIX,
                                           descending=True))
    query = query.order_by(CannedReply.created_at.desc(), CannedReply.id.desc()).limit(limit + 1)
    with rt.db.read() as db:
        chat = get_session(db, principal, session_id) if session_id is not None else None
        rows = list(db.execute(query).scalars())
    next_cursor = cursors.encode(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    rows = rows[:limit]
    rendered = {row.id: render(row, chat, principal) for row in rows} if chat is not None else None
    return Page(rows, next_cursor, rendered)
