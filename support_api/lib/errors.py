"""The one error type services and handlers raise, and its envelope.

REST answers `{"error": {"code", "message", "details"}}` with the status below; Socket.IO
acks answer `{"ok": false, "error": {...}}` with the same body. Codes are stable API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, code: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


def release(exc: BaseException) -> None:
    """Drop the tracebacks of an answered error and of the errors it chains. A traceback holds
    the frames it went through, and a frame that holds the error (marshmallow's `raise exc`,
    Flask's request context keeping its routing error, a handler's `except … as exc`) closes a
    reference cycle that only the garbage collector frees: ~50 objects per refused request or
    socket event, so a stream of bad input fed the collector's whole-process pauses
    (tests/test_reference_cycles.py). Call once the error is answered (and logged)."""
    pending, seen = [exc], set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        error.__traceback__ = None
        pending += [chained for chained in (error.__cause__, error.__context__) if chained is not None]


def field_errors(messages: Mapping[Any, Any], prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as the contract's flat `details.fields`: a dotted path per
    field (`message.body`; list items by index, `attachment_ids.0`) -> its messages. Flat, so
    the schema is not recursive (code generators drop recursive unions). A nested object's own
    errors (`_schema`) go on the object's path; the body's own stay under `_schema`."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = str(key)
        path = prefix if name == "_schema" and prefix else f"{prefix}.{name}" if prefix else name
        if isinstance(value, Mapping):
            for sub_path, sub_messages in field_errors(value, path).items():
                flat.setdefault(sub_path, []).extend(sub_messages)
        elif isinstance(value, (list, tuple)):
            flat.setdefault(path, []).extend(str(item) for item in value)
        else:
            flat.setdefault(path, []).append(str(value))
    return flat


class ValidationFailed(ApiError):
    status = 422
    code = "validation_error"


class MalformedRequest(ApiError):
    """The body is not parseable JSON (as opposed to parseable but invalid: 422)."""

    status = 400
    code = "validation_error"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class Overloaded(ApiError):
    """No database connection came free in time: the client should retry shortly."""

    status = 503
    code = "overloaded"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"
