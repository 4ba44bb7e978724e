"""Canned replies: texts operators insert instead of typing the same answer again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from support_api.models.base import Base, new_id, utcnow


class CannedReply(Base):
    """One reply text for a locale and a department (None: every locale / every department).

    `body` may hold placeholders such as `{user_name}` that are filled from a session when
    an operator uses the reply (services/canned_replies.py lists them).
    """

    __tablename__ = "canned_replies"
    __table_args__ = (Index("ix_canned_replies_department_locale", "department", "locale"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cnr"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(35))
    department: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(128))
    updated_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
