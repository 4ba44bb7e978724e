"""Where a waiting chat stands in its department's queue, and how long it may still wait.

**Position**: 1 + the waiting chats of the same department ahead of it: scam-suspected chats
(`risk`, issue 15) before ordinary ones, and within each, those that entered the queue earlier
(`queued_at`, then id); null unless the chat is `waiting`.


**Estimate** (`estimated_wait_seconds`), never invented:
- the base is the median wait (`assigned_at - queued_at`) of the last `SAMPLE` chats of the
  department taken (claimed or auto-assigned) within the last hour; without one, null;
- inside business hours: `ceil(median × position / online operators of the department)`;
  null while no operator of the department is online (nobody is there to measure against);
- outside business hours: the seconds until the department opens, plus `ceil(median × position)`
  (as if one operator started at opening).
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from support_api.lib import business_hours
from support_api.lib.runtime import Runtime
from support_api.models import ChatSession, SessionStatus
from support_api.services.operators import online_in

SAMPLE = 20
WINDOW = timedelta(hours=1)

QueueInfo = tuple[int | None, int | None]  # (queue_position, estimated_wait_seconds)


def median_wait(db: Session, department: str, now: datetime) -> float | None:
    rows = db.execute(
        select(ChatSession.queued_at, ChatSession.assigned_at)
        .where(ChatSession.department == department, ChatSession.assigned_at >= now - WINDOW,
               ChatSession.queued_at.is_not(None))
        .order_by(ChatSession.assigned_at.desc()).limit(SAMPLE)
    ).all()
    waits = [max((assigned - queued).total_seconds(), 0.0) for queued, assigned in rows]
    return statistics.median(waits) if waits else None


def _wait(median: float | None, online: int, opens_at: datetime | None, position: int, now: datetime) -> int | None:
    if median is None:
        return None
    if opens_at is not None:
        return math.ceil((opens_at - now).total_seconds() + median * position)
    return math.ceil(median * position / online) if online else None


def position(db: Session, chat: ChatSession) -> int | None:
    if chat.status != SessionStatus.WAITING.value or chat.queued_at is None:
        return None
    same_class = ChatSession.risk.is_not(None) if chat.risk is not None else ChatSession.risk.is_(None)
    earlier = and_(same_class, or_(ChatSession.queued_at < chat.queued_at,
                                   and_(ChatSession.queued_at == chat.queued_at, ChatSession.id < chat.id)))
    # Scam-suspected chats (issue 15) come before every ordinary one.
    ahead = db.execute(select(func.count()).where(
        ChatSession.department == chat.department, ChatSession.status == SessionStatus.WAITING.value,
        or_(earlier, ChatSession.risk.is_not(None)) if chat.risk is None else earlier,
    )).scalar_one()
    return int(ahead) + 1


def info(db: Session, rt: Runtime, chat: ChatSession, now: datetime) -> QueueInfo:
    return info_many(db, rt, [chat], now)[chat.id]


def info_many(db: Session, rt: Runtime, chats: list[ChatSession], now: datetime) -> dict[str, QueueInfo]:
    """`info` of each chat; the department's median, operators online and hours are read once
    per department (a list page of an incident's queue stays a handful of queries)."""
    out: dict[str, QueueInfo] = {}
    per_department: dict[str, tuple[float | None, int, datetime | None]] = {}
    for chat in chats:
        where = position(db, chat)
        if where is None:
            out[chat.id] = (None, None)
            continue
        if chat.department not in per_department:
            median = median_wait(db, chat.department, now)
            online = len(online_in(db, rt, chat.department, now)) if median is not None else 0
            per_department[chat.department] = (
                median, online, business_hours.next_opening(rt.settings.routing.business_hours, chat.department, now))
        median, online, opens_at = per_department[chat.department]
        out[chat.id] = (where, _wait(median, online, opens_at, where, now))
    return out


def waiting_in(db: Session, department: str) -> list[ChatSession]:
    """The department's queue, first in line first."""
    return list(db.execute(
        select(ChatSession).where(ChatSession.department == department,
                                  ChatSession.status == SessionStatus.WAITING.value)
        .order_by(ChatSession.risk.is_(None), ChatSession.queued_at, ChatSession.id)
    ).scalars())


def updates(db: Session, rt: Runtime, department: str, now: datetime) -> list[tuple[ChatSession, dict[str, Any]]]:
    """`queue:updated` payloads for every waiting chat of the department."""
    queue = waiting_in(db, department)
    if not queue:
        return []
    median = median_wait(db, department, now)
    online = len(online_in(db, rt, department, now)) if median is not None else 0
    opens_at = business_hours.next_opening(rt.settings.routing.business_hours, department, now)
    return [(chat, {"session_id": chat.id, "queue_position": index,
                    "estimated_wait_seconds": _wait(median, online, opens_at, index, now)})
            for index, chat in enumerate(queue, start=1)]
