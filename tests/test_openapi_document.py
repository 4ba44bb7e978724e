"""openapi.yaml itself: the rules that keep it usable by code generators and honest.

Every example validates against its schema; every error response uses `ErrorResponse` and lists
codes that exist; every response declares `X-Request-ID`; every body is a named component.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from tests.contract import document, resolve

METHODS = {"get", "put", "post", "patch", "delete"}


def _responses() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                for status, response in operation["responses"].items():
                    yield f"{method.upper()} {path} {status}", status, resolve(response)


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    # The whole document is the root, so the schema's `#/components/...` references resolve.
    return Draft202012Validator({**document(), **schema}, format_checker=FormatChecker())


def _examples(media: dict[str, Any]) -> list[Any]:
    found = [media["example"]] if "example" in media else []
    found += [resolve(example)["value"] for example in media.get("examples", {}).values()]
    return found


def test_the_document_is_valid_openapi() -> None:
    validate(document())


def test_every_json_response_has_examples_that_validate() -> None:
    missing, invalid = [], []
    for name, _, response in _responses():
        for media_type, media in response.get("content", {}).items():
            if not media_type.endswith("json"):
                continue
            examples = _examples(media)
            if not examples:
                missing.append(name)
            for example in examples:
                errors = list(_validator(media["schema"]).iter_errors(example))
                if errors:
                    invalid.append(f"{name}: {errors[0].message[:160]}")
    assert not missing, f"responses without an example: {missing}"
    assert not invalid, "\n".join(invalid)


def test_request_examples_validate() -> None:
    invalid = []
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}) if method in METHODS else {}
            media = body.get("content", {}).get("application/json")
            for example in _examples(media) if media else []:
                errors = list(_validator(media["schema"]).iter_errors(example))
                if errors:
                    invalid.append(f"{method.upper()} {path}: {errors[0].message[:160]}")
    assert not invalid, "\n".join(invalid)


def test_every_error_response_is_one_error_response_listing_known_codes() -> None:
    mapping = document()["components"]["schemas"]["Error"]["discriminator"]["mapping"]
    for name, status, response in _responses():
        if int(status) < 400 or name == "GET /health 503":  # a Health body, for load balancers
            continue
        media = response["content"]["application/json"]
        assert media["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}, name
        codes = response.get("x-error-codes")
        assert codes and set(codes) <= set(mapping), f"{name}: x-error-codes {codes}"
        for example in _examples(media):
            assert example["error"]["code"] in codes, name


def test_error_codes_are_discriminated_one_schema_each() -> None:
    schemas = document()["components"]["schemas"]
    error = schemas["Error"]
    assert [variant["$ref"] for variant in error["oneOf"]] == list(error["discriminator"]["mapping"].values())
    for code, target in error["discriminator"]["mapping"].items():
        variant = resolve({"$ref": target})
        assert variant["properties"]["code"] == {"type": "string", "enum": [code]}
        assert variant["required"] == ["code", "message", "details"]


def test_every_response_declares_x_request_id_and_retry_after_where_it_applies() -> None:
    for name, status, response in _responses():
        headers = response.get("headers", {})
        assert headers.get("X-Request-ID") == {"$ref": "#/components/headers/XRequestId"}, name
        if status in ("429",) or response.get("x-error-codes") == ["overloaded"]:
            assert "Retry-After" in headers, name


@pytest.mark.parametrize("where", ["requestBody", "responses"])
def test_bodies_are_named_components_without_partial_unions(where: str) -> None:
    """Generators name a type after its component; an inline or anyOf-of-fragments body becomes
    `...Response200` or is skipped altogether."""
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            bodies = ([operation["requestBody"]] if where == "requestBody" and "requestBody" in operation
                      else [resolve(r) for r in operation["responses"].values()] if where == "responses" else [])
            for body in bodies:
                for media_type, media in body.get("content", {}).items():
                    schema = media.get("schema")
                    if schema is None or media_type == "text/plain":
                        continue
                    assert set(schema) == {"$ref"}, f"{method.upper()} {path} {media_type}: inline schema"
    for name, schema in document()["components"]["schemas"].items():
        assert "allOf" not in schema, name
        if "anyOf" in schema or "oneOf" in schema:
            variants = schema.get("anyOf", schema.get("oneOf"))
            assert all("$ref" in v or v == {"type": "null"} for v in variants), f"{name}: union of fragments"
