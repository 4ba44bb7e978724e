"""Chat sessions: open, list, view, claim, close, reopen, transfer, rate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from support_api.api.common import current_principal, json_body, query_args
from support_api.lib.access import get_session
from support_api.lib.auth import Role
from support_api.lib.errors import ValidationFailed
from support_api.lib.runtime import get_runtime
from support_api.lib.text import negotiate
from support_api.models import ChatSession, utcnow
from support_api.schemas.requests import RatingSchema, SessionCreateSchema, SessionListQuery, TransferSchema
from support_api.schemas.responses import dump_message, dump_session
from support_api.services import queries, queue, ratings, self_service, sessions, transfer

bp = Blueprint("sessions", __name__)

_create = SessionCreateSchema()
_list = SessionListQuery()
_transfer = TransferSchema()
_rating = RatingSchema()


def _with_unread(chat: ChatSession) -> dict[str, Any]:
    rt, principal = get_runtime(), current_principal()
    with rt.db.read() as db:
        unread = queries.unread_counts(db, principal, [chat.id]).get(chat.id, 0)
        where = queue.info(db, rt, chat, utcnow())
    return dump_session(chat, unread_count=unread, queue=where)


@bp.post("/sessions")
def open_session() -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_create)
    result = sessions.open_session(get_runtime(), principal, category=data["category"],
                                   message=data["message"], client_context=data["client_context"],
                                   locale=negotiate(principal.locale, request.accept_languages))
    body = _with_unread(result.session)
    if result.message is not None:
        body["first_message"] = dump_message(result.message, get_runtime().signer)
        if result.masked_kinds:
            body["first_message"]["masked_kinds"] = list(result.masked_kinds)
    return body, 201 if result.created else 200


@bp.get("/sessions")
def list_sessions() -> dict[str, Any]:
    rt, principal = get_runtime(), current_principal()
    args = query_args(_list)
    if args.get("assigned") and principal.role is Role.USER:
        raise ValidationFailed("Only operators can filter by assignment", {"fields": {"assigned": ["Not for users."]}})
    with rt.db.read() as db:
        rows, next_cursor = queries.list_sessions(
            db, principal, status=args.get("status"), category=args.get("category"),
            assigned_to_me=args.get("assigned") == "me", order=args["order"], limit=args["limit"],
            cursor=args.get("cursor"), user_id=args.get("user_id"),
        )
        unread = queries.unread_counts(db, principal, [row.id for row in rows])
        places = queue.info_many(db, rt, rows, utcnow())
    return {"items": [dump_session(row, unread_count=unread.get(row.id, 0), queue=places[row.id]) for row in rows],
            "next_cursor": next_cursor}


@bp.get("/sessions/<session_id>")
def get_one(session_id: str) -> dict[str, Any]:
    rt, principal = get_runtime(), current_principal()
    with rt.db.read() as db:
        chat = get_session(db, principal, session_id)
    return _with_unread(chat)


@bp.post("/sessions/<session_id>/claim")
def claim(session_id: str) -> dict[str, Any]:
    return _with_unread(sessions.claim_session(get_runtime(), current_principal(), session_id))


@bp.post("/sessions/<session_id>/close")
def close(session_id: str) -> dict[str, Any]:
    return _with_unread(sessions.close_session(get_runtime(), current_principal(), session_id))


@bp.post("/sessions/<session_id>/reopen")
def reopen(session_id: str) -> dict[str, Any]:
    return _with_unread(sessions.reopen_session(get_runtime(), current_principal(), session_id))


@bp.post("/sessions/<session_id>/transfer")
def transfer_session(session_id: str) -> dict[str, Any]:
    data = json_body(_transfer)
    chat = transfer.transfer_session(get_runtime(), current_principal(), session_id, department=data.get("department"),
                                     operator_id=data.get("operator_id"), note=data["note"])
    return _with_unread(chat)


@bp.post("/sessions/<session_id>/rating")
def rate(session_id: str) -> tuple[dict[str, Any], int]:
    data = json_body(_rating)
    chat = ratings.rate_session(get_runtime(), current_principal(), session_id, score=data["score"],
                                comment=data["comment"])
    return _with_unread(chat), 201


# --- self-service (issue 12, services/self_service.py) ---


@bp.post("/sessions/<session_id>/resolve")
def resolve(session_id: str) -> dict[str, Any]:
    return _with_unread(self_service.resolve(get_runtime(), current_principal(), session_id))


@bp.post("/sessions/<session_id>/handoff")
def handoff(session_id: str) -> dict[str, Any]:
    return _with_unread(self_service.handoff(get_runtime(), current_principal(), session_id))
