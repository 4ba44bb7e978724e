"""FAQ articles: search and read (any valid token), write (admins), record views."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from support_api.api.common import current_principal, json_body, query_args
from support_api.lib.runtime import get_runtime
from support_api.lib.text import negotiate
from support_api.models import FaqArticle
from support_api.schemas.requests import (
    FaqArticleCreateSchema,
    FaqArticleQuery,
    FaqArticleUpdateSchema,
    FaqSearchQuery,
    FaqViewSchema,
)
from support_api.schemas.responses import iso
from support_api.services import faq

bp = Blueprint("faq", __name__)

_create = FaqArticleCreateSchema()
_update = FaqArticleUpdateSchema()
_search = FaqSearchQuery()
_one = FaqArticleQuery()
_view = FaqViewSchema()


def _locale(asked: str | None) -> str:
    """The `locale` parameter, else the token's locale, else Accept-Language, else en."""
    return asked or negotiate(current_principal().locale, request.accept_languages)


def dump_article(row: FaqArticle, locale: str) -> dict[str, Any]:
    """A FaqArticle: every locale, plus `title` and `body` in the one asked for (or the other)."""
    shown = row.locales.get(locale) or next(iter(row.locales.values()))
    return {
        "id": row.id,
        "category": row.category,
        "locales": {lang: row.locales[lang] for lang in ("ja", "en") if lang in row.locales},
        "keywords": list(row.keywords or []),
        "published": row.published,
        "locale": locale if locale in row.locales else next(iter(row.locales)),
        "title": shown["title"],
        "body": shown["body"],
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


@bp.get("/faq/articles")
def search() -> dict[str, Any]:
    principal = current_principal()
    args = query_args(_search)
    locale = _locale(args.get("locale"))
    page = faq.search(get_runtime(), principal, q=args.get("q"), category=args.get("category"), locale=locale,
                      limit=args["limit"], cursor=args.get("cursor"))
    return {"items": [faq.dump_hit(hit, locale) for hit in page.hits], "next_cursor": page.next_cursor}


@bp.post("/faq/articles")
def create() -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_create)
    return dump_article(faq.create(get_runtime(), principal, data), _locale(None)), 201


@bp.get("/faq/articles/<article_id>")
def get_one(article_id: str) -> dict[str, Any]:
    principal = current_principal()
    args = query_args(_one)
    return dump_article(faq.get(get_runtime(), principal, article_id), _locale(args.get("locale")))


@bp.patch("/faq/articles/<article_id>")
def update(article_id: str) -> dict[str, Any]:
    principal = current_principal()
    changes = json_body(_update)
    return dump_article(faq.patch(get_runtime(), principal, article_id, changes), _locale(None))


@bp.delete("/faq/articles/<article_id>")
def delete(article_id: str) -> Response:
    faq.delete(get_runtime(), current_principal(), article_id)
    return Response(status=204)


@bp.post("/faq/articles/<article_id>/views")
def view(article_id: str) -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_view) if request.content_length else {"session_id": None}
    seen = faq.record_view(get_runtime(), principal, article_id, data["session_id"])
    return {"id": seen.id, "article_id": seen.article_id, "session_id": seen.session_id,
            "created_at": iso(seen.created_at)}, 201
