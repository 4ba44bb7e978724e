"""BIP-39 recovery phrases in the English and Japanese word lists.

The word lists and the checksum come from trezor's `mnemonic` package. A phrase is found as
a run of word tokens; whatever lies between tokens (spaces, U+3000, newlines, commas, list
numbers such as "1.", "1)", "(1)", "①", "#1", "1番") is a separator. A run is a mnemonic when

- some window of 12, 15, 18, 21 or 24 consecutive exact words has a valid BIP-39 checksum
  (certain, whatever the punctuation between the words), or
- it is at least `MIN_WORDS` consecutive tokens of one list, with at most `MAX_REPEATS`
  repeated words and a typo budget of `TYPO_BUDGET`: a word at edit distance 1 of a list
  word (transpositions included; in NFKD, so a lost voicing mark is one) costs 1, an
  unknown word of the same script (or, in Japanese, a word the IME turned into kanji or
  katakana) costs 2, so 12 tokens may hold two typos or one wrong word. People mistype
  phrases, and a mistyped phrase is as dangerous as a correct one: given 11 words of 12,
  the 12th is one of 2048 and the checksum leaves about 128.

Ordinary English contains many list words ("about", "account", "again", "also", "amount",
"because", "number", "order", "please", "help", "you", "can"), so a run breaks where prose
differs from a word list: at a word that is neither a list word nor a near one, at any
common English word (`_STOP_WORDS`: never a typo of a list word, never an unknown word),
and at a sentence end (".", "?", "!", "。" right after a word). Japanese prose breaks on
hiragana glued to kanji (only a whole token of hiragana can be a list word) and on a second
kanji token. Calibration: run over 100 MB of English prose and code (package metadata,
licences, docs, the Python standard library), these rules flag only a few lines of code
and markup lists, and no prose.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

from mnemonic import Mnemonic

from support_api.lib.guard._core import Finding

MIN_WORDS = 12
# The fewest words of a piece of a phrase split over several messages (services/safety.py).
MIN_PIECE = 3
TYPO_BUDGET = 2
# Repeated words in a window: a real 24-word phrase repeats one word in 13% of cases and
# three in well under 1%, while word lists in code and markup ("Dynamic: license,
# Dynamic: project") repeat all the time.
MAX_REPEATS = 2
PHRASE_LENGTHS = (12, 15, 18, 21, 24)
# Checksum windows per text: a hostile text full of list words must not cost unbounded work.
_MAX_CHECKSUM_WINDOWS = 1024

_ENGLISH = Mnemonic("english")
_JAPANESE = Mnemonic("japanese")
# BIP-39 compares NFKD forms; the Japanese list is stored in NFKD already, normalise anyway.
_WORDS: dict[str, frozenset[str]] = {
    "english": frozenset(_ENGLISH.wordlist),
    "japanese": frozenset(unicodedata.normalize("NFKD", word) for word in _JAPANESE.wordlist),
}
_CHECKERS = {"english": _ENGLISH, "japanese": _JAPANESE}
_INDEX = {language: {word: index for index, word in enumerate(_CHECKERS[language].wordlist)}
          for language in _CHECKERS}


def _delete_index(words: frozenset[str]) -> frozenset[str]:
    """Every list word and every string one deletion away from one: two strings within
    (Damerau) edit distance 1 share a member of their deletion neighbourhoods."""
    keys: set[str] = set()
    for word in words:
        keys.add(word)
        keys.update(word[:i] + word[i + 1:] for i in range(len(word)))
    return frozenset(keys)


_NEAR_KEYS = {language: _delete_index(words) for language, words in _WORDS.items()}
# The shortest token that may count as a typo ("wat" for "want"); common short English
# words never do, as `_STOP_WORDS` are ruled out first.
_MIN_NEAR_LENGTH = {"english": 3, "japanese": 3}

# Common English words: never a typo of a list word, never an unknown word (the list words
# among them still count as list words: the list is consulted first).
_STOP_WORDS = frozenset("""
a i an the to of in on at by for from with without into onto and or but nor so if as is am
are was were be been being do does did done doing have has had having not no yes my me mine
our ours we us you your yours he him his she her hers it its they them their theirs this
these those there here what which who whom whose why how when where than then too very can
could would should shall will may might must just also only even ever never always still
yet again already about after before because since until while though although however
please thanks thank thx pls plz hi hello hey dear sir madam ok okay yeah sorry regards best
get got gets getting make makes made go goes went gone come came see saw seen look looked
know knew known want wanted need needed try tried use used say said tell told ask asked
send sent receive received show shown give gave given take took taken find found help
working worked works buy bought sell sold withdraw withdrew withdrawal deposit deposited
wallet bank app account login log email mail phone sms code password pin key keys seed
phrase phrases words word recovery mnemonic private secret btc eth xrp ltc bch usdt jpy usd
yen coin coins crypto bitcoin ethereum ripple exchange error issue problem support team
screen button page today yesterday tomorrow morning evening night minutes hours days weeks
months years week time times any some all each every both few many much more most other
another same such own one two three four five six seven eight nine ten first second last
next new old good bad right wrong now out up down over under off why isn't doesn't don't
can't won't didn't cannot hasn't haven't wasn't i'm i've it's that's what's there's let's
id ids ios android iphone pc mac web site fee fees amount order orders trade trades price
""".split())

# List markers glued to a number ("No.1", "1番", "1つ目", "1st") are separators, not words.
_MARKERS = frozenset({"no", "nr", "st", "nd", "rd", "th", "word", "番", "番目", "目", "つ目", "個目", "語目"})

# Words that join a list of words without being one ("abandon and ability and able"): the
# checksum windows look through them (a valid checksum is certain whatever lies between).
_JOINERS = frozenset({"and", "plus", "und"})

# The list words that are among the most frequent English words (wordfreq's Zipf frequency
# >= 5.0; tests/test_guard_safety.py checks this copy against the `wordfreq` package, which is
# a test dependency only). An English sentence whose words all happen to be list words is made
# of these and holds a function word (`FUNCTION_WORDS`: you, that, what, will…); a generated
# phrase is not: 3/4 or more common words and a function word hold for 0.01% of 12 random
# list words (1 in 12,000). Such a run is `possible_mnemonic` (the sender confirms), never a
# refusal.
COMMON_WORDS = frozenset("""
able about above access account across act action add again age ahead air album all allow almost alone already
also always amazing among amount another answer any april area army around art ask attack august average away
baby ball base because become before behind believe below best better between black blood blue board body book
box boy bring brother brown build business call can capital car card case cause century certain change charge
check chief child choice city close club code come common company control cool cost country couple course
cover crazy credit cross culture cup current daughter day deal december design dog door double drive during
early earth east easy eight either else end energy enjoy enough entire evidence example expect eye face fall
family father february federal feel female few field figure film final find fine fire first focus follow food
force forget forward found friend front fun funny future game gas general girl give gold good great green
group guess hair half hand happy hard have head health heart help high history hold home hope hospital hour
huge human husband ice idea include increase industry inside interest into island issue job join just keep key
kind know language large later law learn leave left legal level life light like list little live local long
love main major make man march market match matter mean media member message middle million mind miss model
mom moment month more morning mother move movie much music must myself name near need network never news next
nice night normal north note nothing now number october off offer office often oil okay old once one online
only open order original other outside over own page paper park party pass peace people perfect person phone
picture piece place play please point police popular position possible post power practice present pretty
price private problem process program project property provide public put quality question race radio range
rate rather ready real reason record region release remember report response result return review right risk
river road room round run safe same save say school science sea season second section security sense series
service seven share short side sign similar simple since six size sleep small social someone song soon sorry
sort sound source south space speak special speed staff stage stand start state stay step still story street
strong student stuff style success such summer super sure system table talk team tell ten term test text thank
that then there they thing this thought three time title today together tomorrow tonight top total town track
trade travel true trust truth try turn two type under until upon use used various version very video view
visit voice vote wait walk wall want water way west what when where wife will win wish woman word work world
worth write wrong year you young
""".split())
PROSE_SHARE = 3 / 4
FUNCTION_WORDS = frozenset("""
you that this they what when will can have must just there then into about never only still also again
because before any all other over such same until very where more much now
""".split())

_TOKEN = re.compile(r"[^\W\d_]+")
# Decomposed input ("か" + U+3099) needs the combining marks inside tokens; that pattern is
# three times slower, so it runs only when such marks are present.
_TOKEN_DECOMPOSED = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f\u3099\u309a])+")
_COMBINING = re.compile(r"[\u0300-\u036f\u3099\u309a]")
_HIRAGANA = re.compile(r"[\u3041-\u3096\u3099-\u309c]+")
_KANJI_OR_KATAKANA = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々\u30a1-\u30fa\u30fc]+")
# A gap that ends a sentence: "?", "!", "。" anywhere, or a period right after a word
# (a period after a list number, "1. abandon", is a separator).
_SENTENCE_GAP = re.compile(r"[?!？！。]|(?<=[^\W\d_])\.(?=\s|$)")

_EXACT, _NEAR, _UNKNOWN = 0, 1, 2
_BREAK = 99


class _Token(NamedTuple):
    start: int
    end: int
    word: str       # NFKD, lower case
    language: str   # "english", "japanese" or "" (breaks every run)
    cost: int       # 0 exact list word, 1 near (typo), 2 unknown, _BREAK otherwise


# No list word is longer than 8 letters (9 NFKD characters in Japanese): a longer token is
# neither a word nor a typo of one, and is never hashed into the cache or edited letter by letter.
_MAX_TOKEN = 11


@lru_cache(maxsize=16384)
def _classify(raw: str) -> tuple[str, str, int]:
    if raw.isascii():
        word, language = raw.lower(), "english"
    elif _HIRAGANA.fullmatch(raw):
        word, language = unicodedata.normalize("NFKD", raw), "japanese"
    elif len(raw) <= 6 and _KANJI_OR_KATAKANA.fullmatch(raw):
        # The IME turned a typed word into kanji ("あいこくしん" -> "愛国心"): an unknown word.
        return raw, "japanese", _UNKNOWN
    else:
        return raw, "", _BREAK
    if word in _WORDS[language]:
        return word, language, _EXACT
    if language == "english" and word in _STOP_WORDS:
        return word, language, _BREAK
    if len(word) >= _MIN_NEAR_LENGTH[language] and _is_near(word, language):
        return word, language, _NEAR
    if language == "english" and 3 <= len(word) <= 10:
        return word, language, _UNKNOWN
    return word, language, _BREAK


def _is_near(word: str, language: str) -> bool:
    keys = _NEAR_KEYS[language]
    if word in keys:  # one letter too few, or exactly a list word
        return True
    return any(word[:i] + word[i + 1:] in keys for i in range(len(word)))


def _tokens(view: str) -> list[_Token]:
    """Word tokens; list markers glued to a number are dropped, not kept as breaks."""
    pattern = _TOKEN_DECOMPOSED if _COMBINING.search(view) else _TOKEN
    tokens: list[_Token] = []
    for match in pattern.finditer(view):
        raw = match.group()
        start, end = match.span()
        if len(raw) <= 3 and raw.lower() in _MARKERS and (
            (start > 0 and view[start - 1].isdigit()) or (end < len(view) and view[end].isdigit())
        ):
            continue
        if len(raw) > _MAX_TOKEN:
            tokens.append(_Token(start, end, "", "", _BREAK))
            continue
        word, language, cost = _classify(raw)
        tokens.append(_Token(start, end, word, language, cost))
    return tokens


def _runs(view: str, tokens: list[_Token]) -> Iterator[list[_Token]]:
    """Maximal runs of tokens of one language with no break between them."""
    run: list[_Token] = []
    for token in tokens:
        joins = (
            run
            and token.cost != _BREAK
            and token.language == run[-1].language
            and not _SENTENCE_GAP.search(view, run[-1].end, token.start)
        )
        if joins:
            run.append(token)
            continue
        if len(run) >= MIN_WORDS:
            yield run
        run = [token] if token.cost != _BREAK else []
    if len(run) >= MIN_WORDS:
        yield run


def _heuristic_span(run: list[_Token]) -> tuple[int, int, bool] | None:
    """The span of all windows of >= MIN_WORDS tokens within the typo budget and with at most
    MAX_REPEATS repeated words (two pointers: shrinking a window lowers both counts)."""
    first: int | None = None
    last: int | None = None
    left = 0
    spent = 0
    repeats = 0
    seen: dict[str, int] = {}
    for right, token in enumerate(run):
        spent += token.cost
        repeats += seen.get(token.word, 0) > 0
        seen[token.word] = seen.get(token.word, 0) + 1
        while spent > TYPO_BUDGET or repeats > MAX_REPEATS:
            gone = run[left]
            spent -= gone.cost
            seen[gone.word] -= 1
            repeats -= seen[gone.word] > 0
            left += 1
        if right - left + 1 >= MIN_WORDS:
            first = run[left].start if first is None else min(first, run[left].start)
            last = token.end
    if first is None or last is None:
        return None
    return first, last, reads_as_prose([token.word for token in run if first <= token.start and token.end <= last])


def reads_as_prose(words: list[str]) -> bool:
    """True when most words are very common English words and one is a function word (see
    `COMMON_WORDS`)."""
    return (bool(words) and sum(word in COMMON_WORDS for word in words) >= PROSE_SHARE * len(words)
            and not FUNCTION_WORDS.isdisjoint(words))


def _exact_stretches(tokens: list[_Token]) -> Iterator[list[_Token]]:
    """Maximal stretches of exact words of one language, punctuation notwithstanding."""
    stretch: list[_Token] = []
    for token in tokens:
        if token.cost == _EXACT and stretch and token.language == stretch[-1].language:
            stretch.append(token)
            continue
        if stretch and token.word in _JOINERS:
            continue
        if len(stretch) >= MIN_WORDS:
            yield stretch
        stretch = [token] if token.cost == _EXACT else []
    if len(stretch) >= MIN_WORDS:
        yield stretch


def _fast_checksum(words: list[str], language: str) -> bool:
    """The BIP-39 checksum by word index: a filter, so the package's check runs on hits only."""
    index = _INDEX[language]
    value = 0
    for word in words:
        value = value << 11 | index[word]
    checksum_bits = len(words) * 11 // 33
    entropy = (value >> checksum_bits).to_bytes(len(words) * 11 // 33 * 4, "big")
    expected = hashlib.sha256(entropy).digest()[0] >> (8 - checksum_bits)
    return value & ((1 << checksum_bits) - 1) == expected


def checksum_valid(words: list[str], language: str) -> bool:
    """True when `words` (NFKD list words) form a BIP-39 phrase with a valid checksum."""
    if len(words) not in PHRASE_LENGTHS or any(word not in _INDEX[language] for word in words):
        return False
    return _fast_checksum(words, language) and _CHECKERS[language].check(" ".join(words))


def _checksum_spans(tokens: list[_Token], covered: list[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
    budget = _MAX_CHECKSUM_WINDOWS
    for stretch in _exact_stretches(tokens):
        if any(start <= stretch[0].start and stretch[-1].end <= end for start, end in covered):
            continue  # the heuristic already has all of it
        words = [token.word for token in stretch]
        language = stretch[0].language
        for size in PHRASE_LENGTHS:
            for offset in range(len(stretch) - size + 1):
                if budget == 0:
                    return
                budget -= 1
                window = words[offset:offset + size]
                # Many repeats pass only as a whole pasted phrase (the run is exactly the window):
                # the famous test vectors ("abandon" ×11 "about", "legal winner thank year …")
                # hold real funds, while repetitive lists in code run on past 12 words.
                if size - len(set(window)) > MAX_REPEATS and len(stretch) != size:
                    continue
                if _fast_checksum(window, language) and _CHECKERS[language].check(" ".join(window)):
                    # One 12-word sentence in 16 passes the checksum by chance: common words
                    # still only ask (a generated phrase reads as prose in 0.2% of cases).
                    yield stretch[offset].start, stretch[offset + size - 1].end, reads_as_prose(window)


def find(view: str) -> list[Finding]:
    """Recovery phrases (`mnemonic`) and runs of list words that read as ordinary English
    (`possible_mnemonic`: the sender is asked to confirm)."""
    findings = _glued(view)
    tokens = _tokens(view)
    if sum(1 for token in tokens if token.cost != _BREAK) < MIN_WORDS:
        return findings
    spans: list[tuple[int, int, bool]] = []
    for run in _runs(view, tokens):
        span = _heuristic_span(run)
        if span is not None:
            spans.append(span)
    spans.extend(_checksum_spans(tokens, [(start, end) for start, end, prose in spans if not prose]))
    certain = _merge([(start, end) for start, end, prose in spans if not prose])
    possible = _merge([(start, end) for start, end, prose in spans
                       if prose and not any(s <= start and end <= e for s, e in certain)])
    findings += [Finding("mnemonic", start, end) for start, end in certain]
    findings += [Finding("possible_mnemonic", start, end) for start, end in possible]
    return findings


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# --- phrases typed with no separator at all --------------------------------------------------
# "abandonabilityable…": one letter run of 12+ list words. English: a run of >= 36 ASCII
# letters (12 words of >= 3 letters) that splits wholly into >= 12 list words is a phrase
# whatever its checksum (no English word or identifier is made of twelve list words). Japanese
# (NFKD hiragana; every all-hiragana sentence splits into something): only a split with a valid
# checksum counts. Splits are enumerated depth first, at most `_MAX_SPLITS` per run.
_GLUED_EN = re.compile(r"[A-Za-z]{36,}")
_GLUED_JA = re.compile(r"[\u3041-\u3096\u3099-\u309c]{16,}")
_MAX_SPLITS = 256
_MAX_GLUED = 24 * 8 + 8


def _splits(text: str, language: str) -> Iterator[list[str]]:
    words = _WORDS[language]
    lengths = range(3, 10) if language == "english" else range(2, 10)
    finishes: dict[int, bool] = {}

    def can_finish(position: int) -> bool:
        if position == len(text):
            return True
        if position not in finishes:
            finishes[position] = any(text[position:position + n] in words and can_finish(position + n)
                                     for n in lengths)
        return finishes[position]

    def walk(position: int, prefix: list[str]) -> Iterator[list[str]]:
        if position == len(text):
            yield prefix
            return
        if len(prefix) >= PHRASE_LENGTHS[-1]:
            return
        for n in lengths:
            word = text[position:position + n]
            if word in words and can_finish(position + n):
                yield from walk(position + n, [*prefix, word])

    if can_finish(0):
        for count, split in enumerate(walk(0, [])):
            if count >= _MAX_SPLITS:
                return
            yield split


def _glued(view: str) -> list[Finding]:
    findings: list[Finding] = []
    for match in _GLUED_EN.finditer(view):
        if len(match.group()) > _MAX_GLUED:
            continue
        for split in _splits(match.group().lower(), "english"):
            if len(split) >= MIN_WORDS:
                findings.append(Finding("mnemonic", *match.span()))
                break
    if _HIRAGANA.search(view):
        findings.extend(_glued_japanese(view))
    return findings


def _glued_japanese(view: str) -> Iterator[Finding]:
    for match in _GLUED_JA.finditer(view):
        text = unicodedata.normalize("NFKD", match.group())
        if len(text) < 24 or len(text) > 24 * 9:
            continue
        for split in _splits(text, "japanese"):
            if len(split) in PHRASE_LENGTHS and checksum_valid(split, "japanese"):
                yield Finding("mnemonic", *match.span())
                break


def only_list_words(view: str) -> bool:
    """True when `view` has at least `MIN_PIECE` words and every one is a list word or a near one
    (joiners and list markers aside), of one list: a piece of a phrase sent in several messages.
    Stops at the first other word, so ordinary text costs a word or two."""
    pattern = _TOKEN_DECOMPOSED if _COMBINING.search(view) else _TOKEN
    count = 0
    language = ""
    for match in pattern.finditer(view):
        raw = match.group()
        if len(raw) > _MAX_TOKEN:
            return False
        word, token_language, cost = _classify(raw)
        if word in _JOINERS or (len(raw) <= 3 and raw.lower() in _MARKERS):
            continue
        if cost not in (_EXACT, _NEAR) or (language and token_language != language):
            return False
        language = token_language
        count += 1
    return count >= MIN_PIECE
