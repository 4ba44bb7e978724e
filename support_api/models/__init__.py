"""Typed SQLAlchemy models. No HTTP, no Socket.IO: plain rows and their invariants."""

from support_api.models.attachment import Attachment
from support_api.models.base import Base, new_id, utcnow
from support_api.models.chat import (
    Category,
    ChatSession,
    Message,
    ReadState,
    SenderType,
    SessionStatus,
)

__all__ = [
    "Attachment",
    "Base",
    "Category",
    "ChatSession",
    "Message",
    "ReadState",
    "SenderType",
    "SessionStatus",
    "new_id",
    "utcnow",
]
