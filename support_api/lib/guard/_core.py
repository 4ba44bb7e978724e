"""What every detector shares: the finding type, the normalised view of a text and clause bounds.

Detectors never see the raw text. They get `fold(text)`, a view of the same length in which
the characters people type interchangeably are folded to one form (full-width ASCII to
ASCII, the ideographic space to a space, circled numbers to a space, half-width katakana
to full-width). The view keeps every character at its index, so a span found in it is a span
of the original text, and one set of ASCII patterns also catches "ＰＩＮ：１２３４".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII block
        table[code] = chr(code - 0xFEE0)
    table[0x3000] = " "
    # Circled, parenthesised and dingbat numbers are list markers ("①abandon"): a separator.
    for start, end in ((0x2460, 0x24FF), (0x2776, 0x2793), (0x3251, 0x325F), (0x32B1, 0x32BF)):
        for code in range(start, end + 1):
            if unicodedata.category(chr(code)) == "No":
                table[code] = " "
    # Half-width katakana map one-to-one (a half-width voicing mark becomes the combining one).
    for code in range(0xFF61, 0xFFA0):
        folded = unicodedata.normalize("NFKC", chr(code))
        if len(folded) == 1:
            table[code] = folded
    table[0xFF9E] = "\u3099"
    table[0xFF9F] = "\u309a"
    # Dashes people type between digit groups ("090ー1234ー5678" is left alone: ー is a kana).
    for code in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212):
        table[code] = "-"
    return table


_FOLD = _fold_table()
_FOLDABLE = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_FOLD)) + "]")


def fold(text: str) -> str:
    """The same-length normalised view every detector searches (see the module docstring)."""
    # translate() looks up every character; most texts have no foldable one at all.
    if text.isascii() or not _FOLDABLE.search(text):
        return text
    return text.translate(_FOLD)


# Where a clause ends: context words count only inside the clause of what they describe.
_CLAUSE_END = re.compile(r"[\n。！？!?]|\.(?:\s|$)")


def clause_before(view: str, position: int, reach: int) -> tuple[int, str]:
    """The up to `reach` characters before `position`, cut at the last clause end."""
    start = max(0, position - reach)
    window = view[start:position]
    last = None
    for last in _CLAUSE_END.finditer(window):
        pass
    if last is not None:
        start += last.end()
        window = view[start:position]
    return start, window


def clause_after(view: str, position: int, reach: int) -> str:
    """The up to `reach` characters after `position`, cut at the first clause end."""
    window = view[position:position + reach]
    end = _CLAUSE_END.search(window)
    return window if end is None else window[:end.start()]


def nearest(view: str, start: int, end: int, patterns: tuple[re.Pattern[str], ...], reach_before: int,
            reach_after: int) -> int | None:
    """Index of the pattern with a match nearest to view[start:end] within its clause (ties go
    to the lower index), or None when none of them matches there."""
    _, before = clause_before(view, start, reach_before)
    after = clause_after(view, end, reach_after)
    best: tuple[int, int] | None = None  # (distance, index)
    for index, pattern in enumerate(patterns):
        for found in pattern.finditer(before):
            if best is None or (len(before) - found.end(), index) < best:
                best = (len(before) - found.end(), index)
        found_after = pattern.search(after)
        if found_after is not None and (best is None or (found_after.start(), index) < best):
            best = (found_after.start(), index)
    return None if best is None else best[1]


def lower(view: str) -> str:
    """`view` lower-cased, character for character: the view keyword patterns search.

    str.lower() keeps the length for every character people type here; the few that grow
    (the dotted capital I becomes two characters) are left as they are, so indices hold."""
    lowered = view.lower()
    if len(lowered) == len(view):
        return lowered
    return "".join(char if len(char.lower()) != 1 else char.lower() for char in view)


_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def bounded(text: str, start: int, end: int) -> bool:
    """True when text[start:end] is not glued to ASCII letters on a side where it has one:
    "pin" in "pin: 1234" or "PINコード", not in "spin" or "pinned"."""
    if text[start] in _ASCII_LETTERS and start > 0 and text[start - 1] in _ASCII_LETTERS:
        return False
    return not (text[end - 1] in _ASCII_LETTERS and end < len(text) and text[end] in _ASCII_LETTERS)


# --- normalisation --------------------------------------------------------------------------
# What an attacker (or a keyboard) puts in a secret so that it no longer looks like one, and
# the detectors' view takes out again: invisible characters inside a word ("pass\u200bword"),
# compatibility forms (NFKC: "𝐩𝐚𝐬𝐬𝐰𝐨𝐫𝐝", ligatures, no-break and thin spaces, superscripts)
# and letters of other scripts that look like Latin ones (Cyrillic "а", Greek "ο"). The
# normalised view is no longer the same length, so it carries, per character, the index of the
# original character it came from: a span found in it maps back onto the original text.

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): rendered as nothing.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
_INVISIBLE = frozenset(chr(code) for start, end in _INVISIBLE_RANGES for code in range(start, end + 1))


def _confusable_table() -> dict[str, str]:
    """Non-ASCII letters that Unicode's confusables data (shipped by `confusable_homoglyphs`)
    says look like an ASCII letter or digit, mapped to it (a letter preferred over a digit).
    Japanese characters are left alone: "〇" is a kanji numeral, not an "O"."""
    import json
    from importlib.resources import files

    data = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for char, homoglyphs in data.items():
        if len(char) != 1 or char.isascii() or 0x3000 <= ord(char) <= 0x9FFF or 0xFF00 <= ord(char) <= 0xFFEF:
            continue
        targets = [h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()]
        if targets:
            table[char] = min(targets, key=lambda c: (c.isdigit(), c))
    return table


_CONFUSABLE = _confusable_table()
# A text needs the slow, per-character normalisation only when it holds one of these, or is
# not NFKC-normal already (most Japanese text is, after `fold`).
_SPECIAL = frozenset(_CONFUSABLE) | _INVISIBLE
_CHAR_CACHE: dict[str, str] = {}


def _normal_char(char: str) -> str:
    cached = _CHAR_CACHE.get(char)
    if cached is None:
        if char in _INVISIBLE:
            cached = ""
        else:
            cached = "".join(_CONFUSABLE.get(c, c) for c in unicodedata.normalize("NFKC", char))
        if len(_CHAR_CACHE) < 65536:
            _CHAR_CACHE[char] = cached
    return cached


def normalise(view: str) -> tuple[str, list[int]] | None:
    """The detectors' view of `view` (already `fold`ed) with invisible characters removed,
    NFKC applied and confusable letters folded, and for each of its characters the index of
    the character of `view` it came from; None when that view is `view` itself."""
    if view.isascii():
        return None
    if _SPECIAL.isdisjoint(view) and unicodedata.is_normalized("NFKC", view):
        return None
    out: list[str] = []
    positions: list[int] = []
    for index, char in enumerate(view):
        if char.isascii():
            out.append(char)
            positions.append(index)
            continue
        normal = _normal_char(char)
        out.append(normal)
        positions.extend([index] * len(normal))
    return "".join(out), positions
