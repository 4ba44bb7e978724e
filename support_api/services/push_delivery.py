"""Delivering due outbox rows: claim, decide, send, record.

- **Claim.** A worker takes up to `CLAIM_BATCH` due rows in one short transaction
  (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite write transactions are
  `BEGIN IMMEDIATE`, one at a time) and leases them for `LEASE`: no other worker takes them
  until then, and if this one dies mid-send they are due again afterwards. Any number of
  workers (embedded in each server, or `support-api push-worker`) can run side by side.
- **Decide**, now that the row is due rather than when it was written: a user is pushed
  for a message only while not connected to that session's room (confirmed by a heartbeat of
  the socket's process after the message was stored; until then the row is decided again a
  few seconds later) and not having read it;
  an operator only while on duty (not `offline`), still holding the session, not connected to it and not
  having read it; "waiting" only while the chat still waits. Skipped rows say why.
- **Send** through the `PushSender`, one result per row (one row is one device, so a retry
  never re-sends to a device that already got the notification).
- **Record.** Transient errors are retried after 1, 2, 4, 8, 16, 32, 60, 60… s (±20 %
  jitter, longer when FCM sends Retry-After) while the next try falls within
  `SUPPORT_API_PUSH_GIVE_UP_SECONDS` (default 300) of the row's first due time; then the row
  is `failed`. A row claimed more than that after it was due (the workers were down) is
  `failed` as `expired` without being sent. A token FCM calls unregistered or not ours is
  deleted with its device. Delivery is at least once: a worker that dies after FCM accepted
  a row but before recording it sends it again after the lease.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.orm import Session

from support_api.config import Settings
from support_api.lib.auth import Principal, Role
from support_api.lib.db import Database
from support_api.lib.presence import HEARTBEAT_SECONDS, Presence
from support_api.lib.push_sender import (
    Outcome,
    PushNote,
    PushSender,
    SendResult,
    token_hint,
)
from support_api.lib.push_text import incident_text, message_text, transfer_text, waiting_text
from support_api.models import (
    ChatSession,
    Device,
    Message,
    Operator,
    OperatorStatus,
    PushKind,
    PushOutbox,
    PushStatus,
    ReadState,
    SessionStatus,
    new_id,
    utcnow,
)
from support_api.services.queries import unread_summary

log = logging.getLogger(__name__)

CLAIM_BATCH = 50
# Longer than one FCM call can take (10 s timeout, a few library retries, a token refresh).
LEASE = timedelta(seconds=120)
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0
# Sent and skipped rows are kept this long (admin metrics), failed ones longer.
KEEP_DONE = timedelta(days=7)
KEEP_FAILED = timedelta(days=30)
# "Connected" is believed only when a process holding the recipient's socket beat after the
# message was stored (lib/presence.py); until then the row waits this long and is decided
# again: by then its process beat again (it is alive: skip) or its heartbeat expired (push).
RECHECK = timedelta(seconds=HEARTBEAT_SECONDS * 1.5)
UNCONFIRMED = "presence_unconfirmed"


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """The wait before try number `attempts + 1`: 1 s doubling to a 60 s cap, jittered so a
    fleet of workers does not hit FCM in lockstep."""
    base = min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS)
    return min(max(base * random.uniform(0.8, 1.2), retry_after or 0.0), BACKOFF_CAP_SECONDS)


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return (PushOutbox.status == PushStatus.PENDING.value, PushOutbox.due_at <= now,
            or_(PushOutbox.claimed_until.is_(None), PushOutbox.claimed_until < now))


def _claim(db: Database, now: datetime, limit: int) -> tuple[str, list[PushOutbox]]:
    # A plain read first: on SQLite an idle worker must not take the write lock twice a second.
    with db.read() as session:
        if session.execute(select(PushOutbox.id).where(*_claimable(now)).limit(1)).first() is None:
            return "", []
    claim_id = new_id("clm")
    with db.write() as session:
        rows = list(session.execute(
            select(PushOutbox).where(*_claimable(now)).order_by(PushOutbox.due_at).limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars())
        for row in rows:
            row.claimed_until = now + LEASE
            row.claim_id = claim_id
            # Counted at claim time, so a row that kills its worker every time still runs out of tries.
            row.attempts += 1
            row.updated_at = now
    return claim_id, rows


@dataclass(frozen=True)
class _Plan:
    row: PushOutbox
    note: PushNote | None = None
    skip: str | None = None  # why not pushed
    fail: str | None = None  # why given up without trying
    defer: bool = False  # presence not confirmed yet: look again after the next heartbeat


class _Context:
    """Everything the rows of one claim refer to, loaded in one read transaction."""

    def __init__(self, session: Session, rows: list[PushOutbox]) -> None:
        self.session = session
        self.devices: dict[str, Device] = self._by_id(Device, {r.device_id for r in rows if r.device_id})
        self.chats: dict[str, ChatSession] = self._by_id(ChatSession, {r.session_id for r in rows})
        self.messages: dict[str, Message] = self._by_id(Message, {r.message_id for r in rows if r.message_id})
        keys = {(r.session_id, r.recipient_type, r.recipient_id) for r in rows}
        self.read = {
            (s.session_id, s.reader_type, s.reader_id): s.last_read_seq
            for s in session.execute(select(ReadState).where(
                tuple_(ReadState.session_id, ReadState.reader_type, ReadState.reader_id).in_(list(keys)))).scalars()
        } if keys else {}
        self._badges: dict[tuple[str, str], int] = {}
        operator_ids = {r.recipient_id for r in rows if r.recipient_type == "operator"}
        # Operators who chose `offline` (services/operators.py); no row counts as away, on duty.
        self.off_duty: set[str] = set(session.execute(select(Operator.id).where(
            Operator.id.in_(operator_ids), Operator.status == OperatorStatus.OFFLINE.value)).scalars()
        ) if operator_ids else set()

    def _by_id(self, model: Any, ids: set[str]) -> dict[str, Any]:
        if not ids:
            return {}
        return {row.id: row for row in self.session.execute(select(model).where(model.id.in_(ids))).scalars()}

    def badge(self, recipient_type: str, recipient_id: str) -> int:
        """The recipient's unread messages, the app badge (`GET /v1/me/unread`)."""
        key = (recipient_type, recipient_id)
        if key not in self._badges:
            role = Role.USER if recipient_type == "user" else Role.OPERATOR
            principal = Principal(id=recipient_id, role=role, name=None, locale=None, departments=(), expires_at=0)
            self._badges[key] = unread_summary(self.session, principal)["messages"]
        return self._badges[key]


