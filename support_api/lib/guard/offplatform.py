"""Off-platform contact details in operators' messages (`off_platform`, refused).

Exchanges lose users' funds to fake "support" accounts on Telegram, WhatsApp and the like:
the scam starts when a user is moved out of the official chat. Real support never needs to,
so an operator's message is refused when it holds:

- a messenger link: t.me, telegram.me, wa.me, chat/api.whatsapp.com, line.me, lin.ee,
  signal.me, signal.group, discord.gg, discord.com/invite (with or without a scheme);
- a messenger handle: "@name", "LINE ID: name", "discord: name#1234" with a messenger word
  (Telegram, WhatsApp, LINE, Signal, Discord, TG, テレグラム, ワッツアップ, ライン…) in its clause;
- a phone number or e-mail address offered as a way to reach someone ("contact me at",
  "reach me on", "call/text/email me", "までご連絡", "に連絡ください", "連絡先は"…): a phone
  number or an address mentioned otherwise ("we sent the code to your registered number
  090-…") is not an offer;
- a link (scheme://, www., or a bare domain followed by "/") to a host outside the allowlist
  (`SUPPORT_API_LINK_ALLOWLIST`; a host matches its domain and every subdomain).

A messenger named without a handle or link ("we have no Telegram support") is not refused:
operators must be able to warn about exactly those channels. E-mail addresses at an
allowlisted domain are the exchange's own and never refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from support_api.lib.guard._core import Finding, clause_after, clause_before

# On the lower-cased view.
_MESSENGER_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?(?:t\.me|telegram\.(?:me|dog)|wa\.me|(?:chat|api)\.whatsapp\.com|whatsapp\.com/"
    r"|line\.me|lin\.ee|signal\.(?:me|group)|discord(?:app)?\.(?:gg|com/invite))[/#]?[^\s)\]}>\"'、。]*"
)
_MESSENGER_WORD = re.compile(
    r"telegram|whats\s?app|(?<![a-z])line(?![a-z])|signal|discord|(?<![a-z])tg(?![a-z])|(?<![a-z])wa(?![a-z])"
    r"|テレグラム|テレグ|ワッツアップ|ワッツ|ライン|シグナル|ディスコード|ディスコ"
)
_HANDLE = re.compile(r"(?<![\w@.])@[a-z0-9_][a-z0-9_.]{3,31}(?![\w@])|(?<![\w#])[a-z0-9_.]{2,32}#[0-9]{4}(?![0-9])")
# "LINE ID: name", "telegram: name", "WhatsApp +81 …" – an id given right after the word.
_ID_AFTER_WORD = re.compile(
    r"(?:telegram|whats\s?app|(?<![a-z])line|signal|discord|(?<![a-z])tg|テレグラム|ワッツアップ|ライン|シグナル|ディスコード)"
    r"(?:\s*(?:id|ｉｄ|ユーザー名|username|handle|アカウント|account|number|番号))?\s*(?:は|:|：|=|-|→)\s*"
    r"(?P<id>@?[a-z0-9_.+\-]{4,32})"
)
_CONTACT_VERB = re.compile(
    r"contact\s+(?:me|us)|reach\s+(?:me|us)|call\s+me|text\s+me|e-?mail\s+me|message\s+me|write\s+(?:to\s+)?me"
    r"|dm\s+me|add\s+me|ping\s+me|find\s+me|my\s+(?:personal\s+)?(?:number|phone|e-?mail|whatsapp|telegram|line)"
    r"|連絡(?:して|ください|下さい|を|先)|ご連絡|お電話|電話(?:して|ください|下さい)|メール(?:して|ください|下さい)"
    r"|個人(?:的に|の)|直接"
)
_PHONE = re.compile(r"(?<![0-9])(?:\+[0-9]{1,3}[\s\-]?)?(?:\(?0?[0-9]{1,4}\)?[\s\-]?)[0-9]{2,4}[\s\-]?[0-9]{3,4}(?![0-9])")
_EMAIL = re.compile(r"[a-z0-9_.+\-]+@(?P<domain>[a-z0-9\-]+(?:\.[a-z0-9\-]+)+)")
_URL = re.compile(
    r"(?:(?:https?|ftp)://(?P<host>[a-z0-9\-.]+)|(?<![\w@.])(?:www\.(?P<www>[a-z0-9\-.]+))"
    r"|(?<![\w@./])(?P<bare>(?:[a-z0-9\-]+\.)+[a-z]{2,24})/)[^\s)\]}>\"'、。]*"
)
_REACH = 60


def allowed(host: str, domains: tuple[str, ...]) -> bool:
    """True when `host` is one of `domains` or a subdomain of one."""
    host = host.rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def _clause(lowered: str, start: int, end: int) -> str:
    _, before = clause_before(lowered, start, _REACH)
    return before + " " + clause_after(lowered, end, _REACH)


# Literal needles: a text holding none of a family's skips its patterns (most texts).
_LINK_NEEDLES = ("t.me", "telegram.", "wa.me", "whatsapp.", "line.me", "lin.ee", "signal.", "discord")
_MESSENGER_NEEDLES = ("telegram", "whats", "line", "signal", "discord", "tg", "テレグ", "ワッツ", "ライン", "シグナル",
                      "ディスコ")
_BARE_LINK_HINT = re.compile(r"\.[a-z]{2,24}/")


def _links(lowered: str, domains: tuple[str, ...]) -> Iterator[Finding]:
    if any(needle in lowered for needle in _LINK_NEEDLES):
        for match in _MESSENGER_LINK.finditer(lowered):
            yield Finding("off_platform", match.start(), match.end())
    if "://" not in lowered and "www." not in lowered and not _BARE_LINK_HINT.search(lowered):
        return
    for match in _URL.finditer(lowered):
        host = match.group("host") or ("www." + match.group("www") if match.group("www") else match.group("bare"))
        if host and not allowed(host.removeprefix("www."), domains) and not allowed(host, domains):
            yield Finding("off_platform", match.start(), match.end())


def _handles(lowered: str) -> Iterator[Finding]:
    has_wa = "wa" in lowered and re.search(r"(?<![a-z])wa(?![a-z])", lowered)
    if not (has_wa or any(needle in lowered for needle in _MESSENGER_NEEDLES)) or not _MESSENGER_WORD.search(lowered):
        return
    for match in _ID_AFTER_WORD.finditer(lowered):
        yield Finding("off_platform", match.start("id"), match.end("id"))
    for match in _HANDLE.finditer(lowered):
        if _MESSENGER_WORD.search(_clause(lowered, match.start(), match.end())):
            yield Finding("off_platform", match.start(), match.end())


def _contacts(view: str, lowered: str, domains: tuple[str, ...]) -> Iterator[Finding]:
    if not _CONTACT_VERB.search(lowered):
        return
    for match in _EMAIL.finditer(lowered) if "@" in lowered else ():
        if not allowed(match.group("domain"), domains) and _CONTACT_VERB.search(
                _clause(lowered, match.start(), match.end())):
            yield Finding("off_platform", match.start(), match.end())
    for match in _PHONE.finditer(view):
        digits = sum(char.isdigit() for char in match.group())
        if 9 <= digits <= 15 and _CONTACT_VERB.search(_clause(lowered, match.start(), match.end())):
            yield Finding("off_platform", match.start(), match.end())


def find(view: str, lowered: str, allowed_domains: tuple[str, ...]) -> list[Finding]:
    """Off-platform contact details in an operator's text (`lowered` is `_core.lower(view)`)."""
    return [*_links(lowered, allowed_domains), *_handles(lowered), *_contacts(view, lowered, allowed_domains)]
