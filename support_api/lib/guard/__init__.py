"""The sensitive-content guard: what one chat message contains that must not be sent.

The seed's first rule for users is never to send account numbers, passwords or private
keys in the chat; people do anyway, most of all when a scammer posing as support asks for
a seed phrase. `inspect(text)` says, for one text, what it holds:

| kind                   | action  | what                                                          |
|------------------------|---------|---------------------------------------------------------------|
| `mnemonic`             | refuse  | BIP-39 phrase, English or Japanese list (see `mnemonic.py`)   |
| `private_key`          | refuse  | WIF, xprv & co, XRP secret, PEM block, 64-hex called a key    |
| `password`             | refuse  | a password, PIN, 2FA code, CVV or API secret actually given   |
| `solicitation`         | refuse  | operators only: asking the user for any of the above          |
| `off_platform`         | refuse  | operators only: messenger handles/links, "contact me at" phone or e-mail, links outside the allowlist (`offplatform.py`) |
| `possible_private_key` | confirm | 64-hex with neither key nor tx words; xprv with bad checksum  |
| `possible_mnemonic`    | confirm | list words with no valid checksum that read as English prose (`mnemonic.COMMON_WORDS`) |
| `card_number`          | mask    | Luhn + issuer prefix, not next to an order/ID/phone word      |
| `my_number`            | mask    | check digit + a My Number word (or grouped 4-4-4 as printed)  |
| `bank_account`         | mask    | 6-8 digits right after an account word                        |

Public addresses (BTC 1…/3…/bc1…, ETH 0x + 40 hex, XRP r…, LTC, SOL…), transaction ids with
their words, order ids, amounts, dates, phone numbers, zip codes and timestamps are none of
these. The principle: a refusal must be certain or nearly so (a false refusal blocks an
honest user), a mask must be harmless when wrong (it hides digits of something that was
not a secret), and where neither holds the client asks the user (`ambiguous`).

Decisions (each module's docstring has the details and the reasons):
- mnemonic: a checksum-valid 12/15/18/21/24-word window, or a run of >= 12 tokens of one
  list with a typo budget of 2 (edit distance 1 costs 1, an unknown word 2), at most 2
  repeated words, broken by common English words and sentence ends.
- possible mnemonic: a run that would be a `mnemonic` but reads as English prose (3/4 of its
  words among the most frequent English words, one a function word: `mnemonic.reads_as_prose`)
  only asks; ordinary speech is never refused.
- private key: Base58Check-valid with a private version byte; 64-hex only with a key word
  in its clause (40 characters before, 30 after), cleared by a nearer tx/hash/deposit word,
  never inside a URL.
- password: only when a value is given (after ":", "=", quotes, "は", "is"…); a plain word
  only where it closes the statement; PINs 4-8 digits, 2FA codes 6-8 digits; digits
  followed by a unit (円, 桁, 文字, 年…) are never values.
- my_number: the check digit alone passes one 12-digit number in eleven, and order ids are
  often 12 digits, so a My Number word is required in the clause, except for the 4-4-4
  grouping printed on the card, which only needs no order/ID/phone word nearby.
- card_number: Luhn + an issuer prefix and length + no order/ID/phone word nearer than a
  card word.
- bank_account: 6-8 digits only right after an account word (口座番号, account number,
  普通/当座, ゆうちょ 記号).
- solicitation (operators): a disclosure verb bound to the thing asked for; "enter it in
  the app" is not disclosure, and a warning ("never", "送らないで", "ことはありません") is
  not a request.

Texts are searched in a normalised view: `_core.fold` (same length), then, when the text
needs it, `_core.normalise` (invisible characters removed, NFKC, confusable letters folded
with Unicode's confusables data); spans are mapped back, so they index the original text.
Separators are no disguise either: list words joined by "and" or by nothing at all
(`mnemonic._glued`), keys typed in groups (`keys._grouped`). User messages describing a scam
are recognised by `scam.find` (a warning, not a refusal: services/safety.py). Work is linear in the text; only the first `MAX_SCAN` characters are
searched (a chat message is at most 4096), the rest is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from support_api.lib.guard import keys, mnemonic, numbers, offplatform, phrases, scam
from support_api.lib.guard._core import Finding, fold, lower, normalise

MAX_SCAN = 65536

REFUSE_KINDS = frozenset({"mnemonic", "private_key", "password", "solicitation", "off_platform"})
CONFIRM_KINDS = frozenset({"possible_private_key", "possible_mnemonic"})
MASK_KINDS = frozenset({"card_number", "my_number", "bank_account"})
# When two refusals start at the same place, name the more specific one.
_PRIORITY = {"private_key": 0, "mnemonic": 1, "password": 2, "solicitation": 3, "off_platform": 4}


@dataclass(frozen=True)
class GuardResult:
    blocked: Finding | None
    ambiguous: Finding | None
    masked_text: str
    masked: tuple[Finding, ...]


def inspect(text: str, *, author: Literal["user", "operator"] = "user",
            allowed_domains: tuple[str, ...] | None = ()) -> GuardResult:
    """What `text` contains: the first refusal, the first possible secret, and the masked text.

    Detectors search the normalised view (`_core.normalise`: invisible characters removed,
    NFKC, confusable letters folded); spans are mapped back onto `text`. Operators' texts are
    also searched for solicitations and off-platform contact details (`offplatform.py`), where
    `allowed_domains` are the link domains they may send (None: a staff-only text, such as an
    internal note, where off-platform details are no danger)."""
    view, positions = _normal_view(text)
    lowered = lower(view)
    refusals: list[Finding] = []
    confirms: list[Finding] = []
    for finding in (*keys.find(view), *mnemonic.find(view), *phrases.find_given(view, lowered)):
        (confirms if finding.kind in CONFIRM_KINDS else refusals).append(finding)
    if author == "operator":
        refusals.extend(phrases.find_solicitations_with_codes(lowered))
        if allowed_domains is not None:
            refusals.extend(offplatform.find(view, lowered, allowed_domains))
    keyish = [finding for finding in (*refusals, *confirms) if finding.kind not in ("password", "off_platform")]
    masked = _without_overlaps(
        finding for finding in numbers.find(view, lowered) if not any(_overlaps(finding, key) for key in keyish)
    )
    if positions is not None:
        refusals, confirms = _mapped(refusals, positions), _mapped(confirms, positions)
        masked = tuple(_mapped(list(masked), positions))
    blocked = min(refusals, key=lambda f: (f.start, _PRIORITY[f.kind]), default=None)
    ambiguous = min(confirms, key=lambda f: f.start, default=None)
    return GuardResult(
        blocked=blocked,
        ambiguous=ambiguous,
        masked_text=numbers.mask(text, list(masked)) if masked else text,
        masked=masked,
    )


@lru_cache(maxsize=64)
def _normal_view(text: str) -> tuple[str, list[int] | None]:
    """The detectors' view of `text` and its index map (None: same indices). Cached: one
    message is inspected, checked for a split secret and for a scam description in a row."""
    view = fold(text[:MAX_SCAN])
    normal = normalise(view)
    return (view, None) if normal is None else normal


def _view(text: str) -> str:
    return _normal_view(text)[0]


def could_be_part(text: str) -> bool:
    """True when `text` could be one piece of a secret sent in several messages: nothing but
    list words, or a run of key characters (services/safety.py then reads it together with the
    sender's previous messages)."""
    view = _view(text)
    return mnemonic.only_list_words(view) or keys.has_fragment(view)


def scam_reason(text: str) -> str | None:
    """The kind of scam a user's `text` describes (`scam.py`), or None."""
    return scam.find(lower(_view(text)))


def _mapped(findings: list[Finding], positions: list[int]) -> list[Finding]:
    """Findings in the normalised view as spans of the original text."""
    return [Finding(f.kind, positions[f.start], positions[f.end - 1] + 1) for f in findings if f.end > f.start]


def _overlaps(a: Finding, b: Finding) -> bool:
    return a.start < b.end and b.start < a.end


def _without_overlaps(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return tuple(kept)


__all__ = ["could_be_part", "scam_reason", "CONFIRM_KINDS", "MASK_KINDS", "MAX_SCAN", "REFUSE_KINDS", "Finding", "GuardResult", "inspect"]
