"""Localised system messages in a chat (ja, en), chosen from the user's token locale."""

from __future__ import annotations

from datetime import datetime

from support_api.lib.business_hours import TOKYO
from support_api.lib.categories import category_name
from support_api.lib.push_text import language

_DAYS = {"ja": "月火水木金土日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def operator_joined(locale: str | None, name: str | None) -> str:
    if language(locale) == "ja":
        return f"{name or 'オペレーター'} が対応します"
    return f"{name or 'An operator'} joined"


def transferred(locale: str | None, department: str) -> str:
    """Told to the user when staff move their chat to another department's queue."""
    if language(locale) == "ja":
        return f"{category_name('ja', department)}の担当へお引き継ぎしました。順番に対応いたしますので、このままお待ちください。"
    return f"Your chat was passed to our {category_name('en', department)} team. An operator will answer in turn."


def auto_closed(locale: str | None) -> str:
    """The last message of a chat closed for inactivity (services/auto_close.py)."""
    if language(locale) == "ja":
        return "しばらくご返信がなかったため、このチャットを終了しました。ご不明点があれば、いつでも再開できます。"
    return "This chat was closed because it has been quiet for a while. You can reopen it any time."


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
