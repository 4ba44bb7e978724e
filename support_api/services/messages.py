"""Sending messages: gapless per-session seq, idempotent on the sender's client_msg_id.

Two paths store a message, with the same rules:
- the **fast path** (`_append_text`), taken by every text message: Core statements, no ORM
  unit of work, and text messages sent at the same time share one transaction (group commit,
  lib/group_commit.py). Per message, one `UPDATE … RETURNING` checks everything that would
  refuse the send (access, closed, not held, a retry) and takes the next `seq` under the row's
  lock; on PostgreSQL the same statement inserts the message and moves the sender's read
  position (`_send_statement`), on SQLite the batch's messages and read positions are inserted
  together after; then the push rows. Sending is the hot path of the whole server
  (bench/README.md);
- the **ORM path** (`send_message` below the fast path), for everything else: messages with
  attachments, and any send the fast path's UPDATE did not match, which it then explains (a
  retry answered with the stored message, 404, 409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Connection, Dialect, Select, Update, bindparam, case, exists, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from support_api.config import Settings
from support_api.lib.access import get_session, is_session_id
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Conflict
from support_api.lib.events import Events, message_audience
from support_api.lib.group_commit import GroupCommit
from support_api.lib.guard import scam_reason
from support_api.lib.runtime import Runtime
from support_api.lib.signing import UrlSigner
from support_api.models import (
    ChatSession,
    Device,
    Message,
    ReadState,
    SenderType,
    SessionStatus,
    new_id,
    utcnow,
)
from support_api.schemas.responses import dump_message
from support_api.services import guard, safety, self_service
from support_api.services.attachments import claim_attachments
from support_api.services.limits import enforce
from support_api.services.push_outbox import enqueue_message, enqueue_messages
from support_api.services.queries import with_attachments
from support_api.services.read_state import advance_read, advance_reads, forward_only


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool  # False: a retry of a message that was already stored
    masked_kinds: tuple[str, ...] = ()  # what the guard masked in the text before storing it
    # The `message:new` payload already emitted for it: the sender's answer reuses it rather
    # than building the same dict again (the ack of every socket send).
    payload: dict[str, Any] | None = None

    def dumped(self, signer: UrlSigner) -> dict[str, Any]:
        return self.payload if self.payload is not None else dump_message(self.message, signer)


def find_by_client_msg_id(db: Session, session_id: str, principal: Principal, client_msg_id: str) -> Message | None:
    found = db.execute(
        select(Message).where(
            Message.session_id == session_id,
            Message.sender_type == principal.participant_type,
            Message.sender_id == principal.id,
            Message.client_msg_id == client_msg_id,
        )
    ).scalar_one_or_none()
    return None if found is None else with_attachments(db, [found])[0]


def append_message(db: Session, chat: ChatSession, principal: Principal, body: str, client_msg_id: str,
                   attachment_ids: list[str], attachment_limit: int) -> Message:
    """Insert the next message of a locked session row; the caller's transaction commits it.

    The session row must be locked (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite):
    that lock is what makes `last_seq + 1` unique and gapless.
    """
    now = utcnow()
    chat.last_seq += 1
    chat.updated_at = now
    if principal.participant_type == SenderType.OPERATOR.value and chat.first_response_at is None:
        chat.first_response_at = now
    message = Message(
        id=new_id("msg"),
        session_id=chat.id,
        seq=chat.last_seq,
        sender_type=principal.participant_type,
        sender_id=principal.id,
        sender_name=principal.name,
        body=body,
        client_msg_id=client_msg_id,
        created_at=now,
    )
    message.attachments = []
    claim_attachments(db, principal, chat, message, attachment_ids, attachment_limit)
    db.add(message)
    # Whoever writes has seen the conversation up to their own message.
    advance_read(db, chat.id, principal.participant_type, principal.id, message.seq)
    return message


@lru_cache(maxsize=16)
def _take_seq_statement(kind: str) -> Update:
    """`UPDATE chat_sessions SET last_seq = last_seq + 1 … RETURNING` matching only a session the
    sender may write in now: visible to them (lib/access.py's rule, per `kind` of sender), not
    closed, held by them if staff, and holding no message with this client_msg_id (a retry).
    Built once per kind: building statements per call was the costliest part of a send. Staff
    match on holding the session; whether its department is still one of theirs is checked on
    the returned row (`_store_texts`), since an expanding IN here cost a third of a send."""
    chats, messages = ChatSession.__table__, Message.__table__
    visible = chats.c.user_id == bindparam("sender_id") if kind == "user" else \
        chats.c.operator_id == bindparam("sender_id")
    retry = exists().where(messages.c.session_id == chats.c.id, messages.c.sender_type == bindparam("sender_type"),
                           messages.c.sender_id == bindparam("sender_id"),
                           messages.c.client_msg_id == bindparam("client_msg_id"))
    first_response = chats.c.first_response_at if kind == "user" else case(
        (chats.c.first_response_at.is_(None), bindparam("now")), else_=chats.c.first_response_at)
    # Whether the other side has a device to push to: most often not (an operator at a desk, a
    # user without notifications), and then the batch needs no device query at all.
    devices = Device.__table__
    other_side = (devices.c.owner_type == "operator", devices.c.owner_id == chats.c.operator_id) if kind == "user" \
        else (devices.c.owner_type == "user", devices.c.owner_id == chats.c.user_id)
    return (
        update(chats)
        # Not `bot` either: a user's message there is a handoff, which the ORM path makes. Two
        # plain comparisons, not NOT IN: an IN list compiles to a post-compile parameter that
        # the pipelined path's precompiled SQL text (`_compiled_seq_statement`) cannot carry.
        .where(chats.c.id == bindparam("session_id"), visible, chats.c.status != SessionStatus.CLOSED.value,
               chats.c.status != SessionStatus.BOT.value, ~retry)
        .values(last_seq=chats.c.last_seq + 1, updated_at=bindparam("now"), first_response_at=first_response)
        .returning(chats.c.last_seq, chats.c.user_id, chats.c.operator_id, chats.c.department,
                   exists().where(*other_side).label("notify"))
    )


@lru_cache(maxsize=16)
def _send_statement(kind: str) -> Select[Any]:
    """PostgreSQL: `_take_seq_statement`, the message's insert and the sender's read position
    in one statement (data-modifying CTEs), returning the same row. Per message that is one
    statement in the batch's pipeline instead of three (the UPDATE, then a row in each of two
    executemany), and psycopg's per-statement work was a fifth of the server's CPU
    (bench/README.md, issue 16). When the UPDATE matches nothing, nothing is inserted either.
    SQLite has no INSERT inside WITH: it keeps the separate statements."""
    messages, reads = Message.__table__, ReadState.__table__
    taken = _take_seq_statement(kind).returning(ChatSession.__table__.c.id).cte("taken")

    def param(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)

    message = insert(messages).from_select(
        ["id", "session_id", "seq", "sender_type", "sender_id", "sender_name", "body", "client_msg_id", "created_at"],
        select(param("message_id", messages.c.id), taken.c.id, taken.c.last_seq,
               param("sender_type", messages.c.sender_type), param("sender_id", messages.c.sender_id),
               param("sender_name", messages.c.sender_name), param("body", messages.c.body),
               param("client_msg_id", messages.c.client_msg_id), param("now", messages.c.created_at)),
    ).cte("message")
    position = forward_only(postgresql.insert(reads).from_select(
        ["session_id", "reader_type", "reader_id", "last_read_seq", "updated_at"],
        select(taken.c.id, param("sender_type", reads.c.reader_type), param("sender_id", reads.c.reader_id),
               taken.c.last_seq, param("now", reads.c.updated_at)),
    )).cte("position")
    return select(taken.c.last_seq, taken.c.user_id, taken.c.operator_id, taken.c.department,
                  taken.c.notify).add_cte(message, position)


class _SeqRow(NamedTuple):
    last_seq: int
    user_id: str
    operator_id: str | None
    department: str
    notify: bool


def _take_seqs(conn: Connection, jobs: list[_TextSend], now: datetime, message_ids: list[str]) -> list[_SeqRow | None]:
    """Run each job's `_take_seq_statement` in order, in the caller's transaction (on
    PostgreSQL its `_send_statement`, which stores the message as `message_ids` says too).

    On PostgreSQL a batch of several goes through one psycopg pipeline: the UPDATEs are sent
    together and their rows read back after one round trip, instead of one round trip (and
    one wait in the event loop) each, which was the largest single cost of a send on
    PostgreSQL (bench/README.md, issue 16). Same statements, same order, same locks; an error
    aborts the pipeline and fails the batch, which group commit then runs job by job."""
    statement = _send_statement if conn.dialect.name == "postgresql" else _take_seq_statement
    calls = [(statement("user" if job.principal.role is Role.USER else "staff"),
              {"session_id": job.session_id, "sender_id": job.principal.id,
               "sender_type": job.principal.participant_type, "client_msg_id": job.client_msg_id, "now": now,
               "message_id": message_id, "sender_name": job.principal.name, "body": job.body})
             for job, message_id in zip(jobs, message_ids, strict=True)]
    if len(calls) < 2 or conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return [None if (row := conn.execute(stmt, params).first()) is None else _SeqRow(*row)
                for stmt, params in calls]
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursors = []
    with raw.pipeline():
        for stmt, params in calls:
            sql, defaults = _compiled_seq_statement(conn.dialect, stmt)
            cursor = raw.cursor()
            cursor.execute(sql, {**defaults, **params})
            cursors.append(cursor)
        rows = [cursor.fetchone() for cursor in cursors]
    for cursor in cursors:
        cursor.close()
    return [None if row is None else _SeqRow(*row) for row in rows]


_compiled_cache: dict[tuple[str, int], tuple[str, dict[str, object]]] = {}


def _compiled_seq_statement(dialect: Dialect, stmt: Update | Select[Any]) -> tuple[str, dict[str, object]]:
    """The driver's SQL text of a seq statement and its literal parameters (the closed status,
    the device owner type), compiled once per dialect."""
    key = (dialect.name, id(stmt))
    found = _compiled_cache.get(key)
    if found is None:
        compiled = stmt.compile(dialect=dialect)
        defaults = {name: value for name, value in compiled.params.items() if value is not None}
        found = _compiled_cache[key] = (str(compiled), defaults)
    return found


class _NotVisible(Exception):
    """Rolls the fast path back: the session held is no longer in the operator's departments."""


