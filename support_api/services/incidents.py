"""Incidents: declaring one, its timeline, the public status, and the chats it touches.

One function per use case, each committing before it emits (docs/incidents.md):
- `create`, `patch`, `add_update` (admins): every change is broadcast as `status:updated` to
  every connected socket;
- `link_chat` (called by services/sessions.py in the transaction that opens or reopens a chat):
  a chat in a category an open incident affects is linked to it (`incident_id`) and answered
  at once with a SYSTEM message in the user's language (title, latest update, ETA);
- `add_update` also posts a SYSTEM message into every open linked chat (the recovery message
  when the status is `resolved`) and queues one push per user, collapsed per chat;
- `close_linked` (staff): after resolution, closes the linked chats still waiting, each with
  a localised closing note;
- `status` (anyone, no token): the open incidents and a state per category;
- `stats_of`: chats linked per incident and how many closed without an operator.

When several open incidents affect a category, a new chat is linked to the one of highest
impact, then the most recently started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from support_api.lib import cursors, system_text
from support_api.lib.access import require_role, visible_sessions
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Conflict, NotFound
from support_api.lib.events import message_audience, status_audience
from support_api.lib.runtime import Runtime
from support_api.models import (
    ChatSession,
    Incident,
    IncidentImpact,
    IncidentStatus,
    IncidentUpdate,
    Message,
    SessionStatus,
    utcnow,
)
from support_api.schemas.responses import dump_incident_summary, dump_message, dump_session
from support_api.services import audit, guard, routing
from support_api.services.push_outbox import enqueue_incident

IMPACT_RANK = {IncidentImpact.MINOR.value: 1, IncidentImpact.MAJOR.value: 2, IncidentImpact.CRITICAL.value: 3}
_ID_PREFIX = "inc"


@dataclass(frozen=True)
class IncidentStats:
    linked_sessions: int
    closed_without_operator: int


@dataclass(frozen=True)
class Page:
    items: list[Incident]
    next_cursor: str | None
    stats: dict[str, IncidentStats]


def _title(incident: Incident) -> dict[str, str]:
    return {"ja": incident.title_ja, "en": incident.title_en}


def _body(update: IncidentUpdate) -> dict[str, str]:
    return {"ja": update.body_ja, "en": update.body_en}


def _get(db: Session, incident_id: str, *, for_update: bool = False) -> Incident:
    if not isinstance(incident_id, str) or not incident_id.startswith(f"{_ID_PREFIX}_") or len(incident_id) > 40:
        raise NotFound("Incident not found")
    query = select(Incident).where(Incident.id == incident_id)
    if for_update:
        query = query.with_for_update()
    incident = db.execute(query).scalar_one_or_none()
    if incident is None:
        raise NotFound("Incident not found")
    return incident


def open_incidents(db: Session) -> list[Incident]:
    """Every incident not resolved, newest first (a handful at most: an index read)."""
    return list(db.execute(
        select(Incident).where(Incident.status != IncidentStatus.RESOLVED.value)
        .order_by(Incident.started_at.desc(), Incident.id.desc())
    ).scalars())


def affecting(db: Session, category: str) -> Incident | None:
    """The open incident a new chat of `category` is linked to (see the module's docstring)."""
    hits = [incident for incident in open_incidents(db) if category in (incident.categories or [])]
    if not hits:
        return None
    return max(hits, key=lambda i: (IMPACT_RANK.get(i.impact, 0), i.started_at, i.id))


def _broadcast(rt: Runtime, change: str, incident: Incident) -> None:
    rt.events.broadcast("status:updated", {"change": change, "incident": dump_incident_summary(incident)})


# --- admins: the incident itself ---------------------------------------------------------


def create(rt: Runtime, principal: Principal, *, title: dict[str, str], impact: str, categories: list[str],
           status: str, eta: datetime | None, body: dict[str, str] | None) -> Incident:
    """Declare an incident (optionally with its first update). Chats opened from now on in
    its categories are linked; chats already open are left as they are (they were opened for
    whatever their user wrote, not necessarily this incident)."""
    require_role(principal, Role.ADMIN)
    if status == IncidentStatus.RESOLVED.value:
        raise Conflict("An incident cannot start resolved", {"reason": "incident_resolved"})
    # Issue 15: published, pushed and posted into chats: screened like a message (docs/safety.md).
    title = guard.screen_localised(rt, principal, "title", title) or title
    body = guard.screen_localised(rt, principal, "body", body)
    now = utcnow()
    with rt.db.write() as db:
        incident = Incident(title_ja=title["ja"], title_en=title["en"], status=status, impact=impact,
                            categories=list(dict.fromkeys(categories)), started_at=now, eta=eta,
                            created_by=principal.id, created_at=now, updated_at=now)
        incident.updates = []
        if body is not None:
            incident.updates.append(IncidentUpdate(status=status, body_ja=body["ja"], body_en=body["en"],
                                                   created_by=principal.id, created_at=now))
        db.add(incident)
        db.flush()
        audit.record(db, principal, "incident.created", "incident", incident.id,
                     {"impact": impact, "categories": incident.categories})
    _broadcast(rt, "opened", incident)
    return incident


def patch(rt: Runtime, principal: Principal, incident_id: str, changes: dict[str, Any]) -> Incident:
    """Change the title, impact, categories or ETA of an open incident. Linked chats keep
    their link; new chats follow the new categories. No chat message: updates say what changed."""
    require_role(principal, Role.ADMIN)
    if "title" in changes:  # issue 15: screened (docs/safety.md)
        changes = {**changes, "title": guard.screen_localised(rt, principal, "title", changes["title"])}
    with rt.db.write() as db:
        incident = _get(db, incident_id, for_update=True)
        if not incident.is_open:
            raise Conflict("The incident is resolved", {"reason": "incident_resolved"})
        if "title" in changes:
            incident.title_ja, incident.title_en = changes["title"]["ja"], changes["title"]["en"]
        if "impact" in changes:
            incident.impact = changes["impact"]
        if "categories" in changes:
            incident.categories = list(dict.fromkeys(changes["categories"]))
        if "eta" in changes:
            incident.eta = changes["eta"]
        incident.updated_at = utcnow()
        audit.record(db, principal, "incident.changed", "incident", incident.id, {"fields": sorted(changes)})
    _broadcast(rt, "updated", incident)
    return incident


@dataclass(frozen=True)
class UpdateResult:
    incident: Incident
    update: IncidentUpdate
    posted: list[tuple[ChatSession, Message]]


def add_update(rt: Runtime, principal: Principal, incident_id: str, *, status: str,
               body: dict[str, str]) -> UpdateResult:
    """Add an update to an open incident; `resolved` resolves it. Every open linked chat gets
    a SYSTEM message (the recovery message on resolution) and its user one push per update."""
    require_role(principal, Role.ADMIN)
    body = guard.screen_localised(rt, principal, "body", body) or body  # issue 15 (docs/safety.md)
    now = utcnow()
    with rt.db.write() as db:
        incident = _get(db, incident_id, for_update=True)
        if not incident.is_open:
            raise Conflict("The incident is resolved", {"reason": "incident_resolved"})
        update = IncidentUpdate(incident_id=incident.id, status=status, body_ja=body["ja"], body_en=body["en"],
                                created_by=principal.id, created_at=now)
        incident.updates.append(update)
        incident.status = status
        incident.updated_at = now
        if status == IncidentStatus.RESOLVED.value:
            incident.resolved_at = now
        # Locked in id order, the same order every bulk path here uses: two updates (or an
        # update and close-linked) running together wait for each other instead of deadlocking.
        chats = db.execute(
            select(ChatSession).where(ChatSession.incident_id == incident.id,
                                      ChatSession.status != SessionStatus.CLOSED.value)
            .order_by(ChatSession.id).with_for_update()
        ).scalars().all()
        title = _title(incident)
        posted = []
        for chat in chats:
            text = (system_text.incident_resolved(chat.user_locale, title, body)
                    if status == IncidentStatus.RESOLVED.value else
                    system_text.incident_update(chat.user_locale, title, status, body, incident.eta))
            posted.append((chat, routing.append_system_message(db, chat, text, now)))
        db.flush()
        enqueue_incident(db, rt.settings, posted)
        audit.record(db, principal, "incident.updated", "incident", incident.id,
                     {"status": status, "linked_open_sessions": len(posted)})
    _announce_messages(rt, posted)
    _broadcast(rt, "resolved" if status == IncidentStatus.RESOLVED.value else "updated", incident)
    return UpdateResult(incident, update, posted)


def _announce_messages(rt: Runtime, posted: list[tuple[ChatSession, Message]]) -> None:
    for chat, message in posted:
        rt.events.emit("message:new", dump_message(message, rt.signer), message_audience(chat))


# --- chats -------------------------------------------------------------------------------


def link_chat(db: Session, chat: ChatSession, now: datetime) -> Message | None:
    """In the caller's transaction (the chat is new or locked, and waiting): link it to the open
    incident affecting its category and answer it at once; None when no incident applies."""
    incident = affecting(db, chat.category)
    if incident is None:
        return None
    chat.incident_id = incident.id
    latest = incident.latest_update
    text = system_text.incident_notice(chat.user_locale, _title(incident), _body(latest) if latest else None,
                                       incident.eta)
    return routing.append_system_message(db, chat, text, now)


@dataclass(frozen=True)
class CloseResult:
    incident: Incident
    closed: list[ChatSession]


def close_linked(rt: Runtime, principal: Principal, incident_id: str) -> CloseResult:
    """Staff close, in one call, the linked chats of a resolved incident that are still waiting
    (nobody took them: the recovery message answered them), each with a closing note. An
    operator closes only the chats of their departments (lib/access.py's rule)."""
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    now = utcnow()
    with rt.db.write() as db:
        incident = _get(db, incident_id)
        if incident.is_open:
            raise Conflict("Resolve the incident first", {"reason": "incident_open"})
        chats = db.execute(
            select(ChatSession).where(ChatSession.incident_id == incident.id,
                                      ChatSession.status == SessionStatus.WAITING.value, visible_sessions(principal))
            .order_by(ChatSession.id).with_for_update()
        ).scalars().all()
        posted = []
        for chat in chats:
            message = routing.append_system_message(db, chat, system_text.incident_closed(chat.user_locale), now)
            chat.status = SessionStatus.CLOSED.value
            chat.closed_at = now
            posted.append((chat, message))
        audit.record(db, principal, "incident.closed_linked", "incident", incident.id,
                     {"sessions": len(posted)})
    _announce_messages(rt, posted)
    for chat, _ in posted:
        rt.events.emit("session:updated", dump_session(chat), status_audience(chat))
    for department in sorted({chat.department for chat, _ in posted}):
        routing.publish_queue(rt, department)  # the chats behind them moved up
    return CloseResult(incident, [chat for chat, _ in posted])


# --- reading -----------------------------------------------------------------------------


def stats_of(db: Session, incident_ids: list[str]) -> dict[str, IncidentStats]:
    """Per incident: chats linked, and those closed without any operator having taken them."""
    if not incident_ids:
        return {}
    unanswered = case((and_(ChatSession.status == SessionStatus.CLOSED.value,
                            ChatSession.first_assigned_at.is_(None)), 1), else_=0)
    rows = db.execute(
        select(ChatSession.incident_id, func.count(), func.coalesce(func.sum(unanswered), 0))
        .where(ChatSession.incident_id.in_(incident_ids)).group_by(ChatSession.incident_id)
    ).all()
    found = {incident_id: IncidentStats(int(linked), int(closed)) for incident_id, linked, closed in rows}
    return {incident_id: found.get(incident_id, IncidentStats(0, 0)) for incident_id in incident_ids}


def get(rt: Runtime, principal: Principal, incident_id: str) -> tuple[Incident, IncidentStats]:
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    with rt.db.read() as db:
        incident = _get(db, incident_id)
        return incident, stats_of(db, [incident.id])[incident.id]


def list_incidents(rt: Runtime, principal: Principal, *, which: str, limit: int, cursor: str | None) -> Page:
    """Staff: incidents newest first (`open`: not resolved; `all`)."""
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    query = select(Incident)
    if which == "open":
        query = query.where(Incident.status != IncidentStatus.RESOLVED.value)
    if cursor:
        query = query.where(cursors.beyond(Incident.started_at, Incident.id, cursor, _ID_PREFIX, descending=True))
    with rt.db.read() as db:
        rows = list(db.execute(query.order_by(Incident.started_at.desc(), Incident.id.desc())
                               .limit(limit + 1)).scalars())
        items = rows[:limit]
        stats = stats_of(db, [incident.id for incident in items])
    next_cursor = cursors.encode(items[-1].started_at, items[-1].id) if len(rows) > limit else None
    return Page(items, next_cursor, stats)


@dataclass(frozen=True)
class Status:
    incidents: list[Incident]
    categories: dict[str, str]  # category → operational | minor | major | critical


def status(rt: Runtime, categories: list[str]) -> Status:
    """`GET /v1/status`, no token: the open incidents and each category's state (the highest
    impact of the open incidents affecting it, else `operational`)."""
    with rt.db.read() as db:
        current = open_incidents(db)
    states: dict[str, str] = {}
    for category in categories:
        impacts = [i.impact for i in current if category in (i.categories or [])]
        states[category] = max(impacts, key=lambda v: IMPACT_RANK.get(v, 0)) if impacts else "operational"
    return Status(current, states)
