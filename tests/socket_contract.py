"""Every Socket.IO ack and server event the end-to-end tests receive is checked against
docs/asyncapi.yaml, as every HTTP response is checked against openapi.yaml.

Events are checked on the Socket.IO client's handler threads, one thread per event, all at
once: the specs are parsed once under a lock. (With a bare `lru_cache`, a burst of events on
a cold pytest process — 24 `queue:updated` at once in tests/e2e/test_queue_fanout_e2e.py run
alone — had every thread parse the two YAML documents itself, ~1 s of CPU each under one GIL:
no event was recorded within the test's 10 s wait.)"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.yaml"

ACKS = {"session:join": "sessionJoinAck", "session:leave": "sessionLeaveAck", "message:send": "messageSendAck",
        "session:read": "sessionReadAck", "typing": "typingAck"}
EVENTS = {"message:new": "messageNew", "session:updated": "sessionUpdated", "session:read": "sessionRead",
          "typing": "typing", "queue:updated": "queueUpdated", "note:new": "noteNew",
          "connection:closing": "connectionClosing", "status:updated": "statusUpdated",
          "message:updated": "messageUpdated", "session:viewers": "sessionViewers"}


class ContractViolation(AssertionError):
    pass


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return document


@lru_cache(maxsize=1)
def _registry() -> Registry[Any]:
    """openapi.yaml, the document whose shared components the AsyncAPI references by file, parsed
    once (resolving it on every event would parse 4,000 lines of YAML each time)."""
    openapi = SPEC_PATH.parents[1] / "openapi.yaml"
    contents = yaml.safe_load(openapi.read_text(encoding="utf-8"))
    resource: Resource[Any] = Resource.from_contents(contents, default_specification=DRAFT202012)
    return Registry().with_resource(openapi.as_uri(), resource)


_LOCK = threading.Lock()
_validators: dict[str, Draft202012Validator] = {}


def _validator(message_key: str) -> Draft202012Validator:
    validator = _validators.get(message_key)
    if validator is None:
        with _LOCK:  # one thread parses; the others wait for it instead of parsing too
            validator = _validators.get(message_key)
            if validator is None:
                validator = _validators[message_key] = _build_validator(message_key)
    return validator


def _build_validator(message_key: str) -> Draft202012Validator:
    document = _document()
    ref = document["channels"]["socket"]["messages"][message_key]["$ref"]
    # The whole document is the root, so the payload's own $refs into components resolve; its
    # file URI makes `../openapi.yaml#/...` resolve to the REST spec's components.
    root = {**document, "$id": SPEC_PATH.as_uri(), "$ref": f"{ref}/payload"}
    return Draft202012Validator(root, registry=_registry(), format_checker=FormatChecker())


def check(message_key: str, payload: Any) -> Any:
    errors = sorted(_validator(message_key).iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        detail = "; ".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:3])
        raise ContractViolation(f"{message_key} does not match docs/asyncapi.yaml: {detail}")
    return payload


def check_ack(event: str, ack: Any) -> Any:
    return check(ACKS.get(event, "unknownEventAck"), ack)


def check_event(event: str, payload: Any) -> Any:
    if event not in EVENTS:
        raise ContractViolation(f"server event {event!r} is not documented in docs/asyncapi.yaml")
    return check(EVENTS[event], payload)
