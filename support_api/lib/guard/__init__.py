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
| `possible_private_key` | confirm | 64-hex with neither key nor tx words; xprv with bad checksum  |
| `card_number`          | mask    | Luhn + issuer prefix, not next to an order/ID/phone word      |
| `my_number`            | mask    | check digit + a My Number word (or grouped 4-4-4 as printed)  |
| `bank_account`         | mask    | 6-8 digits right after an account word                        |

Public addresses (BTC 1…/3…/bc1…, ETH 0x + 40 hex, XRP r…, LTC, SOL…), transaction ids with
their words, order ids, amounts, dates, phone numbers, zip codes and timestamps are none of
these. Each detector's module docstring states its thresholds and why; the principle is
that a refusal must be certain or nearly so (a false refusal blocks an honest user), a mask
must be safe to apply (it hides digits of something that is not a secret at worst), and
where neither is true the client asks the user (`ambiguous`).

Texts are searched in a same-length normalised view (`_core.fold`), so spans index the
original text. Work is linear in the text; only the first `MAX_SCAN` characters are
searched (a chat message is at most 4096), the rest is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from support_api.lib.guard import keys, mnemonic, numbers, phrases
from support_api.lib.guard._core import Finding, fold, lower

MAX_SCAN = 65536

REFUSE_KINDS = frozenset({"mnemonic", "private_key", "password", "solicitation"})
CONFIRM_KINDS = frozenset({"possible_private_key"})
MASK_KINDS = frozenset({"card_number", "my_number", "bank_account"})
# When two refusals start at the same place, name the more specific one.
_PRIORITY = {"private_key": 0, "mnemonic": 1, "password": 2, "solicitation": 3}


@dataclass(frozen=True)
class GuardResult:
    blocked: Finding | None
    ambiguous: Finding | None
    masked_text: str
    masked: tuple[Finding, ...]


def inspect(text: str, *, author: Literal["user", "operator"] = "user") -> GuardResult:
    """What `text` contains: the first refusal, the first possible key, and the masked text."""
    view = fold(text[:MAX_SCAN])
    lowered = lower(view)
    refusals: list[Finding] = []
    confirms: list[Finding] = []
    for finding in (*keys.find(view), *mnemonic.find(view), *phrases.find_given(view, lowered)):
        (confirms if finding.kind in CONFIRM_KINDS else refusals).append(finding)
    if author == "operator":
        refusals.extend(phrases.find_solicitations(lowered))
    keyish = [finding for finding in (*refusals, *confirms) if finding.kind != "password"]
    masked = _without_overlaps(
        finding for finding in numbers.find(view, lowered) if not any(_overlaps(finding, key) for key in keyish)
    )
    blocked = min(refusals, key=lambda f: (f.start, _PRIORITY[f.kind]), default=None)
    ambiguous = min(confirms, key=lambda f: f.start, default=None)
    return GuardResult(
        blocked=blocked,
        ambiguous=ambiguous,
        masked_text=numbers.mask(text, list(masked)) if masked else text,
        masked=masked,
    )


def _overlaps(a: Finding, b: Finding) -> bool:
    return a.start < b.end and b.start < a.end


def _without_overlaps(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return tuple(kept)


__all__ = ["CONFIRM_KINDS", "MASK_KINDS", "MAX_SCAN", "REFUSE_KINDS", "Finding", "GuardResult", "inspect"]
