"""Localised system messages in a chat (ja, en), chosen from the user's token locale."""

from __future__ import annotations

from datetime import datetime

from support_api.lib.business_hours import TOKYO
from support_api.lib.push_text import language

_DAYS = {"ja": "月火水木金土日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def operator_joined(locale: str | None, name: str | None) -> str:
    if language(locale) == "ja":
        return f"{name or 'オペレーター'} が対応します"
    return f"{name or 'An operator'} joined"


def out_of_hours(locale: str | None, opens_at: datetime | None) -> str:
    """The reply to a chat opened outside its department's hours; `opens_at` is when it next opens."""
    lang = language(locale)
    if opens_at is None:
        return ("ただいま受付時間外です。営業時間になり次第、順番に対応いたします。" if lang == "ja" else
                "We are outside support hours. An operator will answer in turn when support opens.")
    local = opens_at.astimezone(TOKYO)
    day = _DAYS[lang][local.weekday()]
    if lang == "ja":
        return (f"ただいま受付時間外です。{local.month}月{local.day}日({day}) {local:%H:%M}（日本時間）以降、"
                "順番に対応いたします。このままお待ちください。")
    return (f"We are outside support hours. An operator will answer in turn from {day} {local:%d %b %H:%M} "
            "(Japan time). Your chat stays in the queue.")
