"""Incidents (staff) and the public service status (no token). See docs/incidents.md."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Response, request

from support_api.api.common import current_principal, json_body, query_args
from support_api.lib.runtime import get_runtime
from support_api.lib.transcript_text import choose_language
from support_api.models import Category
from support_api.schemas.requests import (
    IncidentCreateSchema,
    IncidentListQuery,
    IncidentPatchSchema,
    IncidentUpdateSchema,
    StatusQuery,
)
from support_api.schemas.responses import dump_incident, dump_session, dump_status
from support_api.services import incidents

bp = Blueprint("incidents", __name__)

_create = IncidentCreateSchema()
_patch = IncidentPatchSchema()
_update = IncidentUpdateSchema()
_list = IncidentListQuery()
_status = StatusQuery()

# Short: the banner must show a new incident within seconds, yet a burst of app launches
# during an outage is answered by caches (and by 304s for the unchanged).
STATUS_CACHE_CONTROL = "public, max-age=10"


def _staff_view(incident_id: str) -> dict[str, Any]:
    incident, stats = incidents.get(get_runtime(), current_principal(), incident_id)
    return dump_incident(incident, stats)


@bp.post("/incidents")
def create() -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_create)
    incident = incidents.create(get_runtime(), principal, title=data["title"], impact=data["impact"],
                                categories=data["categories"], status=data["status"], eta=data["eta"],
                                body=data["body"])
    return _staff_view(incident.id), 201


@bp.get("/incidents")
def list_incidents() -> dict[str, Any]:
    principal = current_principal()
    args = query_args(_list)
    page = incidents.list_incidents(get_runtime(), principal, which=args["status"], limit=args["limit"],
                                    cursor=args.get("cursor"))
    return {"items": [dump_incident(incident, page.stats[incident.id]) for incident in page.items],
            "next_cursor": page.next_cursor}


@bp.get("/incidents/<incident_id>")
def get_one(incident_id: str) -> dict[str, Any]:
    return _staff_view(incident_id)


@bp.patch("/incidents/<incident_id>")
def patch(incident_id: str) -> dict[str, Any]:
    principal = current_principal()
    changes = json_body(_patch)
    incidents.patch(get_runtime(), principal, incident_id, changes)
    return _staff_view(incident_id)


@bp.post("/incidents/<incident_id>/updates")
def add_update(incident_id: str) -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_update)
    incidents.add_update(get_runtime(), principal, incident_id, status=data["status"], body=data["body"])
    return _staff_view(incident_id), 201


@bp.post("/incidents/<incident_id>/close-linked")
def close_linked(incident_id: str) -> dict[str, Any]:
    result = incidents.close_linked(get_runtime(), current_principal(), incident_id)
    return {"incident_id": result.incident.id, "closed": len(result.closed),
            "sessions": [dump_session(chat) for chat in result.closed]}


@bp.get("/status")
def status() -> Response:
    """No token: what the app's banner and Support screen show before any chat is opened."""
    args = query_args(_status)
    lang = choose_language(args.get("locale"), request.accept_languages.best_match(["ja", "en"]))
    body = dump_status(incidents.status(get_runtime(), [c.value for c in Category]), lang)
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    response = Response(raw, mimetype="application/json")
    response.set_etag(hashlib.sha256(raw).hexdigest()[:32])
    response.headers["Cache-Control"] = STATUS_CACHE_CONTROL
    # The body's language follows Accept-Language when ?locale= is absent.
    response.headers["Vary"] = "Accept-Language"
    return response.make_conditional(request)
