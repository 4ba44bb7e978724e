"""The one access gate: only this module turns a session id into a session for a caller.

A user reaches only their own sessions; an operator reaches sessions of their departments
(all when the token names none); an admin reaches all. Anything else is `not_found`, never
`forbidden`, so an id says nothing about whether someone else's session exists.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select, true
from sqlalchemy.orm import Session

from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Forbidden, NotFound
from support_api.models import Attachment, ChatSession

_SESSION_ID = re.compile(r"^ses_[0-9a-f]{28}$")
_ATTACHMENT_ID = re.compile(r"^att_[0-9a-f]{28}$")


def _scope(principal: Principal) -> tuple[str, dict[str, Any]]:
    """Which sessions `principal` may see, and the values that say so: a user their own, an
    operator whose token names departments those departments', anyone else all."""
    if principal.role is Role.USER:
        return "user", {"user_id": principal.id}
    if principal.role is Role.OPERATOR and principal.departments:
        return "departments", {"departments": list(principal.departments)}
    return "all", {}


def _scope_clause(scope: str, values: dict[str, Any]) -> ColumnElement[bool]:
    """The WHERE clause of a `_scope`, its values literal or bound parameters."""
    if scope == "user":
        return ChatSession.user_id == values["user_id"]
    if scope == "departments":
        return ChatSession.department.in_(values["departments"])
    return true()


def visible_sessions(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause selecting exactly the sessions `principal` may see."""
    return _scope_clause(*_scope(principal))


def can_see(principal: Principal, chat: ChatSession) -> bool:
    return can_see_parts(principal, chat.user_id, chat.department)


def can_see_parts(principal: Principal, user_id: str, department: str) -> bool:
    """`can_see` from the two columns it depends on (room revocation has no row at hand)."""
    if principal.role is Role.USER:
        return user_id == principal.id
    if principal.role is Role.OPERATOR and principal.departments:
        return department in principal.departments
    return True


def is_session_id(value: object) -> bool:
    """Whether `value` has the shape of an id this API issues (checked before any SQL)."""
    return isinstance(value, str) and _SESSION_ID.match(value) is not None


@lru_cache(maxsize=8)
def _session_statement(scope: str, for_update: bool) -> Select[tuple[ChatSession]]:
    """get_session's query for one `scope` of caller, with bound parameters, built once: an
    `in_` built per call leaves its objects in reference cycles for the garbage collector,
    and this runs for nearly every request and socket event."""
    bound = {"user_id": bindparam("user_id"), "departments": bindparam("departments", expanding=True)}
    query = select(ChatSession).where(ChatSession.id == bindparam("session_id"), _scope_clause(scope, bound))
    return query.with_for_update() if for_update else query


def get_session(db: Session, principal: Principal, session_id: str, *, for_update: bool = False) -> ChatSession:
    """The session if `principal` may see it, else NotFound. `for_update` locks the row."""
    # Checked before querying: a malformed id (NUL bytes, huge strings) never reaches SQL.
    if not is_session_id(session_id):
        raise NotFound("Session not found")
    scope, values = _scope(principal)
    chat = db.execute(_session_statement(scope, for_update), {"session_id": session_id, **values}).scalar_one_or_none()
    if chat is None:
        raise NotFound("Session not found")
    return chat


def is_uploader(principal: Principal, attachment: Attachment) -> bool:
    return attachment.uploader_type == principal.participant_type and attachment.uploader_id == principal.id


def get_attachment(db: Session, principal: Principal, attachment_id: str) -> Attachment:
    """The attachment if `principal` may see it, else NotFound.

    Before a message claims it, only its uploader may; afterwards also everyone who may see
    the session it was posted in.
    """
    if not isinstance(attachment_id, str) or not _ATTACHMENT_ID.match(attachment_id):
        raise NotFound("Attachment not found")
    attachment = db.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("Attachment not found")
    if is_uploader(principal, attachment):
        return attachment
    if attachment.session_id is not None:
        chat = db.get(ChatSession, attachment.session_id)
        if chat is not None and can_see(principal, chat):
            return attachment
    raise NotFound("Attachment not found")


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise Forbidden(
            "This action is not available to your role",
            {"role": principal.role.value, "allowed": [r.value for r in roles]},
        )
