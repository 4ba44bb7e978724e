"""Response shapes (see `openapi.yaml` components): plain functions, since dumping sits on
the hot path of every message and needs no validation."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from support_api.lib.signing import UrlSigner
from support_api.models import (
    Attachment,
    AuditEntry,
    CannedReply,
    ChatSession,
    Incident,
    IncidentUpdate,
    InternalNote,
    Message,
    Operator,
)

if TYPE_CHECKING:
    from support_api.services.incidents import IncidentStats, Status
    from support_api.services.stats import Durations, Metrics, Stats


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with milliseconds and a `Z`, e.g. `2026-11-25T01:02:03.456Z`."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dump_session(chat: ChatSession, *, unread_count: int | None = None,
                 queue: tuple[int | None, int | None] | None = None) -> dict[str, Any]:
    """A Session. `unread_count` is the viewer's and `queue` its (queue_position,
    estimated_wait_seconds) (services/queue.py); broadcasts to many viewers leave both out."""
    data: dict[str, Any] = {
        "id": chat.id,
        "user_id": chat.user_id,
        "user_name": chat.user_name,
        "category": chat.category,
        "department": chat.department,
        "status": chat.status,
        "operator": {"id": chat.operator_id, "name": chat.operator_name} if chat.operator_id else None,
        "client_context": chat.client_context,
        "last_seq": chat.last_seq,
        "created_at": iso(chat.created_at),
        "updated_at": iso(chat.updated_at),
        "closed_at": iso(chat.closed_at),
        "rating": ({"score": chat.rating_score, "comment": chat.rating_comment, "rated_at": iso(chat.rated_at)}
                   if chat.rated_at else None),
        "close_reason": chat.close_reason,
        "incident_id": chat.incident_id,
    }
    # Issue 15: `scam_suspected` when the user described a likely scam (services/safety.py).
    data["risk"] = chat.risk
    data["risk_reason"] = chat.risk_reason
    if unread_count is not None:
        data["unread_count"] = unread_count
    if queue is not None:
        data["queue_position"], data["estimated_wait_seconds"] = queue
    return data


def dump_attachment(attachment: Attachment, signer: UrlSigner) -> dict[str, Any]:
    """An Attachment with fresh short-lived signed URLs for the image and its thumbnail."""
    return {
        "id": attachment.id,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "sha256": attachment.sha256,
        "url": signer.url(attachment.id, "original"),
        "thumbnail_url": signer.url(attachment.id, "thumbnail"),
        "created_at": iso(attachment.created_at),
    }


def dump_message(message: Message, signer: UrlSigner) -> dict[str, Any]:
    """A Message. Its attachments must have been loaded (see `Message.attachments`)."""
    return {
        "id": message.id,
        "session_id": message.session_id,
        "visibility": "public",
        "seq": message.seq,
        "sender": {"type": message.sender_type, "id": message.sender_id, "name": message.sender_name},
        "body": message.body,
        "attachments": [dump_attachment(a, signer) for a in message.attachments],
        "client_msg_id": message.client_msg_id,
        "created_at": iso(message.created_at),
        **({"suggestions": message.suggestions} if message.suggestions else {}),
    }


def dump_note(note: InternalNote) -> dict[str, Any]:
    """An InternalNote: staff only (never put one in a payload a user's socket can receive)."""
    return {
        "id": note.id,
        "session_id": note.session_id,
        "visibility": "internal",
        "seq": note.seq,
        "after_seq": note.after_seq,
        "sender": {"type": "operator" if note.author_id else "system", "id": note.author_id,
                   "name": note.author_name},
        "body": note.body,
        "client_msg_id": note.client_msg_id,
        "created_at": iso(note.created_at),
    }


def dump_audit_entry(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "created_at": iso(entry.created_at),
        "actor": {"type": entry.actor_type, "id": entry.actor_id, "role": entry.actor_role},
        "action": entry.action,
        "target": {"type": entry.target_type, "id": entry.target_id} if entry.target_type else None,
        "request_id": entry.request_id,
        "client_ip": entry.client_ip,
        "details": entry.details or {},
    }


def dump_operator(operator: Operator, status: str, load: int, capacity: int) -> dict[str, Any]:
    """An Operator's availability: `status` is the one that counts, `chosen_status` what they set."""
    return {
        "id": operator.id,
        "name": operator.name,
        "departments": list(operator.departments or []),
        "status": status,
        "chosen_status": operator.status,
        "load": load,
        "capacity": capacity,
        "status_changed_at": iso(operator.status_changed_at),
        "last_assigned_at": iso(operator.last_assigned_at),
    }


def _dump_durations(durations: Durations) -> dict[str, Any]:
    return {"p50": durations.p50, "p90": durations.p90, "average": durations.average, "count": durations.count}


def _dump_metrics(metrics: Metrics) -> dict[str, Any]:
    return {
        "sessions_opened": metrics.sessions_opened,
        "sessions_closed": metrics.sessions_closed,
        "wait_seconds": _dump_durations(metrics.wait_seconds),
        "first_response_seconds": _dump_durations(metrics.first_response_seconds),
        "resolution_seconds": _dump_durations(metrics.resolution_seconds),
        "rating": {"average": metrics.rating.average, "count": metrics.rating.count},
    }


def dump_stats(stats: Stats) -> dict[str, Any]:
    """SupervisorStats: the window, the totals, and one entry per department."""
    return {
        "since": iso(stats.since),
        "until": iso(stats.until),
        "generated_at": iso(stats.generated_at),
        "totals": _dump_metrics(stats.totals),
        "departments": [{"department": name, **_dump_metrics(metrics)} for name, metrics in stats.departments],
        "safety": stats.safety,
        **({"self_service": _dump_self_service(stats)} if stats.self_service is not None else {}),
    }


def _dump_self_service(stats: Stats) -> dict[str, Any]:
    figures = stats.self_service
    assert figures is not None
    return {
        "suggested": figures.suggested,
        "self_resolved": figures.self_resolved,
        "reopened_after_self_resolved": figures.reopened_after_self_resolved,
        "handed_off": figures.handed_off,
        "article_views": figures.article_views,
        "top_missed_searches": [{"query": q, "count": n} for q, n in figures.top_missed_searches],
    }


def dump_canned_reply(reply: CannedReply, rendered: str | None = None) -> dict[str, Any]:
    """A CannedReply; `rendered` (its body filled from a session) only when the caller named one."""
    data: dict[str, Any] = {
        "id": reply.id,
        "title": reply.title,
        "body": reply.body,
        "locale": reply.locale,
        "department": reply.department,
        "created_by": reply.created_by,
        "updated_by": reply.updated_by,
        "created_at": iso(reply.created_at),
        "updated_at": iso(reply.updated_at),
    }
    if rendered is not None:
        data["rendered"] = rendered
    return data


# --- incidents (issue 13) ----------------------------------------------------------------


def _dump_incident_update(update: IncidentUpdate) -> dict[str, Any]:
    return {"id": update.id, "status": update.status, "body": {"ja": update.body_ja, "en": update.body_en},
            "created_at": iso(update.created_at)}


def dump_incident_summary(incident: Incident) -> dict[str, Any]:
    """IncidentSummary: both languages and the latest update only (the `status:updated` event)."""
    latest = incident.latest_update
    return {
        "id": incident.id,
        "title": {"ja": incident.title_ja, "en": incident.title_en},
        "status": incident.status,
        "impact": incident.impact,
        "categories": list(incident.categories or []),
        "started_at": iso(incident.started_at),
        "resolved_at": iso(incident.resolved_at),
        "eta": iso(incident.eta),
        "updated_at": iso(incident.updated_at),
        "latest_update": _dump_incident_update(latest) if latest else None,
    }


def dump_incident(incident: Incident, stats: IncidentStats) -> dict[str, Any]:
    """Incident (staff): the whole timeline, oldest first, and its chats' figures."""
    data = dump_incident_summary(incident)
    del data["latest_update"]
    data["updates"] = [_dump_incident_update(update) for update in incident.updates]
    data["stats"] = {"linked_sessions": stats.linked_sessions,
                     "closed_without_operator": stats.closed_without_operator}
    return data


def dump_status(status: Status, lang: str) -> dict[str, Any]:
    """ServiceStatus (`GET /v1/status`) in one language. Nothing time-dependent but the data
    itself, so equal data gives an equal body and ETag."""
    incidents = []
    for incident in status.incidents:
        latest = incident.latest_update
        incidents.append({
            "id": incident.id,
            "title": incident.title_ja if lang == "ja" else incident.title_en,
            "status": incident.status,
            "impact": incident.impact,
            "categories": list(incident.categories or []),
            "started_at": iso(incident.started_at),
            "eta": iso(incident.eta),
            "latest_update": {"status": latest.status, "body": latest.body_ja if lang == "ja" else latest.body_en,
                              "created_at": iso(latest.created_at)} if latest else None,
        })
    return {"locale": lang, "incidents": incidents,
            "categories": [{"category": name, "state": state} for name, state in status.categories.items()]}
