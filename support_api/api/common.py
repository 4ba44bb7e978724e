"""What every REST handler does first: who is calling, and what did they send."""

from __future__ import annotations

from typing import Any

from flask import g, request
from marshmallow import Schema, ValidationError

from support_api.lib.auth import Principal
from support_api.lib.errors import (
    MalformedRequest,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    field_errors,
)
from support_api.lib.runtime import get_runtime
from support_api.services.authentication import authenticate


def current_principal() -> Principal:
    """The verified caller of this request (401 without a valid bearer token)."""
    cached: Principal | None = g.get("principal")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required", {"reason": "missing"})
    principal = authenticate(get_runtime(), token.strip())
    g.principal = principal
    return principal


def _validated(schema: Schema, data: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed("The request is not valid", {"fields": field_errors(exc.normalized_messages())}) from exc
    return result


def json_body(schema: Schema) -> dict[str, Any]:
    """The JSON object body, validated by `schema` (415 not JSON, 400 unparseable, 422 invalid)."""
    if not request.is_json:
        raise UnsupportedMediaType("The body must be application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # Nested deeper than the parser's stack (a few KiB of "[[[[..."): unreadable, not a 500.
        data = None
    if data is None:
        raise MalformedRequest("The body is not valid JSON")
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object")
    return _validated(schema, data)


def query_args(schema: Schema) -> dict[str, Any]:
    """Query parameters validated by `schema`; a repeated parameter is refused, not guessed."""
    args = request.args
    repeated = [key for key in args if len(args.getlist(key)) > 1]
    if repeated:
        raise ValidationFailed("A query parameter was given more than once",
                               {"fields": {key: ["Give this parameter once."] for key in repeated}})
    return _validated(schema, args.to_dict())
