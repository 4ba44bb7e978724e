"""Messages of a session, staff's internal notes in it, and the caller's read position."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal, json_body, query_args
from support_api.lib.access import get_session
from support_api.lib.auth import Principal
from support_api.lib.runtime import get_runtime
from support_api.schemas.requests import (
    MessageCreateSchema,
    MessageListQuery,
    NoteListQuery,
    ReadSchema,
)
from support_api.schemas.responses import dump_message, dump_note
from support_api.services import messages, notes, queries, read_state

bp = Blueprint("messages", __name__)

_create = MessageCreateSchema()
_list = MessageListQuery()
_notes = NoteListQuery()
_read = ReadSchema()


@bp.post("/sessions/<session_id>/messages")
def send(session_id: str) -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_create)
    if data["visibility"] == "internal":
        return _post_note(principal, session_id, data)
    result = messages.send_message(get_runtime(), principal, session_id, body=data["body"],
                                   client_msg_id=data["client_msg_id"], attachment_ids=data["attachment_ids"],
                                   confirm_sensitive=data["confirm_sensitive"])
    body = {**result.dumped(get_runtime().signer)}  # a copy: masked_kinds is the sender's alone
    if result.masked_kinds:
        body["masked_kinds"] = list(result.masked_kinds)
    return body, 201 if result.created else 200


def _post_note(principal: Principal, session_id: str, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    result = notes.post_note(get_runtime(), principal, session_id, body=data["body"],
                             client_msg_id=data["client_msg_id"], confirm_sensitive=data["confirm_sensitive"])
    body = dump_note(result.note)
    if result.masked_kinds:
        body["masked_kinds"] = list(result.masked_kinds)
    return body, 201 if result.created else 200


@bp.get("/sessions/<session_id>/notes")
def list_notes(session_id: str) -> dict[str, Any]:
    args = query_args(_notes)
    rows, has_more, last_note_seq = notes.list_notes(get_runtime(), current_principal(), session_id,
                                                     after_seq=args["after_seq"], limit=args["limit"])
    return {"items": [dump_note(row) for row in rows], "has_more": has_more, "last_note_seq": last_note_seq}


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
