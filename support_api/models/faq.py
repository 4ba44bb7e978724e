"""FAQ articles and what self-service records about them (docs/self-service.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from support_api.models.base import Base, new_id, utcnow


class FaqArticle(Base):
    """One help article in one category, in ja and/or en.

    `locales` is `{"ja": {"title", "body"}, "en": {"title", "body"}}` (at least one); the body
    is plain text with Markdown links. Ids are chosen by whoever writes the article (the starter
    set and imported YAML name theirs, so import is idempotent) or made up (`faq_…`).
    """

    __tablename__ = "faq_articles"
    __table_args__ = (Index("ix_faq_articles_category", "category"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=lambda: new_id("faq"))
    category: Mapped[str] = mapped_column(String(32))
    locales: Mapped[dict[str, Any]] = mapped_column(JSON)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaqState(Base):
    """One row (id 1): `version` goes up in the transaction of every article change, so each
    server process sees before a search that its in-memory index is stale (lib/faq/index.py);
    `seeded_at` records that the starter articles were inserted once (a deleted one stays deleted)."""

    __tablename__ = "faq_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    seeded_at: Mapped[datetime | None] = mapped_column()


class FaqView(Base):
    """An article opened by someone, from a chat (`session_id`) or the help pages."""

    __tablename__ = "faq_views"
    __table_args__ = (Index("ix_faq_views_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fav"))
    article_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(40))
    viewer_type: Mapped[str] = mapped_column(String(16))
    viewer_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaqMiss(Base):
    """A search that found nothing (the normalised query), for the stats' "what is missing"."""

    __tablename__ = "faq_misses"
    __table_args__ = (Index("ix_faq_misses_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fam"))
    query: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
