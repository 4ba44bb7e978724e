"""Localised notification texts (ja, en), chosen from the device's locale.

By default no text shows the message itself: lock screens are public and support chats
carry account details. `SUPPORT_API_PUSH_PREVIEW=truncated` puts the start of the message
in the body instead of the generic line.
"""

from __future__ import annotations

from support_api.lib.categories import category_name

PREVIEW_CHARS = 80

_TEXT = {
    "ja": {
        "reply_title": "サポートから返信があります",
        "reply_body": "アプリを開いてメッセージをご確認ください。",
        "customer_title": "お客様から新しいメッセージ",
        "customer_body": "{category}のチャットにメッセージが届きました。",
        "waiting_title": "対応待ちのチャットがあります",
        "waiting_body": "{category}のお問い合わせがオペレーターを待っています。",
        "transfer_title": "チャットが引き継がれました",
        "transfer_body": "{category}のチャットがあなたの担当になりました。",
        "incident_title": "障害情報が更新されました",
    },
    "en": {
        "reply_title": "Support replied",
        "reply_body": "Open the app to read the new message.",
        "customer_title": "New message from a customer",
        "customer_body": "A {category} chat has a new message.",
        "waiting_title": "A chat is waiting",
        "waiting_body": "A {category} chat is waiting for an operator.",
        "transfer_title": "A chat was passed to you",
        "transfer_body": "A {category} chat is now yours.",
        "incident_title": "Service status update",
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
    name = category_name(lang, category)
    if recipient_type == "user":
        title, generic = text["reply_title"], text["reply_body"]
    else:
        title, generic = text["customer_title"], text["customer_body"].format(category=name)
    shown = _preview(body) if preview == "truncated" else None
    return title, shown or generic


def waiting_text(locale: str | None, category: str) -> tuple[str, str]:
    """Title and body of "a chat is waiting in your queue"."""
    lang = language(locale)
    name = category_name(lang, category)
    return _TEXT[lang]["waiting_title"], _TEXT[lang]["waiting_body"].format(category=name)


def transfer_text(locale: str | None, category: str) -> tuple[str, str]:
    """Title and body of "a colleague passed you a chat"."""
    lang = language(locale)
    return _TEXT[lang]["transfer_title"], _TEXT[lang]["transfer_body"].format(category=category_name(lang, category))


def incident_text(locale: str | None, body: str) -> tuple[str, str]:
    """Title and body of "the incident your chat is linked to changed": the SYSTEM message's
    first line (status and incident title), which is public status, never chat content."""
    first_line = body.split("\n", 1)[0]
    return _TEXT[language(locale)]["incident_title"], _preview(first_line) or first_line