_INSERT_MESSAGE = insert(Message.__table__)


@dataclass(frozen=True)
class _TextSend:
    principal: Principal
    session_id: str
    body: str
    client_msg_id: str


_Stored = tuple[ChatSession, Message] | None

M = TypeVar("M", Message, ChatSession)


def _detached(cls: type[M], values: dict[str, object], **more: object) -> M:
    """A transient instance of `cls` holding `values`, for what reads it after the commit
    (dump_message, the audience, the push rows); never added to a session. Filled through the
    class manager and the instance dict, as SQLAlchemy loads rows itself: the constructor's
    per-attribute change events were a tenth of a send's store (bench/README.md, issue 16)."""
    instance: M = cls._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    instance.__dict__.update(values, **more)
    return instance


def _store_texts(conn: Connection, settings: Settings, events: Events, jobs: list[_TextSend]) -> list[_Stored]:
    """Store a batch of text messages in the caller's transaction (lib/group_commit.py): per job
    one UPDATE … RETURNING takes the seq (None: not matched, nothing changed); then one insert
    of every message, one upsert of every sender's read position, and their push rows. Raises
    (rolling the batch back) when a job was matched but may not be stored after all."""
    stored: list[_Stored] = []
    to_notify: list[tuple[ChatSession, Message]] = []
    messages: list[dict[str, object]] = []
    # One position per reader and session (the highest): a multi-row upsert may not touch a row twice.
    reads: dict[tuple[str, str, str], dict[str, object]] = {}
    now = utcnow()
    message_ids = [new_id("msg") for _ in jobs]
    for message_id in message_ids:
        events.expect(message_id)  # before the commit (Events.expect); an id not used is harmless
    stored_already = conn.dialect.name == "postgresql"  # by `_send_statement` itself
    for job, message_id, row in zip(jobs, message_ids, _take_seqs(conn, jobs, now, message_ids), strict=True):
        principal = job.principal
        if row is None:
            stored.append(None)
            continue
        if principal.role is Role.OPERATOR and principal.departments and row.department not in principal.departments:
            raise _NotVisible  # lib/access.py's rule; the ORM path answers 404
        values = {"id": message_id, "session_id": job.session_id, "seq": row.last_seq,
                  "sender_type": principal.participant_type, "sender_id": principal.id,
                  "sender_name": principal.name, "body": job.body, "client_msg_id": job.client_msg_id,
                  "created_at": now}
        messages.append(values)
        message = _detached(Message, values, attachments=[])
        if not stored_already:
            # Whoever writes has seen the conversation up to their own message.
            reads[(job.session_id, principal.participant_type, principal.id)] = {
                "session_id": job.session_id, "reader_type": principal.participant_type, "reader_id": principal.id,
                "seq": message.seq, "now": now}
        stored.append((_detached(ChatSession, {"id": job.session_id, "user_id": row.user_id,
                                               "operator_id": row.operator_id, "department": row.department,
                                               "last_seq": row.last_seq}), message))
        if row.notify:
            to_notify.append(stored[-1])  # type: ignore[arg-type]
    if messages:
        if not stored_already:
            conn.execute(_INSERT_MESSAGE, messages)
            advance_reads(conn, list(reads.values()))
        enqueue_messages(conn, settings, to_notify)
    return stored


