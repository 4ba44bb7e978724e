"""Search terms of a Japanese or English text: the same function for articles and queries.

1. NFKC (full-width Latin and digits to ASCII, half-width katakana to full-width), lower case.
2. Japanese: SudachiPy (dictionary sudachidict-core) in its middle split mode (B: 振込手数料 → 振り込み 手数料), each word by
   its *normalised form*, which folds spelling variants into one (振り込み/振込み/振込 → 振り込み,
   出来る/できる, ﾛｸﾞｲﾝ/ログイン, 二/2); particles, auxiliaries, punctuation and a few empty verbs
   are dropped. Measured against Janome and fugashi+unidic-lite (docs/self-service.md): Sudachi
   loaded in 0.04 s and tokenised 300 characters in 0.2 ms (Janome 6 ms, fugashi 0.4 ms).
3. Latin words: Snowball English stemmer (PyStemmer), English stop words dropped.
4. An identifier (10 or more ASCII letters and digits, both present: a pasted transaction hash,
   address or order number) is one term, as written: Sudachi would split `3c2fa91b0e` into
   3/c/2/fa/91/b/0/e, and those pieces matched the 2FA article for a query made of nothing but
   an id. Shorter mixes (2FA, ERC20, iPhone15, Windows11) still go through Sudachi as before.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

import Stemmer
from sudachipy import Dictionary, SplitMode

_SKIP_POS = frozenset({"助詞", "助動詞", "補助記号", "空白", "記号"})
# Verbs and nouns so common in questions that they only add noise ("…できない", "…している").
_JA_STOP = frozenset({"為る", "居る", "有る", "成る", "下さる", "出来る", "ない", "事", "物", "方", "時", "よう",
                      "其の", "此の", "何", "場合", "てる", "ちゃう", "くれる", "もらう", "頂く", "欲しい", "思う"})
_EN_STOP = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being
am do does did doing have has had i me my we our you your it its this that these those there here what which who
whom how why when where can could would should will shall may might must not no so than too very just about into
over under again then once please help hi hello get got still""".split())
_LATIN = re.compile(r"^[a-z0-9][a-z0-9'._-]*$")
_IDENTIFIER = re.compile(r"(?<![a-z0-9])(?=[a-z0-9]*[0-9])(?=[a-z0-9]*[a-z])[a-z0-9]{10,}(?![a-z0-9])")

_local = threading.local()


@lru_cache(maxsize=1)
def _dictionary() -> Dictionary:
    return Dictionary(dict="core")


def _tokenizer() -> Any:
    # A Sudachi tokenizer keeps state between calls: one per thread (greenlets of one thread
    # never interleave inside a call, which does not yield).
    tok = getattr(_local, "tokenizer", None)
    if tok is None:
        tok = _local.tokenizer = _dictionary().tokenizer(SplitMode.B)
    return tok


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def normalise(text: str) -> str:
    """NFKC, lower case, whitespace collapsed: how a query is stored for the miss statistics."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def terms(text: str) -> list[str]:
    """The search terms of `text`, in order (repeats kept: BM25 counts them)."""
    out: list[str] = []
    text = normalise(text)
    start = 0
    for match in _IDENTIFIER.finditer(text):
        _words(text[start:match.start()], out)
        out.append(match.group())
        start = match.end()
    _words(text[start:], out)
    return out


def _words(text: str, out: list[str]) -> None:
    """Append the terms of normalised `text` (no identifiers in it) to `out`."""
    if not text.strip():
        return
    stem = _stemmer()
    for morpheme in _tokenizer().tokenize(text):
        pos = morpheme.part_of_speech()[0]
        if pos in _SKIP_POS:
            continue
        surface = morpheme.surface()
        if _LATIN.match(surface):
            word = surface.strip("'._-")
            if word and word not in _EN_STOP:
                out.append(stem.stemWord(word))
            continue
        form = morpheme.normalized_form()
        if form in _JA_STOP or (len(form) == 1 and "\u3040" <= form <= "\u309f"):
            continue  # a lone hiragana is a particle the dictionary did not tag as one
        out.append(form)


def warm_up() -> None:
    """Load the dictionary now (at start-up) rather than in the first request."""
    terms("入金 deposit")
