"""String fields that refuse what a database or a client would choke on.

PostgreSQL rejects NUL characters and UTF-8 cannot encode lone surrogates (which JSON's
`\\ud800` escapes can produce): either would become a 500 at insert time, so they are
validation errors here instead.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from marshmallow import ValidationError, fields

# C0 controls except tab, LF, CR; DEL; C1 controls; and lone surrogates.
_FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class CleanString(fields.String):
    """A single-line string: no control characters, no lone surrogates."""

    forbidden = _FORBIDDEN_IN_LINE

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if self.forbidden.search(text):
            raise ValidationError("Contains characters that are not allowed (control characters or invalid Unicode).")
        return text


class Text(CleanString):
    """Multi-line text (message bodies): tabs and line breaks allowed, normalised to \\n."""

    forbidden = _FORBIDDEN_IN_TEXT

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).replace("\r\n", "\n").replace("\r", "\n")


class MessageBody(Text):
    """A message body of at most `SUPPORT_API_MAX_MESSAGE_LENGTH` characters. Whether it may
    be blank (yes, when the message carries attachments) is the schema's decision."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        # Imported here so the schema module stays importable without an app.
        from flask import current_app

        text = super()._deserialize(value, attr, data, **kwargs)
        limit = current_app.extensions["support_api"].settings.max_message_length
        if len(text) > limit:
            raise ValidationError(f"Must be at most {limit} characters.", max_length=limit)
        return text


class JsonInteger(fields.Integer):
    """An integer sent as a JSON number: `12`, or `12.0` (JSON, like JSON Schema's `integer`,
    has one number type, and some encoders write integral doubles that way). A string, a
    boolean or a number with a fraction is refused, never coerced or truncated."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class UtcDateTime(fields.AwareDateTime):
    """An RFC 3339 time with an offset, returned in UTC. A time that UTC cannot hold (year 1
    at +05:00, year 9999 at -05:00) is invalid here rather than an overflow in the query."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=None, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError as exc:
            raise ValidationError("Out of range.") from exc


class JsonBoolean(fields.Boolean):
    """`true` or `false` only: JSON's 0 and 1 are numbers (`0 in {False}` holds in Python, so
    `truthy={True}` alone would accept them)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
