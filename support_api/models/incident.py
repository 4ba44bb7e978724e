"""Incidents: an outage or maintenance affecting some categories, and its timeline of updates.

Texts are stored in both languages the app speaks (ja, en): the public status page and the
SYSTEM messages posted into linked chats pick one per reader. A chat opened or reopened in an
affected category while the incident is open is linked to it (`ChatSession.incident_id`).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from support_api.models.base import Base, new_id, utcnow


class IncidentStatus(str, enum.Enum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class IncidentImpact(str, enum.Enum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Incident(Base):
    __tablename__ = "incidents"
    # The status page and every chat open read the open incidents: few rows, one index.
    __table_args__ = (Index("ix_incidents_status_started", "status", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("inc"))
    title_ja: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=IncidentStatus.INVESTIGATING.value)
    impact: Mapped[str] = mapped_column(String(16))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    # When service is expected back; null while nobody can say.
    eta: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updates: Mapped[list[IncidentUpdate]] = relationship(
        order_by="IncidentUpdate.created_at, IncidentUpdate.id", lazy="selectin", cascade="all, delete-orphan")

    @property
    def is_open(self) -> bool:
        return self.status != IncidentStatus.RESOLVED.value

    @property
    def latest_update(self) -> IncidentUpdate | None:
        return self.updates[-1] if self.updates else None


class IncidentUpdate(Base):
    __tablename__ = "incident_updates"
    __table_args__ = (Index("ix_incident_updates_incident_created", "incident_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("iup"))
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    body_ja: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
