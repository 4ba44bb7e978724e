"""Every HTTP response a test receives is checked against openapi.yaml.

`check(response)` accepts a `requests.Response` (end-to-end tests against the real server)
or a Flask test-client response (in-process tests), validates status, content type and
body against the operation the request matched, checks that an error's `code` is one the
response lists in `x-error-codes`, and returns the response unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import (
    RequestsOpenAPIRequest,
    RequestsOpenAPIResponse,
)
from openapi_core.contrib.werkzeug import (
    WerkzeugOpenAPIRequest,
    WerkzeugOpenAPIResponse,
)

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"

R = TypeVar("R")


class _AnsweredWerkzeugRequest(WerkzeugOpenAPIRequest):
    """A test-client request whose body the app has already consumed. Only the response is
    validated here, which needs the method, path and query, never the request body (reading
    it again would raise ClientDisconnected)."""

    @property
    def body(self) -> bytes | None:
        return None


def _binary(data: bytes, **_: Any) -> str:
    # Image bodies are `type: string, format: binary` (so generators hand out bytes); openapi-core
    # has no deserializer for image types and would type-check raw bytes against `string`.
    return data.decode("latin-1")


@lru_cache(maxsize=1)
def spec() -> OpenAPI:
    images = {media_type: _binary for media_type in ("image/png", "image/jpeg", "image/webp")}
    return OpenAPI.from_file_path(str(SPEC_PATH), config=Config(extra_media_type_deserializers=images))


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """A local `$ref` followed to its target (the spec's own components only)."""
    while "$ref" in node:
        target: Any = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@lru_cache(maxsize=None)
def _template(path: str) -> re.Pattern[str]:
    return re.compile("^/v1" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")


def error_codes(method: str, url_path: str, status: int) -> list[str] | None:
    """The `x-error-codes` the spec lists for this operation's `status`, None if it lists none."""
    for path, item in document()["paths"].items():
        if _template(path).match(url_path) and method.lower() in item:
            response = item[method.lower()]["responses"].get(str(status))
            if response is None:
                return None
            codes: list[str] | None = resolve(response).get("x-error-codes")
            return codes
    return None


def _check_error_code(method: str, url: str, status: int, body: Any) -> None:
    if status < 400 or not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return
    codes = error_codes(method, urlsplit(url).path, status)
    if codes is None:
        raise AssertionError(f"{method} {url} {status}: the spec lists no x-error-codes for this response")
    code = body["error"].get("code")
    if code not in codes:
        raise AssertionError(f"{method} {url} {status}: error code {code!r} is not in x-error-codes {codes}")


def check(response: R) -> R:
    if isinstance(response, requests.Response):
        request: Any = RequestsOpenAPIRequest(response.request)
        wrapped: Any = RequestsOpenAPIResponse(response)
        method, url, status = response.request.method or "", response.request.url or "", response.status_code
        body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else None
    else:
        request = _AnsweredWerkzeugRequest(response.request)  # type: ignore[attr-defined]
        wrapped = WerkzeugOpenAPIResponse(response)
        method, url, status = response.request.method, response.request.url, response.status_code  # type: ignore[attr-defined]
        body = response.get_json(silent=True) if response.is_json else None  # type: ignore[attr-defined]
    spec().validate_response(request, wrapped)
    _check_error_code(method, url, status, body)
    return response