def _committer(rt: Runtime) -> GroupCommit[_TextSend, _Stored]:
    """The app's one group committer of text messages, kept with its database."""
    committer = rt.db.shared.get("text_sends")
    if committer is None:
        settings, events = rt.settings, rt.events
        committer = rt.db.shared["text_sends"] = GroupCommit(
            rt.db, lambda conn, jobs: _store_texts(conn, settings, events, jobs),
            cooperative=settings.async_mode in ("eventlet", "gevent"))
    return cast(GroupCommit[_TextSend, _Stored], committer)


def _append_text(rt: Runtime, principal: Principal, session_id: str, body: str, client_msg_id: str) -> _Stored:
    """The fast path: store a text message (with others sent at the same time: group commit)
    and return it, or None when the ORM path must answer (a retry, an error) — nothing changed."""
    if not is_session_id(session_id):
        return None  # the access gate's 404 (lib/access.py) is the ORM path's to give
    try:
        return _committer(rt).submit(_TextSend(principal, session_id, body, client_msg_id))
    except (IntegrityError, _NotVisible):
        # IntegrityError: a retry of this very message was stored meanwhile (on PostgreSQL a
        # simultaneous retry committed while this UPDATE waited for the row, its NOT EXISTS
        # seeing the older snapshot; or both were in one batch). Rolled back, so no gap either
        # way; the ORM path answers.
        return None


