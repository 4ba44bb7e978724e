"""FAQ articles: admins write them, anyone with a token searches and reads them.

Every change bumps `faq_state.version` in its own transaction, which is how every server
process learns that its in-memory search index (lib/faq/index.py) is stale: `index()` reads
that one row before each search and rebuilds when it moved.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from support_api.lib.access import get_session, require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Conflict, NotFound, ValidationFailed
from support_api.lib.faq.index import FaqIndex, Hit, article_of, snippet
from support_api.lib.faq.tokenize import normalise
from support_api.lib.runtime import Runtime
from support_api.models import FaqArticle, FaqMiss, FaqState, FaqView, utcnow
from support_api.services import audit

_STATE_ID = 1
_ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
_build_lock = threading.Lock()


@dataclass(frozen=True)
class SearchPage:
    hits: list[Hit]
    locale: str
    next_cursor: str | None


def _bump(db: Session) -> None:
    """One more version, in the caller's transaction (the row may be missing: tests empty tables)."""
    done = db.execute(update(FaqState).where(FaqState.id == _STATE_ID).values(version=FaqState.version + 1))
    if done.rowcount == 0:  # type: ignore[attr-defined]
        db.add(FaqState(id=_STATE_ID, version=1))


def _version(db: Session) -> int:
    return db.execute(select(FaqState.version).where(FaqState.id == _STATE_ID)).scalar_one_or_none() or 0


def index(rt: Runtime) -> FaqIndex:
    """This process's index of every article, rebuilt when the database's version moved."""
    with rt.db.read() as db:
        version = _version(db)
        cached = rt.db.shared.get("faq_index")
        if isinstance(cached, FaqIndex) and cached.version == version:
            return cached
        # One build at a time per process; the articles are read after the version, so an
        # index is never newer-labelled than its content (at worst rebuilt once more).
        with _build_lock:
            cached = rt.db.shared.get("faq_index")
            if isinstance(cached, FaqIndex) and cached.version == version:
                return cached
            rows = db.execute(select(FaqArticle).order_by(FaqArticle.id)).scalars().all()
            built = FaqIndex([article_of(row) for row in rows], version)
            rt.db.shared["faq_index"] = built
            return built


def _is_admin(principal: Principal) -> bool:
    return principal.role is Role.ADMIN


def _get(db: Session, principal: Principal, article_id: str, *, for_update: bool = False) -> FaqArticle:
    if not _ARTICLE_ID.match(article_id):
        raise NotFound("Article not found")  # checked before SQL: no NUL bytes or huge strings there
    query = select(FaqArticle).where(FaqArticle.id == article_id)
    if for_update:
        query = query.with_for_update()
    row = db.execute(query).scalar_one_or_none()
    if row is None or (not row.published and not _is_admin(principal)):
        raise NotFound("Article not found")
    return row


def get(rt: Runtime, principal: Principal, article_id: str) -> FaqArticle:
    """One article; an unpublished one only for admins (404 for anyone else)."""
    with rt.db.read() as db:
        return _get(db, principal, article_id)


def search(rt: Runtime, principal: Principal, *, q: str | None, category: str | None, locale: str, limit: int,
           cursor: str | None) -> SearchPage:
    """`q` ranked by BM25 (best first), or without `q` every article by id. Admins also see
    unpublished ones. A search that finds nothing is recorded for the stats (`top_missed`)."""
    offset = _offset(cursor)
    published_only = not _is_admin(principal)
    found = index(rt)
    if q and q.strip():
        hits = found.search(q, category=category, published_only=published_only, limit=offset + limit + 1)
        if not hits and offset == 0:
            with rt.db.write() as db:
                db.add(FaqMiss(query=normalise(q)[:200], locale=locale, created_at=utcnow()))
    else:
        hits = [Hit(a, 0.0) for a in found.articles
                if (a.published or not published_only) and (not category or a.category == category)]
        hits = hits[: offset + limit + 1]
    page = hits[offset: offset + limit]
    more = len(hits) > offset + limit
    return SearchPage(page, locale, str(offset + limit) if more else None)


def _offset(cursor: str | None) -> int:
    """A cursor of this list is the position of the next page (opaque to clients)."""
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 6):
        raise ValidationFailed("The cursor is not valid", {"fields": {"cursor": ["Not a cursor of this list."]}})
    return int(cursor)


def dump_hit(hit: Hit, locale: str, with_score: bool = True) -> dict[str, Any]:
    text = hit.article.text(locale)
    data: dict[str, Any] = {"id": hit.article.id, "category": hit.article.category, "title": text.get("title", ""),
                            "snippet": snippet(hit.article, locale, hit.query_terms)}
    if with_score:
        data["score"] = hit.score if hit.query_terms else None
    return data


def _apply(row: FaqArticle, data: dict[str, Any]) -> None:
    if "category" in data:
        row.category = data["category"]
    if "locales" in data:
        # A PATCH names the locales it rewrites; the others stay as they were.
        row.locales = {**(row.locales or {}), **data["locales"]}
    if "keywords" in data:
        row.keywords = list(dict.fromkeys(data["keywords"]))
    if "published" in data:
        row.published = data["published"]


