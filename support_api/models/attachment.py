"""Uploaded images: owned by the uploader until a message claims them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from support_api.models.base import Base, new_id, utcnow


class Attachment(Base):
    """A re-encoded image and its thumbnail in storage.

    The bytes that were uploaded are never stored: only the clean re-encoding (no EXIF,
    XMP, ICC or trailing data) under a key the server chose.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        # Attachments of a message, and the cleanup command's unclaimed uploads by age.
        Index("ix_attachments_claimed_created", "message_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("att"))
    uploader_type: Mapped[str] = mapped_column(String(16))
    uploader_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    thumbnail_key: Mapped[str] = mapped_column(String(200))
    thumbnail_content_type: Mapped[str] = mapped_column(String(32))
    thumbnail_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column()
    # Order within its message, as the sender listed the ids.
    position: Mapped[int | None] = mapped_column(Integer)