def visible_session_id(rt: Runtime, principal: Principal, session_id: str) -> str:
    """The id of a session the caller may see (404 otherwise), without locking it."""
    with rt.db.read() as db:
        return get_session(db, principal, session_id).id


def send_message(rt: Runtime, principal: Principal, session_id: str, *, body: str, client_msg_id: str,
                 attachment_ids: list[str] | None = None, confirm_sensitive: bool = False,
                 origin_sid: str | None = None) -> SendResult:
    """Store a message and deliver it as `message:new`.

    A retry with the same `client_msg_id` returns the stored message (created=False), even if
    the session was closed in between, and delivers it again unless this process emitted it
    (Events.redeliver: the process that stored it may have died before emitting). Staff must
    hold the session (claim it first), so two operators never answer one user at once. The
    text passes the sensitive-content guard first: secrets are refused, account numbers
    stored masked.
    """
    enforce(rt, principal, "messages")
    screened = guard.screen(rt, principal, body, confirm_sensitive=confirm_sensitive,
                            session_of=lambda: visible_session_id(rt, principal, session_id))
    # Issue 15: the id is stored and echoed too; a secret completed across messages is refused.
    client_msg_id = guard.screen_id(rt, principal, "client_msg_id", client_msg_id,
                                    session_of=lambda: visible_session_id(rt, principal, session_id))
    safety.check_split(rt, principal, session_id, body)
    if not attachment_ids:
        stored = _append_text(rt, principal, session_id, screened.text, client_msg_id)
        if stored is not None:
            chat, message = stored
            payload = dump_message(message, rt.signer)
            rt.events.emit("message:new", payload, message_audience(chat), skip_sid=origin_sid)
            safety.after_user_message(rt, principal, chat.id, body)
            return SendResult(message, created=True, masked_kinds=screened.masked_kinds, payload=payload)
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        existing = find_by_client_msg_id(db, chat.id, principal, client_msg_id)
        if existing is None:
            message, handed = _append_locked(db, rt, chat, principal, body, screened.text, client_msg_id,
                                             attachment_ids or [])
    if existing is not None:
        payload = dump_message(existing, rt.signer)
        rt.events.redeliver("message:new", payload, message_audience(chat), skip_sid=origin_sid)
        return SendResult(existing, created=False, payload=payload)
    # The sending socket has its ack; every other socket (including the sender's other devices) gets the event.
    payload = dump_message(message, rt.signer)
    rt.events.emit("message:new", payload, message_audience(chat), skip_sid=origin_sid)
    if handed is not None:
        self_service.after_handoff(rt, chat, handed)
    safety.after_user_message(rt, principal, chat.id, body)
    return SendResult(message, created=True, masked_kinds=screened.masked_kinds, payload=payload)


def _append_locked(db: Session, rt: Runtime, chat: ChatSession, principal: Principal, body: str, text: str,
                   client_msg_id: str, attachment_ids: list[str]) -> tuple[Message, Message | None]:
    """send_message's slow path inside its transaction, the session row locked: the message,
    and the hand-off when the user's message takes the chat out of self-service."""
    if chat.status == SessionStatus.CLOSED.value:
        raise Conflict("The session is closed; reopen it to write again", {"reason": "session_closed"})
    if principal.participant_type == SenderType.OPERATOR.value and chat.operator_id != principal.id:
        raise Conflict("Claim the session before replying", {"reason": "not_assigned"})
    message = append_message(db, chat, principal, text, client_msg_id, attachment_ids,
                             rt.settings.attachments_per_message)
    rt.events.expect(message.id)
    # The user writing again after the bot's answer asks for a person (services/self_service.py);
    # one describing a scam is handed to the security queue by safety.after_user_message
    # instead (flag_scam takes `bot` chats out of self-service itself).
    handed = (self_service.hand_off_locked(db, rt, chat, message.created_at)
              if chat.status == SessionStatus.BOT.value and principal.role is Role.USER
              and scam_reason(body) is None else None)
    enqueue_message(db, rt.settings, chat, message)
    return message, handed
