"""Messages of a session, and the caller's read position in it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal, json_body, query_args
from support_api.lib.access import get_session
from support_api.lib.runtime import get_runtime
from support_api.schemas.requests import (
    MessageCreateSchema,
    MessageListQuery,
    ReadSchema,
)
from support_api.schemas.responses import dump_message
from support_api.services import messages, queries, read_state

bp = Blueprint("messages", __name__)

_create = MessageCreateSchema()
_list = MessageListQuery()
_read = ReadSchema()


@bp.post("/sessions/<session_id>/messages")
def send(session_id: str) -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_create)
    result = messages.send_message(get_runtime(), principal, session_id, body=data["body"],
                                   client_msg_id=data["client_msg_id"], attachment_ids=data["attachment_ids"],
                                   confirm_sensitive=data["confirm_sensitive"])
    body = dump_message(result.message, get_runtime().signer)
    if result.masked_kinds:
        body["masked_kinds"] = list(result.masked_kinds)
    return body, 201 if result.created else 200


@bp.get("/sessions/<session_id>/messages")
def history(session_id: str) -> dict[str, Any]:
    rt, principal = get_runtime(), current_principal()
    args = query_args(_list)
    with rt.db.read() as db:
        chat = get_session(db, principal, session_id)
        rows, has_more = queries.list_messages(db, chat, after_seq=args.get("after_seq"),
                                               before_seq=args.get("before_seq"), limit=args["limit"])
    return {"items": [dump_message(row, rt.signer) for row in rows], "has_more": has_more, "last_seq": chat.last_seq}


@bp.post("/sessions/<session_id>/read")
def mark_read(session_id: str) -> dict[str, Any]:
    principal = current_principal()
    data = json_body(_read)
    return read_state.mark_read(get_runtime(), principal, session_id, data["seq"])
