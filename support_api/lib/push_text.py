"""Localised notification texts (ja, en), chosen from the device's locale.

By default no text shows the message itself: lock screens are public and support chats
carry account details. `SUPPORT_API_PUSH_PREVIEW=truncated` puts the start of the message
in the body instead of the generic line.
"""

from __future__ import annotations

PREVIEW_CHARS = 80

_CATEGORY = {
    "ja": {"trading": "取引", "account": "アカウント", "funds": "入出金", "system_error": "システムエラー",
           "security": "セキュリティ", "other": "その他"},
    "en": {"trading": "trading", "account": "account", "funds": "deposits and withdrawals",
           "system_error": "system error", "security": "security", "other": "other"},
}

_TEXT = {
    "ja": {
        "reply_title": "サポートから返信があります",
        "reply_body": "アプリを開いてメッセージをご確認ください。",
        "customer_title": "お客様から新しいメッセージ",
        "customer_body": "{category}のチャットにメッセージが届きました。",
        "waiting_title": "対応待ちのチャットがあります",
        "waiting_body": "{category}のお問い合わせがオペレーターを待っています。",
    },
    "en": {
        "reply_title": "Support replied",
        "reply_body": "Open the app to read the new message.",
        "customer_title": "New message from a customer",
        "customer_body": "A {category} chat has a new message.",
        "waiting_title": "A chat is waiting",
        "waiting_body": "A {category} chat is waiting for an operator.",
    },
}


def language(locale: str | None) -> str:
    """`ja` for any Japanese locale (ja, ja-JP, ja_JP…), else `en`."""
    return "ja" if (locale or "").lower().replace("_", "-").split("-")[0] == "ja" else "en"


def _preview(text: str) -> str | None:
    flat = " ".join(text.split())
    if not flat:
        return None  # an image-only message: the generic line says more than nothing
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def message_text(locale: str | None, recipient_type: str, category: str, body: str,
                 preview: str) -> tuple[str, str]:
    """Title and body of "someone wrote in your chat"."""
    lang = language(locale)
    text = _TEXT[lang]
    category_name = _CATEGORY[lang].get(category, category)
    if recipient_type == "user":
        title, generic = text["reply_title"], text["reply_body"]
    else:
        title, generic = text["customer_title"], text["customer_body"].format(category=category_name)
    shown = _preview(body) if preview == "truncated" else None
    return title, shown or generic


def waiting_text(locale: str | None, category: str) -> tuple[str, str]:
    """Title and body of "a chat is waiting in your queue"."""
    lang = language(locale)
    category_name = _CATEGORY[lang].get(category, category)
    return _TEXT[lang]["waiting_title"], _TEXT[lang]["waiting_body"].format(category=category_name)
