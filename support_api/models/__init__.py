"""Typed SQLAlchemy models. No HTTP, no Socket.IO: plain rows and their invariants."""

from support_api.models.attachment import Attachment
from support_api.models.audit import AuditEntry
from support_api.models.base import Base, new_id, utcnow
from support_api.models.canned import CannedReply
from support_api.models.chat import (
    Category,
    ChatSession,
    CloseReason,
    InternalNote,
    Message,
    ReadState,
    SenderType,
    SessionStatus,
)
from support_api.models.faq import FaqArticle, FaqMiss, FaqState, FaqView
from support_api.models.guard import GuardBlock
from support_api.models.incident import Incident, IncidentImpact, IncidentStatus, IncidentUpdate
from support_api.models.operator import Operator, OperatorStatus
from support_api.models.push import Device, Platform, PushKind, PushOutbox, PushStatus

__all__ = [
    "Attachment",
    "AuditEntry",
    "Base",
    "CannedReply",
    "Category",
    "GuardBlock",
    "ChatSession",
    "Device",
    "InternalNote",
    "Message",
    "Operator",
    "OperatorStatus",
    "Platform",
    "PushKind",
    "PushOutbox",
    "PushStatus",
    "ReadState",
    "SenderType",
    "SessionStatus",
    "new_id",
    "utcnow",
    # issue 12
    "CloseReason",
    "FaqArticle",
    "FaqMiss",
    "FaqState",
    "FaqView",
    # issue 13: incidents
    "Incident",
    "IncidentImpact",
    "IncidentStatus",
    "IncidentUpdate",
]
