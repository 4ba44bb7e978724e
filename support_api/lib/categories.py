"""What each category (and department) is called, in ja and en: one list for system
messages, push texts, canned-reply placeholders and transcripts.

The Japanese names are the seed's list of what chat support handles (取引に関する疑問,
口座開設・設定に関する質問, …) without "に関する…": the names users know from the app. The English
names are lower case, to sit inside a sentence ("A security chat is waiting"); `label`
capitalises them for headings.
"""

from __future__ import annotations

_NAMES = {
    "ja": {"trading": "取引", "account": "口座開設・設定", "funds": "入出金", "system_error": "システムエラー・不具合",
           "security": "セキュリティ", "other": "その他"},
    "en": {"trading": "trading", "account": "account opening and settings", "funds": "deposits and withdrawals",
           "system_error": "system errors and bugs", "security": "security", "other": "other"},
}


def category_name(lang: str, category: str) -> str:
    """The name in `lang` (`ja` or `en`), for use inside a sentence; the code itself when unknown."""
    return _NAMES.get(lang, _NAMES["en"]).get(category, category)


def category_label(lang: str, category: str) -> str:
    """The name as a heading or field value ("Deposits and withdrawals")."""
    name = category_name(lang, category)
    return name[:1].upper() + name[1:]
