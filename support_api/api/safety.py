"""Trust and safety for users (issue 15): who from support wrote to me, and is this contact
really the exchange's (docs/safety.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal, json_body, query_args
from support_api.lib.runtime import get_runtime
from support_api.schemas.requests import ContactsQuery, VerifyContactSchema
from support_api.schemas.responses import iso
from support_api.services import safety

bp = Blueprint("safety", __name__)

_contacts_query = ContactsQuery()
_verify_body = VerifyContactSchema()


@bp.get("/me/contacts")
def my_contacts() -> dict[str, Any]:
    args = query_args(_contacts_query)
    rows = safety.contacts(get_runtime(), current_principal(), args["limit"])
    items = [{**row, "first_message_at": iso(row["first_message_at"]), "last_message_at": iso(row["last_message_at"])}
             for row in rows]
    return {"items": items, "next_cursor": None}


@bp.post("/verify-contact")
def verify_contact() -> dict[str, Any]:
    body = json_body(_verify_body)
    return safety.verify_contact(get_runtime(), current_principal(), handle=body.get("handle"), url=body.get("url"),
                                 text=body.get("text"))
