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
