"""Card numbers, My Numbers and bank account numbers: masked, not refused.

A support chat is full of numbers that must stay readable: order ids, amounts, dates, phone
numbers, zip codes, timestamps. So each kind needs more than a valid check digit:

- `card_number`: 13-19 digits, contiguous or grouped as printed (4-4-4-4, 4-4-4-4-3, 4-6-5,
  4-6-4), Luhn-valid, AND an issuer prefix with a length that issuer uses (Visa, Mastercard,
  Amex, JCB, Diners, Discover, UnionPay). A nearby order/ID/phone/tx word (`_NOT_CARD_WORDS`)
  clears it unless a card word ("カード", "card", "visa"…) is nearer. Luhn alone passes one
  random number in ten; the issuer table and the context take order ids and timestamps out.
- `my_number`: 12 digits with the check digit of the Individual Number (総務省令第85号:
  check = 11 - (sum of P_n * Q_n mod 11), 0 when the remainder is 0 or 1; P_n is the n-th
  digit from the right excluding the check digit, Q_n = n + 1 for n <= 6 and n - 5 for
  n >= 7). One 12-digit number in eleven passes, and order ids are often 12 digits, so a
  contiguous one needs a My Number word in its clause ("マイナンバー", "個人番号", "my
  number"); one grouped 4-4-4 as on the card needs only the absence of an order/ID/phone word.
- `bank_account`: 6-8 digits (7 at Japanese banks), optionally preceded by bank and branch
  codes ("123-1234567"), right after an account word ("口座番号", "account number",
  "acct no.") with at most `_BANK_GAP` non-digit characters between ("(7桁)" allowed), or right after "普通" /
  "当座" (預金) as bank slips write it, or after a Japan Post "記号 12345", and not followed by a unit (円, BTC, 年, 件, …).
  Without the word a 7-digit number is anything.

Masking keeps separators and the last four digits: "4111 1111 1111 1111" becomes
"**** **** **** 1111".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from support_api.lib.guard._core import Finding, nearest

_CONTEXT_REACH = 30
_BANK_GAP = 12
_MAX_GROUPS = 8

# Maximal digit sequences with single space or hyphen separators (or "ー", the long-vowel
# mark a Japanese keyboard types for "-"); possessive, so linear.
# Spaces may be doubled or tabs (a card copied from a PDF or a wallet app); no-break and thin
# spaces are plain spaces in the normalised view (NFKC).
_SEQUENCE = re.compile(r"[0-9]++(?:(?:[ \t]{1,3}|[\-ー])[0-9]++)*+")
_PARTS = re.compile(r"[0-9]+|[ \t]+|[\-ー]")
# A sequence touching one of these is part of something else: a word, an amount, a decimal,
# a phone number in international form, a path, an id ("#1234…").
_ASCII_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_BAD_BEFORE = frozenset("+.,/#_@$¥￥\\") | _ASCII_ALNUM

_CARD_WORDS = re.compile(r"(?i)カード|\bcard|クレジット|credit|debit|デビット|visa|master|\bjcb|amex|american express")
_MY_NUMBER_WORDS = re.compile(r"(?i)マイナンバー|個人番号|my\s?number|individual number|通知カード")
_NOT_CARD_WORDS = re.compile(
    r"(?i)注文|オーダー|order|約定|取引|(?<![a-z])id(?![a-z])|受付|問い?合わ?せ|チケット|ticket|\bref|参照|reference|invoice"
    r"|請求|電話|\btel\b|phone|fax|携帯|\btx|hash|ハッシュ|トランザクション|block|ブロック|会員|顧客|お客様番号"
    r"|user|ユーザー|version|\bver\b|バージョン|build|ビルド|伝票|追跡|tracking|シリアル|serial|整理|管理"
    r"|法人番号|corporate|jan|ean|isbn|バーコード|商品コード"
)
_UNIT_AFTER = re.compile(
    r"(?i)\s*(?:円|yen|jpy|usd|btc|eth|xrp|usdt|sat|年|月|日|時|分|秒|件|回|個|万|億|%|桁|文字|digits?\b|characters?\b)"
)
_BANK = re.compile(  # on the lower-cased view
    r"(?:(?:口座番号|口座\s?(?:no\.?|#|:)|account\s+(?:number|no\.?|#)|acct\.?\s?(?:number|no\.?|#)?|a/c\s?(?:no\.?)?"
    rf"|bank\s+account(?:\s+number)?)(?:[^0-9\n。!?！？]|[0-9]桁){{0,{_BANK_GAP}}}?"
    # "普通" / "当座" also mean "usually" / "for now": only a number right after them counts.
    r"|(?:普通|当座|貯蓄)(?:預金)?[\s:]*"
    # Japan Post Bank: 記号 (5 digits) and 番号 (8 digits); the 番号 is the account.
    r"|記号[\s:]*[0-9]{5}[\s:、,\-]*(?:番号)?[\s:]*)"
    r"(?P<number>(?:[0-9]{3,4}[ \-ー]){0,2}[0-9]{6,8})(?![0-9])"
)


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    digits: str
    separator: str  # the separator before this group ("" for the first)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def my_number_valid(digits: str) -> bool:
    """The Individual Number check digit (see the module docstring)."""
    if len(digits) != 12 or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for n in range(1, 12):
        p = ord(digits[11 - n]) - 48
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return check == ord(digits[11]) - 48


def _issuer_accepts(digits: str) -> bool:
    length = len(digits)
    two, three, four = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return length in (13, 16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return length == 16  # Mastercard
    if two in (34, 37):
        return length == 15  # American Express
    if 3528 <= four <= 3589:
        return 16 <= length <= 19  # JCB
    if 300 <= three <= 305 or two in (36, 38, 39):
        return 14 <= length <= 19  # Diners Club
    if four == 6011 or 644 <= three <= 649 or two == 65:
        return 16 <= length <= 19  # Discover
    if two == 62:
        return 16 <= length <= 19  # UnionPay
    return False


def _card_layout(sizes: list[int]) -> bool:
    if len(sizes) == 1:
        return True
    if sizes in ([4, 6, 5], [4, 6, 4]):
        return True
    # 4-4-4-4, and 4-4-4-1..4 / 4-4-4-4-3 for 13 and 19 digits.
    return all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _nearest_word(view: str, start: int, end: int, *patterns: re.Pattern[str]) -> int | None:
    return nearest(view, start, end, patterns, _CONTEXT_REACH, _CONTEXT_REACH)


def _sequences(view: str) -> Iterator[list[_Group]]:
    for match in _SEQUENCE.finditer(view):
        start, end = match.span()
        if end - start < 12:
            continue
        if len(_PARTS.findall(view, start, end)) >= 2 * _MAX_GROUPS:
            continue  # a long list of numbers, not one number
        if start > 0 and view[start - 1] in _BAD_BEFORE:
            continue
        following = view[end:end + 2]
        if following[:1] in _ASCII_ALNUM or (following[:1] in (".", ",") and following[1:2].isdigit()):
            continue
        groups: list[_Group] = []
        separator = ""
        for part in _PARTS.finditer(match.group()):
            if not part.group().isdigit():
                separator = " " if part.group().isspace() else part.group()
                continue
            groups.append(_Group(start + part.start(), start + part.end(), part.group(), separator))
        yield groups


def _classify(view: str, groups: list[_Group]) -> str | None:
    digits = "".join(group.digits for group in groups)
    sizes = [len(group.digits) for group in groups]
    start, end = groups[0].start, groups[-1].end
    if 13 <= len(digits) <= 19 and _card_layout(sizes) and _issuer_accepts(digits) and luhn_valid(digits):
        if _nearest_word(view, start, end, _CARD_WORDS, _NOT_CARD_WORDS) != 1:
            return "card_number"
    if len(digits) == 12 and sizes in ([12], [4, 4, 4]) and my_number_valid(digits):
        nearest = _nearest_word(view, start, end, _MY_NUMBER_WORDS, _NOT_CARD_WORDS)
        if nearest == 0 or (nearest is None and sizes == [4, 4, 4]):
            return "my_number"
    return None


def _pieces(groups: list[_Group]) -> Iterator[list[_Group]]:
    """The whole sequence, then ever shorter runs of its groups cut at a space (never inside a
    hyphenated number), each with one separator throughout: "期限 2025 4111 1111 1111 1111"."""
    count = len(groups)
    for size in range(count, 0, -1):
        for first in range(count - size + 1):
            piece = groups[first:first + size]
            if len({group.separator for group in piece[1:]}) > 1:
                continue
            if first > 0 and piece[0].separator != " ":
                continue
            if first + size < count and groups[first + size].separator != " ":
                continue
            yield piece


def _numbered(view: str) -> Iterator[Finding]:
    for groups in _sequences(view):
        found: list[Finding] = []
        for piece in _pieces(groups):
            start, end = piece[0].start, piece[-1].end
            if any(start < other.end and other.start < end for other in found):
                continue
            kind = _classify(view, piece)
            if kind is not None:
                found.append(Finding(kind, start, end))
        yield from found


def _bank_accounts(view: str) -> Iterator[Finding]:
    for match in _BANK.finditer(view):
        start, end = match.span("number")
        if view[start - 1:start] == "+" or _UNIT_AFTER.match(view, end):  # "+81…", "1234567円"
            continue
        if view[end:end + 1] in (".", ",") and view[end + 1:end + 2].isdigit():
            continue
        yield Finding("bank_account", start, end)


_BANK_NEEDLES = ("口座", "account", "acct", "a/c", "普通", "当座", "貯蓄", "記号")


def find(view: str, lowered: str) -> list[Finding]:
    """Card numbers, My Numbers and bank accounts in `view` (`lowered` is `_core.lower(view)`)."""
    findings = list(_numbered(view))
    if any(needle in lowered for needle in _BANK_NEEDLES):
        findings.extend(_bank_accounts(lowered))
    return findings


def mask(text: str, findings: list[Finding]) -> str:
    """`text` with the digits of each finding replaced by "*", all but the last four."""
    chars = list(text)
    for finding in findings:
        positions = [index for index in range(finding.start, finding.end) if chars[index].isdigit()]
        for index in positions[:-4]:
            chars[index] = "*"
    return "".join(chars)
