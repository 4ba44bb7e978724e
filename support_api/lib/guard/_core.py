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