def _skip_reason(row: PushOutbox, chat: ChatSession, read_seq: int, presence: Presence, ctx: _Context) -> str | None:
    def on_duty(operator_id: str) -> bool:
        return operator_id not in ctx.off_duty

    if row.kind == PushKind.READ.value:
        return None
    if row.kind == PushKind.WAITING.value:
        if chat.status != SessionStatus.WAITING.value:
            return "no_longer_waiting"
        return None if on_duty(row.recipient_id) else "off_duty"
    if row.kind == PushKind.TRANSFER.value:
        if chat.operator_id != row.recipient_id or chat.status != SessionStatus.ACTIVE.value:
            return "not_assigned"  # passed on again, or closed, before it was due
        return None if on_duty(row.recipient_id) else "off_duty"
    if row.recipient_type == "operator":
        if chat.operator_id != row.recipient_id:
            return "not_assigned"
        if not on_duty(row.recipient_id):
            return "off_duty"
    if read_seq >= row.seq:
        return "read"
    seen = presence.present_since(chat.id, row.recipient_type, row.recipient_id, _epoch(row.created_at))
    if seen is None:
        return UNCONFIRMED
    return "connected" if seen else None


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def _note(row: PushOutbox, device: Device, chat: ChatSession, ctx: _Context, settings: Settings) -> PushNote:
    message = ctx.messages.get(row.message_id) if row.message_id else None
    data = {"type": row.kind, "session_id": chat.id, "message_id": row.message_id or "", "seq": str(row.seq)}
    badge = ctx.badge(row.recipient_type, row.recipient_id)
    if row.kind == PushKind.READ.value:
        return PushNote(token=device.token, platform=device.platform, group=chat.id, badge=badge,
                        data={**data, "unread": str(badge)})
    if row.kind == PushKind.WAITING.value:
        title, body = waiting_text(device.locale, chat.category)
    elif row.kind == PushKind.TRANSFER.value:
        title, body = transfer_text(device.locale, chat.department)
    elif row.kind == PushKind.INCIDENT.value:
        title, body = incident_text(device.locale, message.body if message else "")
    else:
        title, body = message_text(device.locale, row.recipient_type, chat.category, message.body if message else "",
                                   settings.push.preview)
    return PushNote(token=device.token, platform=device.platform, group=chat.id, badge=badge, data=data,
                    title=title, body=body)


def _plan(db: Database, rows: list[PushOutbox], settings: Settings, presence: Presence, now: datetime) -> list[_Plan]:
    give_up = timedelta(seconds=settings.push.give_up_seconds)
    plans = []
    with db.read() as session:
        ctx = _Context(session, rows)
        for row in rows:
            device = ctx.devices.get(row.device_id) if row.device_id else None
            chat = ctx.chats.get(row.session_id)
            if device is None or chat is None:
                plans.append(_Plan(row, skip="device_removed" if chat else "session_removed"))
                continue
            if now > row.due_at + give_up:
                # Due for longer than the retry window (the workers were down): an hour-old
                # "support replied" helps nobody.
                plans.append(_Plan(row, fail="expired"))
                continue
            read_seq = ctx.read.get((chat.id, row.recipient_type, row.recipient_id), 0)
            reason = _skip_reason(row, chat, read_seq, presence, ctx)
            if reason == UNCONFIRMED:
                plans.append(_Plan(row, defer=True))
                continue
            plans.append(_Plan(row, skip=reason) if reason else _Plan(row, note=_note(row, device, chat, ctx, settings)))
    return plans


