"""Localised notification texts (ja, en), chosen from the device's locale.

By default no text shows the message itself: lock screens are public and support chats
carry account details. `SUPPORT_API_PUSH_PREVIEW=truncated` puts the start of the message
in the body instead of the generic line.
"""

from __future__ import annotations

from support_api.lib.categories import category_name
from support_api.lib.text import language, text

__all__ = ["incident_text", "language", "message_text", "transfer_text", "waiting_text"]

PREVIEW_CHARS = 80

# Title and body of each kind, as msgids of the text catalogue (lib/text, English source).
_REPLY = ("Support replied", "Open the app to read the new message.")
_CUSTOMER = ("New message from a customer", "A {category} chat has a new message.")
_WAITING = ("A chat is waiting", "A {category} chat is waiting for an operator.")
_TRANSFER = ("A chat was passed to you", "A {category} chat is now yours.")
_INCIDENT_TITLE = "Service status update"


def _preview(text: str) -> str | None:
    flat = " ".join(text.split())
    if not flat:
        return None  # an image-only message: the generic line says more than nothing
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def message_text(locale: str | None, recipient_type: str, category: str, body: str,
                 preview: str) -> tuple[str, str]:
    """Title and body of "someone wrote in your chat"."""
    name = category_name(language(locale), category)
    if recipient_type == "user":
        title, generic = text(locale, _REPLY[0]), text(locale, _REPLY[1])
    else:
        title, generic = text(locale, _CUSTOMER[0]), text(locale, _CUSTOMER[1], category=name)
    shown = _preview(body) if preview == "truncated" else None
    return title, shown or generic


def waiting_text(locale: str | None, category: str) -> tuple[str, str]:
    """Title and body of "a chat is waiting in your queue"."""
    name = category_name(language(locale), category)
    return text(locale, _WAITING[0]), text(locale, _WAITING[1], category=name)


def transfer_text(locale: str | None, category: str) -> tuple[str, str]:
    """Title and body of "a colleague passed you a chat"."""
    name = category_name(language(locale), category)
    return text(locale, _TRANSFER[0]), text(locale, _TRANSFER[1], category=name)


def incident_text(locale: str | None, body: str) -> tuple[str, str]:
    """Title and body of "the incident your chat is linked to changed": the SYSTEM message's
    first line (status and incident title), which is public status, never chat content."""
    first_line = body.split("\n", 1)[0]
    return text(locale, _INCIDENT_TITLE), _preview(first_line) or first_line
