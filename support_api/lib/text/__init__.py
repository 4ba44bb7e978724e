"""The one catalogue of texts the system and the bot write (ja, en), as gettext `.po` files.

The source language is English: a text's msgid is its English form, and `ja.po` beside this
module holds the Japanese. The files are read at run time with Babel's PO reader (no compile
step, so an edited catalogue only needs a restart). Texts are `str.format` templates with named
fields. Which language: the token's `locale`, else the request's `Accept-Language`, else English
(`negotiate`); the chat's texts follow the locale the user opened it with (`ChatSession.user_locale`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from io import BytesIO
from typing import Any

from babel.messages.pofile import read_po

LANGUAGES = ("en", "ja")
DEFAULT = "en"


def language(locale: str | None) -> str:
    """`ja` for any Japanese locale (ja, ja-JP, ja_JP…), else `en`."""
    return "ja" if (locale or "").lower().replace("_", "-").split("-")[0] == "ja" else "en"


def negotiate(token_locale: str | None, accept_language: Any = None) -> str:
    """The language of a reply: the token's locale, else the best of `Accept-Language`
    (werkzeug's parsed header), else English."""
    if token_locale:
        return language(token_locale)
    if accept_language is not None:
        best = accept_language.best_match(["ja", "ja-JP", "en", "en-US", "en-GB"])
        if best:
            return language(best)
    return DEFAULT


@lru_cache(maxsize=len(LANGUAGES))
def _catalogue(lang: str) -> dict[str, str]:
    if lang == "en":
        return {}
    raw = resources.files(__package__).joinpath(f"{lang}.po").read_bytes()
    catalog = read_po(BytesIO(raw), locale=lang)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


def text(locale: str | None, msgid: str, **fields: Any) -> str:
    """`msgid` in the language of `locale` (English when it has no translation), filled in."""
    template = _catalogue(language(locale)).get(msgid, msgid)
    return template.format(**fields) if fields else template


def texts(locale: str | None, *msgids: str) -> tuple[str, ...]:
    return tuple(text(locale, msgid) for msgid in msgids)
