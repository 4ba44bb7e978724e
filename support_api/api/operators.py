"""Operators: their own availability, and who is online with what load."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from support_api.api.common import current_principal, json_body
from support_api.lib.runtime import get_runtime
from support_api.models import utcnow
from support_api.schemas.requests import OperatorStatusSchema
from support_api.schemas.responses import dump_operator
from support_api.services import operators, routing

bp = Blueprint("operators", __name__)

_status = OperatorStatusSchema()


@bp.put("/operators/me/status")
def set_status() -> dict[str, Any]:
    rt, principal = get_runtime(), current_principal()
    result = routing.set_operator_status(rt, principal, json_body(_status)["status"])
    with rt.db.read() as db:
        load = operators.loads(db, [principal.id]).get(principal.id, 0)
    status = operators.effective_status(result.operator, rt.presence, rt.settings.routing.away_grace_seconds,
                                        utcnow())
    return dump_operator(result.operator, status, load, rt.settings.routing.operator_capacity)


@bp.get("/operators")
def list_operators() -> dict[str, Any]:
    rt = get_runtime()
    items = operators.list_operators(rt, current_principal())
    capacity = rt.settings.routing.operator_capacity
    return {"items": [dump_operator(a.operator, a.status, a.load, capacity) for a in items]}
