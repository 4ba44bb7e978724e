"""Every HTTP response a test receives is checked against openapi.yaml.

`check(response)` accepts a `requests.Response` (end-to-end tests against the real server)
or a Flask test-client response (in-process tests), validates status, content type and
body against the operation the request matched, and returns the response unchanged.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import requests
from openapi_core import OpenAPI
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


@lru_cache(maxsize=1)
def spec() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC_PATH))


def check(response: R) -> R:
    if isinstance(response, requests.Response):
        request: Any = RequestsOpenAPIRequest(response.request)
        wrapped: Any = RequestsOpenAPIResponse(response)
    else:
        request = _AnsweredWerkzeugRequest(response.request)  # type: ignore[attr-defined]
        wrapped = WerkzeugOpenAPIResponse(response)
    spec().validate_response(request, wrapped)
    return response
