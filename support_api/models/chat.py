"""Chat sessions, their messages, and each participant's read position."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from support_api.models.base import Base, new_id, utcnow

if TYPE_CHECKING:
    from support_api.models.attachment import Attachment


class Category(str, enum.Enum):
    """What the user needs help with; also the department that answers (see seed)."""

    TRADING = "trading"
    ACCOUNT = "account"
    FUNDS = "funds"
    SYSTEM_ERROR = "system_error"
    SECURITY = "security"
    OTHER = "other"


class SessionStatus(str, enum.Enum):
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"
    # The bot offered FAQ articles and waits for the user: in no queue, no operator push
    # (services/self_service.py); a handoff or the user's next message moves it to `waiting`.
    BOT = "bot"


class CloseReason(str, enum.Enum):
    SELF_RESOLVED = "self_resolved"  # the user said the bot's articles solved it


class SenderType(str, enum.Enum):
    USER = "user"
    OPERATOR = "operator"
    SYSTEM = "system"
    BOT = "bot"


class ChatSession(Base):
    """One conversation of one user with support.

    `last_seq` is the counter that hands out message `seq` values: it is incremented in
    the same transaction that inserts the message, under the session row's lock, so seqs
    are 1, 2, 3… with no gaps and no repeats.
    """

    __tablename__ = "chat_sessions"
    __table_args__ = (
        # A retried "open a chat" with the same first client_msg_id finds the first one.
        UniqueConstraint("user_id", "open_key"),
        Index("ix_chat_sessions_user_created", "user_id", "created_at", "id"),
        Index("ix_chat_sessions_status_created", "status", "created_at", "id"),
        Index("ix_chat_sessions_operator_status", "operator_id", "status"),
        # The queue of a department (FIFO) and the recent assignments the wait estimate reads.
        Index("ix_chat_sessions_queue", "department", "status", "queued_at"),
        Index("ix_chat_sessions_dept_assigned", "department", "assigned_at"),
        # The inactivity sweep (services/auto_close.py).
        Index("ix_chat_sessions_status_updated", "status", "updated_at"),
        # The supervisors' stats windows (services/stats.py): opened, closed, rated in a window.
        Index("ix_chat_sessions_created_at", "created_at"),
        Index("ix_chat_sessions_closed_at", "closed_at"),
        Index("ix_chat_sessions_rated_at", "rated_at"),
        # The self-service figures of the stats window (services/stats.py).
        Index("ix_chat_sessions_bot_offered_at", "bot_offered_at"),
        # Issue 15: scam-suspected chats counted in a stats window.
        Index("ix_chat_sessions_risk_flagged_at", "risk_flagged_at"),
        # An incident's linked chats (its updates, close-linked, its stats).
        Index("ix_chat_sessions_incident_status", "incident_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ses"))
    user_id: Mapped[str] = mapped_column(String(128))
    user_name: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    # The department whose operators may see and take the session. Starts as the category.
    department: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.WAITING.value)
    operator_id: Mapped[str | None] = mapped_column(String(128))
    operator_name: Mapped[str | None] = mapped_column(String(200))
    client_context: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    open_key: Mapped[str | None] = mapped_column(String(128))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    # The user's token locale when they opened (or reopened) it: the language of system messages.
    user_locale: Mapped[str | None] = mapped_column(String(35))
    # When it last entered the queue (opened or reopened): the FIFO order and the wait's start.
    queued_at: Mapped[datetime | None] = mapped_column()
    # When an operator last took it (claim or auto-assignment): the wait's end.
    assigned_at: Mapped[datetime | None] = mapped_column()
    # Set once, never reset by reopen or transfer: the supervisors' wait and first-response
    # times (services/stats.py) measure the user's first contact.
    first_assigned_at: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    # Internal notes have their own counter, so what the user sees stays 1, 2, 3… (InternalNote).
    last_note_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The user's one rating after a close (POST /sessions/{id}/rating); kept across reopens.
    rating_score: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column()
    # Self-service (services/self_service.py, issue 12): why it was closed (null: a plain close),
    # when the bot offered articles, when the user said they solved it, when it went to a person,
    # and when a self-resolved chat was reopened within 24 h (then it no longer counts as solved).
    close_reason: Mapped[str | None] = mapped_column(String(32))
    bot_offered_at: Mapped[datetime | None] = mapped_column()
    self_resolved_at: Mapped[datetime | None] = mapped_column()
    handed_off_at: Mapped[datetime | None] = mapped_column()
    self_resolve_reopened_at: Mapped[datetime | None] = mapped_column()
    # Issue 15 (services/safety.py): `scam_suspected` once the user described a likely scam;
    # such chats wait in the security queue ahead of ordinary ones. Never cleared by reopen.
    risk: Mapped[str | None] = mapped_column(String(32))
    risk_reason: Mapped[str | None] = mapped_column(String(32))
    risk_flagged_at: Mapped[datetime | None] = mapped_column()
    # The incident this chat was opened (or reopened) under (services/incidents.py): its updates
    # are posted here. SET NULL: deleting an incident keeps the chat.
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        # Idempotency: one sender's client_msg_id names one message in a session.
        UniqueConstraint("session_id", "sender_type", "sender_id", "client_msg_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("msg"))
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_type: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str | None] = mapped_column(String(128))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    client_msg_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The bot's suggested articles [{id, title, snippet}] (sender `bot` only; else null).
    suggestions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # lazy="raise": every query that dumps messages must load these explicitly (services.queries.with_attachments),
    # so a forgotten load is a test failure rather than one query per message.
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.position", lazy="raise")


class InternalNote(Base):
    """A staff-only message in a session (`visibility: internal`).

    Notes live apart from `messages` so that no user path (history, unread counts, push,
    transcripts) can reach one by forgetting a filter. `seq` is the note's place among the
    session's notes (`ChatSession.last_note_seq`, same lock discipline as messages);
    `after_seq` is the public `seq` that was last when it was written, which places it in
    the conversation for staff (after that message, before the next).
    """

    __tablename__ = "internal_notes"
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        UniqueConstraint("session_id", "author_id", "client_msg_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("note"))
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    after_seq: Mapped[int] = mapped_column(Integer)
    # None for notes the system writes (a transfer's record).
    author_id: Mapped[str | None] = mapped_column(String(128))
    author_name: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    client_msg_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReadState(Base):
    """How far one participant has read one session (drives unread counts and badges)."""

    __tablename__ = "read_states"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    reader_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    reader_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