def _send(sender: PushSender, notes: list[PushNote]) -> list[SendResult]:
    try:
        results = sender.send(notes)
        if len(results) == len(notes):
            return results
        log.error("push: the sender answered %d results for %d notes", len(results), len(notes))
    except Exception:
        log.exception("push: the sender failed")
    return [SendResult(Outcome.RETRY, "sender_error") for _ in notes]


def _next_try(row: PushOutbox, result: SendResult, window: timedelta, now: datetime) -> datetime | None:
    """When to try a transiently failed row again; None once that would be past its window."""
    retry_at = now + timedelta(seconds=backoff_seconds(row.attempts, result.retry_after))
    return retry_at if retry_at <= row.created_at + window else None


def _record(db: Database, claim_id: str, plans: list[_Plan], results: dict[str, SendResult], settings: Settings,
            now: datetime, report: DeliveryReport) -> None:
    window = timedelta(seconds=settings.push.delay_seconds + settings.push.give_up_seconds)
    plan_of = {plan.row.id: plan for plan in plans}
    with db.write() as session:
        # Only rows still ours: if our lease ran out another worker may own them now.
        rows = session.execute(select(PushOutbox).where(PushOutbox.id.in_(list(plan_of)),
                                                        PushOutbox.claim_id == claim_id).with_for_update()).scalars()
        dead_devices: set[str] = set()
        for row in rows:
            plan, result = plan_of[row.id], results.get(row.id)
            row.claimed_until = None
            row.updated_at = now
            if plan.defer:
                # Still pending: skipped or sent once a heartbeat confirms or refutes the socket.
                row.due_at, row.last_error = now + RECHECK, UNCONFIRMED
                report.retried += 1
            elif plan.skip:
                row.status, row.last_error = PushStatus.SKIPPED.value, plan.skip
                report.skipped += 1
            elif plan.fail or result is None:
                row.status, row.last_error = PushStatus.FAILED.value, plan.fail or "unknown"
                report.failed += 1
            elif result.outcome is Outcome.DELIVERED:
                row.status, row.sent_at = PushStatus.SENT.value, now
                report.sent += 1
            elif result.outcome is Outcome.RETRY and (retry_at := _next_try(row, result, window, now)):
                row.due_at, row.last_error = retry_at, result.reason
                report.retried += 1
            else:
                row.status, row.last_error = PushStatus.FAILED.value, result.reason
                report.failed += 1
                if result.outcome is Outcome.DROP_TOKEN and row.device_id:
                    dead_devices.add(row.device_id)
                log.warning("push: %s to %s %s failed for good (%s, after %d tries)", row.kind, row.recipient_type,
                            row.recipient_id, result.reason, row.attempts)
        if dead_devices:
            # FCM will never deliver to these tokens again; their queued rows become `skipped`.
            session.execute(delete(Device).where(Device.id.in_(dead_devices)))


def deliver_due(db: Database, settings: Settings, sender: PushSender, presence: Presence, *,
                now: datetime | None = None, limit: int = CLAIM_BATCH) -> DeliveryReport:
    """Claim, decide, send and record one batch of due rows. `now` is for tests."""
    now = now or utcnow()
    report = DeliveryReport()
    claim_id, rows = _claim(db, now, limit)
    if not rows:
        return report
    report.claimed = len(rows)
    plans = _plan(db, rows, settings, presence, now)
    to_send = [plan for plan in plans if plan.note is not None]
    sent = _send(sender, [plan.note for plan in to_send if plan.note is not None])
    results = {plan.row.id: result for plan, result in zip(to_send, sent)}
    for plan, result in zip(to_send, sent):
        if result.outcome is not Outcome.DELIVERED and plan.note is not None:
            log.info("push: %s to %s device %s: %s (%s)", plan.row.kind, plan.note.platform,
                     token_hint(plan.note.token), result.outcome.value, result.reason)
    _record(db, claim_id, plans, results, settings, now, report)
    return report


def purge_done(db: Database, now: datetime | None = None) -> int:
    """Delete sent and skipped rows older than KEEP_DONE and failed ones older than KEEP_FAILED."""
    now = now or utcnow()
    with db.write() as session:
        result = session.execute(delete(PushOutbox).where(or_(
            (PushOutbox.status.in_([PushStatus.SENT.value, PushStatus.SKIPPED.value]))
            & (PushOutbox.updated_at < now - KEEP_DONE),
            (PushOutbox.status == PushStatus.FAILED.value) & (PushOutbox.updated_at < now - KEEP_FAILED),
        )))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
