"""Canned replies: admins manage them, operators list, search and render them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from support_api.api.common import current_principal, json_body, query_args
from support_api.lib.runtime import get_runtime
from support_api.schemas.requests import (
    CannedReplyCreateSchema,
    CannedReplyListQuery,
    CannedReplyUpdateSchema,
)
from support_api.schemas.responses import dump_canned_reply
from support_api.services import canned_replies

bp = Blueprint("canned_replies", __name__)

_create = CannedReplyCreateSchema()
_update = CannedReplyUpdateSchema()
_list = CannedReplyListQuery()


@bp.post("/canned-replies")
def create() -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_create)
    reply = canned_replies.create(get_runtime(), principal, title=data["title"], body=data["body"],
                                  locale=data["locale"], department=data["department"])
    return dump_canned_reply(reply), 201


@bp.get("/canned-replies")
def list_replies() -> dict[str, Any]:
    principal = current_principal()
    args = query_args(_list)
    page = canned_replies.list_replies(get_runtime(), principal, q=args.get("q"), locale=args.get("locale"),
                                       department=args.get("department"), session_id=args.get("session_id"),
                                       limit=args["limit"], cursor=args.get("cursor"))
    rendered = page.rendered or {}
    return {"items": [dump_canned_reply(reply, rendered.get(reply.id)) for reply in page.items],
            "next_cursor": page.next_cursor}


@bp.get("/canned-replies/<reply_id>")
def get_one(reply_id: str) -> dict[str, Any]:
    return dump_canned_reply(canned_replies.get(get_runtime(), current_principal(), reply_id))


@bp.patch("/canned-replies/<reply_id>")
def update(reply_id: str) -> dict[str, Any]:
    principal = current_principal()
    changes = json_body(_update)
    return dump_canned_reply(canned_replies.update(get_runtime(), principal, reply_id, changes))


@bp.delete("/canned-replies/<reply_id>")
def delete(reply_id: str) -> Response:
    canned_replies.delete(get_runtime(), current_principal(), reply_id)
    return Response(status=204)
