"""Operators as the routing knows them: departments, availability and when they last took a chat."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from support_api.models.base import Base, utcnow


class OperatorStatus(str, enum.Enum):
    ONLINE = "online"  # takes chats automatically
    AWAY = "away"  # on duty (pushed) but not auto-assigned
    OFFLINE = "offline"  # off duty: neither assigned nor pushed


class Operator(Base):
    """One operator or admin, keyed by their token's `sub` and refreshed from the token on each
    status call (operators' names and departments live in the identity provider's JWT).

    `status` is what the operator chose; the status that counts is derived from it and their
    sockets (services/operators.py): `online` with no socket for longer than the away grace is
    `away`. `last_seen_at` is the last sign of life (a status call, a socket connecting or
    disconnecting) from which that grace runs.
    """

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # Category codes the operator serves; empty: all.
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=OperatorStatus.AWAY.value)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Ties between equally loaded operators go to the one idle longest.
    last_assigned_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
