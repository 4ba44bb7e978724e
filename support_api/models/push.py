"""Push devices and the push outbox (one row per notification per device)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from support_api.models.base import Base, new_id, utcnow


class Platform(str, enum.Enum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class PushKind(str, enum.Enum):
    MESSAGE = "message"  # someone wrote in a chat the recipient takes part in
    WAITING = "waiting"  # a chat entered the queue of the operator's departments
    TRANSFER = "transfer"  # a colleague passed a chat to the operator (services/transfer.py)
    READ = "read"  # silent: the recipient read the chat elsewhere; clear it and update the badge
    INCIDENT = "incident"  # the incident a user's chat is linked to changed (services/incidents.py)


class PushStatus(str, enum.Enum):
    PENDING = "pending"  # to send at `due_at` (claimed while `claimed_until` lies ahead)
    SENT = "sent"  # FCM accepted it
    SKIPPED = "skipped"  # decided at send time not to push (read, connected, device gone…)
    FAILED = "failed"  # given up: a permanent error, or transient ones past the retry cap


class Device(Base):
    """A push token of one user or operator. A token belongs to one owner at a time: when
    another account registers it (a shared or handed-down phone) the old row goes away, so
    the previous owner's pending notifications never reach the new owner."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_owner", "owner_type", "owner_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("dev"))
    token: Mapped[str] = mapped_column(String(512), unique=True)
    owner_type: Mapped[str] = mapped_column(String(16))  # user | operator: who the owner is in a chat
    owner_id: Mapped[str] = mapped_column(String(128))
    # user | operator | admin. Only operators hear of waiting chats; an admin who claimed a
    # chat still hears of its messages (as owner_type operator).
    owner_role: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(35))
    app_version: Mapped[str | None] = mapped_column(String(64))
    # An operator's departments from their token at registration (empty: all). Operators'
    # departments live only in their JWT, and a "chat waiting" push is decided without them online.
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PushOutbox(Base):
    """One notification for one device, written in the transaction of what caused it.

    One row per device (not per recipient) so each device has its own attempts and status:
    retrying a device that failed never re-sends to one that already got it. Whether to push
    at all (read? connected?) is decided when the row is due, not when it is written.
    """

    __tablename__ = "push_outbox"
    __table_args__ = (
        # The sender's claim: due pending rows, oldest first.
        Index("ix_push_outbox_status_due", "status", "due_at"),
        # The admin listing, newest first, and the read-clear lookup of a recipient's pushes.
        Index("ix_push_outbox_status_created", "status", "created_at", "id"),
        Index("ix_push_outbox_recipient_session", "recipient_id", "session_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("psh"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=PushStatus.PENDING.value)
    # SET NULL: a device removed before its row went out makes the row `skipped`, and its
    # history stays visible to admins.
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    recipient_type: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column()
    # The lease of the worker sending it: until then no other worker takes the row; after it
    # (the worker died mid-send) the row is due again.
    claimed_until: Mapped[datetime | None] = mapped_column()
    claim_id: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
