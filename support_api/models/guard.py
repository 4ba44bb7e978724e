"""Counted attempts to send a secret: kind, session and sender, never the text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from support_api.models.base import Base, new_id, utcnow


class GuardBlock(Base):
    __tablename__ = "guard_blocks"
    __table_args__ = (Index("ix_guard_blocks_created", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("blk"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    # None when the secret came in the first message of a chat that was therefore not opened.
    session_id: Mapped[str | None] = mapped_column(String(40))
    sender_type: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(128))
