"""In-memory BM25 index of the FAQ articles, rebuilt when the database says they changed.

- **Documents**: one per article, both locales together (a user may type English in a Japanese
  app and the reverse): title terms ×3, keywords ×2, body ×1 — a term in the title weighs
  more than the same term in the body (a simple, common form of field weighting for BM25).
- **Ranking**: Okapi BM25 (rank-bm25, k1 1.5, b 0.75) of the query's own terms. For each
  synonym group the query touches (lib/faq/synonyms.py), an article that uses a synonym
  instead of the user's word gets the best single synonym's score at half weight where that
  beats its score for the user's word: a synonym stands in for a missing word, but a long
  article full of related words does not outrank one that answers the words typed.
- **Freshness**: every article change bumps `faq_state.version` in its transaction; each search
  reads that one row and rebuilds the index when it moved. Each process sees an edit at its
  next search, on SQLite and PostgreSQL alike, with no message bus.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rank_bm25 import BM25Okapi

import numpy as np

from support_api.lib.faq.synonyms import alternatives
from support_api.lib.faq.tokenize import terms

TITLE_WEIGHT = 3
KEYWORD_WEIGHT = 2
SYNONYM_WEIGHT = 0.5
SNIPPET_CHARS = 120
TERM_CACHE = 20_000  # words whose score vectors are kept (1,000 articles: 8 KB each)
LOCALES = ("ja", "en")

_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_SENTENCE = re.compile(r"(?<=[。！？!?.])\s*|\n+")


@dataclass(frozen=True)
class Article:
    """What the index keeps of an article (a plain copy: no database session needed)."""

    id: str
    category: str
    locales: dict[str, dict[str, str]]
    keywords: tuple[str, ...]
    published: bool

    def text(self, locale: str) -> dict[str, str]:
        """Title and body in `locale`, else in the other one (an article may have only one)."""
        for candidate in (locale, *LOCALES):
            if candidate in self.locales:
                return self.locales[candidate]
        return next(iter(self.locales.values()))


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float
    query_terms: tuple[str, ...] = field(default=())


def _document(article: Article) -> list[str]:
    doc: list[str] = []
    for content in article.locales.values():
        doc += terms(content.get("title", "")) * TITLE_WEIGHT
        doc += terms(_MD_LINK.sub(r"\1", content.get("body", "")))
    for keyword in article.keywords:
        doc += terms(keyword) * KEYWORD_WEIGHT
    return doc


def snippet(article: Article, locale: str, query_terms: Iterable[str] = ()) -> str:
    """The body sentence (Markdown links as their text) sharing most terms with the query,
    else the first; cut to SNIPPET_CHARS."""
    body = _MD_LINK.sub(r"\1", article.text(locale).get("body", ""))
    sentences = [s.strip() for s in _SENTENCE.split(body) if s and s.strip()]
    if not sentences:
        return ""
    wanted = set(query_terms)
    best = max(sentences, key=lambda s: len(wanted & set(terms(s)))) if wanted else sentences[0]
    return best if len(best) <= SNIPPET_CHARS else best[: SNIPPET_CHARS - 1] + "…"


class FaqIndex:
    """BM25 over a fixed set of articles; build a new one when they change."""

    def __init__(self, articles: Iterable[Article], version: int = 0) -> None:
        self.version = version
        self.articles = list(articles)
        docs = [_document(a) for a in self.articles]
        # rank-bm25 divides by the corpus size: an empty FAQ has no model, and no answers.
        self._bm25 = BM25Okapi(docs) if docs else None
        self._cache: dict[str, np.ndarray] = {}
        self._published = np.array([a.published for a in self.articles], dtype=bool)
        self._categories = np.array([a.category for a in self.articles], dtype=object)

    def _scores(self, words: Iterable[str]) -> np.ndarray:
        """BM25 of `words` for every article: the sum of each word's vector. rank-bm25 loops over
        the articles in Python per word; a word's vector is kept (the index is rebuilt, not
        changed, when articles change), so a search costs numpy additions once its words were
        seen — synonyms repeat across queries."""
        assert self._bm25 is not None
        total = np.zeros(len(self.articles))
        for word in words:
            vector = self._cache.get(word)
            if vector is None:
                vector = self._bm25.get_scores([word])
                if len(self._cache) < TERM_CACHE:
                    self._cache[word] = vector
            total = total + vector
        return total

    def search(self, query: str, *, category: str | None = None, published_only: bool = True,
               limit: int = 10, prefer_category: str | None = None, min_score: float = 0.0) -> list[Hit]:
        """Articles matching `query`, best first; only those scoring above `min_score` (and 0)."""
        own = terms(query)
        if not own or self._bm25 is None:
            return []
        scores = self._scores(own)
        for found, others in alternatives(own):
            typed = sum(self._scores(entry) for entry in found)
            best_other = np.max([self._scores(entry) for entry in others], axis=0) if others else 0
            scores = scores + np.maximum(SYNONYM_WEIGHT * best_other - typed, 0)
        if prefer_category:
            scores = scores * np.where(self._categories == prefer_category, 1.25, 1.0)
        keep = scores > max(min_score, 0.0)
        if published_only:
            keep &= self._published
        if category:
            keep &= self._categories == category
        hits = [Hit(self.articles[i], round(float(scores[i]), 4), tuple(own)) for i in np.flatnonzero(keep)]
        hits.sort(key=lambda h: (-h.score, h.article.id))
        return hits[:limit]


def article_of(row: Any) -> Article:
    """An Article from a FaqArticle row (or anything with its attributes)."""
    return Article(id=row.id, category=row.category, locales=dict(row.locales or {}),
                   keywords=tuple(row.keywords or ()), published=bool(row.published))