def create(rt: Runtime, principal: Principal, data: dict[str, Any]) -> FaqArticle:
    require_role(principal, Role.ADMIN)
    now = utcnow()
    with rt.db.write() as db:
        if data.get("id") and db.get(FaqArticle, data["id"]) is not None:
            raise Conflict("An article with this id exists", {"reason": "duplicate_id"})
        row = FaqArticle(category=data["category"], locales={}, keywords=[], published=True, created_at=now,
                         updated_at=now)
        if data.get("id"):
            row.id = data["id"]
        _apply(row, data)
        db.add(row)
        db.flush()
        _bump(db)
        audit.record(db, principal, "faq.created", "faq_article", row.id)
    return row


def patch(rt: Runtime, principal: Principal, article_id: str, changes: dict[str, Any]) -> FaqArticle:
    require_role(principal, Role.ADMIN)
    with rt.db.write() as db:
        row = _get(db, principal, article_id, for_update=True)
        _apply(row, changes)
        row.updated_at = utcnow()
        _bump(db)
        audit.record(db, principal, "faq.updated", "faq_article", row.id, {"fields": sorted(changes)})
    return row


def delete(rt: Runtime, principal: Principal, article_id: str) -> None:
    require_role(principal, Role.ADMIN)
    with rt.db.write() as db:
        row = _get(db, principal, article_id, for_update=True)
        db.delete(row)
        _bump(db)
        audit.record(db, principal, "faq.deleted", "faq_article", article_id)


def record_view(rt: Runtime, principal: Principal, article_id: str, session_id: str | None) -> FaqView:
    """Someone opened an article (from a chat when `session_id`, which they must be able to see)."""
    with rt.db.write() as db:
        _get(db, principal, article_id)
        if session_id is not None:
            get_session(db, principal, session_id)
        view = FaqView(article_id=article_id, session_id=session_id, viewer_type=principal.participant_type,
                       viewer_id=principal.id, created_at=utcnow())
        db.add(view)
    return view


# --- import, export, starter set -------------------------------------------------------------


def export_articles(rt: Runtime) -> list[dict[str, Any]]:
    """Every article in the import format, by id."""
    with rt.db.read() as db:
        rows = db.execute(select(FaqArticle).order_by(FaqArticle.id)).scalars().all()
    return [{"id": r.id, "category": r.category, "published": r.published, "keywords": list(r.keywords or []),
             "locales": {lang: dict(r.locales[lang]) for lang in ("ja", "en") if lang in (r.locales or {})},
             "updated_at": r.updated_at.isoformat()} for r in rows]


def import_articles(rt: Runtime, articles: list[dict[str, Any]], *, only_new: bool = False) -> tuple[int, int]:
    """Insert or replace articles by id (validated by FaqArticleImportSchema); `only_new` leaves
    existing ones alone. Returns (created, updated). One transaction: all or nothing."""
    with rt.db.write() as db:
        return _upsert(db, articles, only_new=only_new)


def _upsert(db: Session, articles: list[dict[str, Any]], *, only_new: bool) -> tuple[int, int]:
    created = updated = 0
    now = utcnow()
    for data in articles:
        row = db.execute(select(FaqArticle).where(FaqArticle.id == data["id"]).with_for_update()).scalar_one_or_none()
        if row is not None and only_new:
            continue
        if row is None:
            row = FaqArticle(id=data["id"], category=data["category"], locales={}, keywords=[], published=True,
                             created_at=now)
            db.add(row)
            created += 1
        else:
            updated += 1
        row.locales = {}
        _apply(row, {"keywords": [], **data})
        row.updated_at = now
    if created or updated:
        _bump(db)
    return created, updated


def load_yaml(raw: str) -> list[dict[str, Any]]:
    """The validated articles of an import file (`articles:` list); ValidationFailed if not."""
    from support_api.api.common import _validated  # one validation path and error shape
    from support_api.schemas.requests import FaqArticleImportSchema

    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"Not valid YAML: {exc}") from exc
    items = document.get("articles") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ValidationFailed("The file must hold a mapping with an `articles:` list")
    schema = FaqArticleImportSchema()
    loaded = []
    for number, item in enumerate(items, start=1):
        try:
            loaded.append(_validated(schema, item))
        except ValidationFailed as exc:
            raise ValidationFailed(f"Article {number} is not valid", exc.details) from exc
    ids = [a["id"] for a in loaded]
    if len(ids) != len(set(ids)):
        raise ValidationFailed("The file names one id twice")
    return loaded


def dump_yaml(articles: list[dict[str, Any]]) -> str:
    return yaml.safe_dump({"articles": articles}, allow_unicode=True, sort_keys=False, width=1000)


def seed_starter(rt: Runtime) -> int:
    """On the first start of a database: insert the starter articles (lib/faq/starter_articles.yaml)
    that are not there yet, and remember it, so an article deleted later stays deleted. Safe
    when several processes start at once (the state row is locked). Returns how many it added."""
    raw = resources.files("support_api.lib.faq").joinpath("starter_articles.yaml").read_text("utf-8")
    with rt.db.write() as db:
        state = db.execute(select(FaqState).where(FaqState.id == _STATE_ID).with_for_update()).scalar_one_or_none()
        if state is not None and state.seeded_at is not None:
            return 0
        if state is None:
            state = FaqState(id=_STATE_ID, version=0)
            db.add(state)
        state.seeded_at = utcnow()
        db.flush()
        created, _ = _upsert(db, load_yaml(raw), only_new=True)
    return created
