"""The caller's own view: who they are and their unread badge."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal
from support_api.lib.runtime import get_runtime
from support_api.services import queries

bp = Blueprint("me", __name__)


@bp.get("/me")
def me() -> dict[str, Any]:
    principal = current_principal()
    return {"id": principal.id, "role": principal.role.value, "name": principal.name,
            "locale": principal.locale, "departments": list(principal.departments)}


@bp.get("/me/unread")
def unread() -> dict[str, int]:
    rt, principal = get_runtime(), current_principal()
    with rt.db.read() as db:
        return queries.unread_summary(db, principal)
