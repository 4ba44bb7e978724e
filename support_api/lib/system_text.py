"""Localised system messages in a chat (ja, en), chosen from the user's token locale.

The texts themselves live in the one catalogue (lib/text, gettext `.po`); this module only
picks and fills them.
"""

from __future__ import annotations

from datetime import datetime

from support_api.lib.business_hours import TOKYO
from support_api.lib.categories import category_name
from support_api.lib.text import language, text

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def operator_joined(locale: str | None, name: str | None) -> str:
    return text(locale, "{name} joined", name=name or text(locale, "An operator"))


def transferred(locale: str | None, department: str) -> str:
    """Told to the user when staff move their chat to another department's queue."""
    return text(locale, "Your chat was passed to our {department} team. An operator will answer in turn.",
                department=category_name(language(locale), department))


def auto_closed(locale: str | None) -> str:
    """The last message of a chat closed for inactivity (services/auto_close.py)."""
    return text(locale, "This chat was closed because it has been quiet for a while. You can reopen it any time.")


def out_of_hours(locale: str | None, opens_at: datetime | None) -> str:
    """The reply to a chat opened outside its department's hours; `opens_at` is when it next opens."""
    if opens_at is None:
        return text(locale, "We are outside support hours. An operator will answer in turn when support opens.")
    local = opens_at.astimezone(TOKYO)
    return text(locale, "We are outside support hours. An operator will answer in turn from {day} "
                        "{opens:%d %b %H:%M} (Japan time). Your chat stays in the queue.",
                day=text(locale, _DAYS[local.weekday()]), opens=local)


# --- issue 15: trust and safety (services/safety.py) -------------------------------------------

def scam_warning(locale: str | None) -> str:
    """Told at once to a user who described a likely scam; their chat goes to the security team."""
    return text(locale, _SCAM_WARNING)


_SCAM_WARNING = ("Warning: our support never contacts you outside this app (Telegram, WhatsApp, LINE, social media), "
                 "never asks for your recovery phrase, private key, password or verification codes, and never asks "
                 "you to pay a fee or send crypto to unlock, recover or verify anything. Send nothing and stop "
                 "replying to them. Our security team will take this chat first.")


def redacted(locale: str | None) -> str:
    """What replaces a stored message that, with the sender's next one, made up a secret."""
    return text(locale, "[This message was removed: it held part of a secret]")


_VERIFY_ADVICE = {
    "official": "This is one of our official channels. Even so, never share your recovery phrase, private key, "
                "password or verification codes.",
    "not_official": "This is NOT one of our official channels. Our support only talks to you in this app's chat. "
                    "Send them nothing and tell us here.",
}
_VERIFY_NOTHING = "No handle, link, e-mail address or phone number was found to check."


def verify_advice(locale: str | None, verdict: str) -> str:
    """The verification screen's line for POST /v1/verify-contact."""
    return text(locale, _VERIFY_ADVICE.get(verdict, _VERIFY_NOTHING))


# --- incidents (services/incidents.py): posted into the chats linked to an incident ---------
# Staff write an incident's title and updates in both languages (`title`/`body` map ja/en to
# text); the catalogue holds only the words around them.

_INCIDENT_STATUS = {"investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
                    "resolved": "Resolved"}


def _eta(locale: str | None, eta: datetime | None) -> str:
    if eta is None:
        return text(locale, "Expected recovery: not known yet")
    return text(locale, "Expected recovery: {eta:%d %b %H:%M} (Japan time)", eta=eta.astimezone(TOKYO))


def _head(locale: str | None, status: str, title: dict[str, str]) -> str:
    return text(locale, "[{status}] {title}", status=text(locale, _INCIDENT_STATUS[status]),
                title=title[language(locale)])


def incident_notice(locale: str | None, title: dict[str, str], update: dict[str, str] | None,
                    eta: datetime | None) -> str:
    """The answer a chat gets at once when opened in a category an open incident affects:
    the incident's title, its latest update (if any) and the ETA."""
    lang = language(locale)
    lines = [text(locale, "We are aware of an ongoing incident: {title}", title=title[lang])]
    if update is not None:
        lines.append(update[lang])
    lines.append(_eta(locale, eta))
    lines.append(text(locale, "We are sorry for the trouble. An operator will answer in turn."))
    return "\n".join(lines)


def incident_update(locale: str | None, title: dict[str, str], status: str, body: dict[str, str],
                    eta: datetime | None) -> str:
    """An update of the incident a chat is linked to."""
    return "\n".join([_head(locale, status, title), body[language(locale)], _eta(locale, eta)])


def incident_resolved(locale: str | None, title: dict[str, str], body: dict[str, str]) -> str:
    """The recovery message posted in every open linked chat when the incident is resolved."""
    return "\n".join([_head(locale, "resolved", title), body[language(locale)],
                      text(locale, "We apologise for the inconvenience.")])


def incident_closed(locale: str | None) -> str:
    """The closing note of a linked chat that staff close after the incident was resolved."""
    return text(locale, "The incident is resolved, so we closed this chat. If anything is still wrong, "
                        "reopen it any time.")
