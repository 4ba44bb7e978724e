"""A client generated from openapi.yaml has every operation and every typed error.

openapi-python-client (pinned in the `test` extra) prints a warning for each schema it cannot
model and skips operations whose bodies it cannot read: any such line fails here. The chat
driven through the generated client is tests/e2e/test_generated_client.py.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from tests.contract import document
from tests.generated_client import PACKAGE, generate, load


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    dest = tmp_path_factory.mktemp("pyclient")
    return generate(dest), dest


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_generation_prints_no_warning(generated: tuple[str, Path]) -> None:
    output, _ = generated
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Generating "), "openapi-python-client warned:\n" + output


def test_every_operation_is_generated(generated: tuple[str, Path]) -> None:
    _, dest = generated
    load(dest)
    missing = []
    for item in document()["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            tag = operation["tags"][0].replace("-", "_")
            try:
                module = importlib.import_module(f"{PACKAGE}.api.{tag}.{_snake(operation['operationId'])}")
            except ImportError:
                missing.append(operation["operationId"])
                continue
            assert callable(module.sync_detailed)
    assert not missing, f"operations the generator skipped: {missing}"


def test_error_details_are_typed(generated: tuple[str, Path]) -> None:
    """The fields a client reads to react to an error are attributes of named models."""
    _, dest = generated
    load(dest)
    models: Any = importlib.import_module(f"{PACKAGE}.models")
    fields = {
        "RateLimitedDetails": {"retry_after": int, "kind": None, "limit": str},
        "SensitiveContentDetails": {"kind": None},
        "UnauthorizedDetails": {"reason": None},
        "OverloadedDetails": {"retry_after": int},
    }
    for model, attributes in fields.items():
        annotations = inspect.get_annotations(getattr(models, model), eval_str=False)
        for attribute in attributes:
            assert attribute in annotations, f"{model}.{attribute}"
    assert sorted(member.value for member in models.UnauthorizedDetailsReason) == ["expired", "invalid", "missing"]
    assert "possible_private_key" in {member.value for member in models.SensitiveContentDetailsKind}
    # details.fields: a plain mapping of path -> messages, not a recursive union.
    errors = models.FieldErrors.from_dict({"message.body": ["Must not be empty."]})
    assert errors["message.body"] == ["Must not be empty."]
    parsed = models.ErrorResponse.from_dict(
        {"error": {"code": "rate_limited", "message": "slow down",
                   "details": {"kind": "messages", "limit": "60 per 1 minute", "retry_after": 7}}})
    assert isinstance(parsed.error, models.RateLimitedError) and parsed.error.details.retry_after == 7
    # Every request body of the first calls is a plain model with keyword arguments.
    message = models.MessageCreate(client_msg_id="m-1", body="hello", confirm_sensitive=True)
    assert message.to_dict().items() >= {"client_msg_id": "m-1", "body": "hello", "confirm_sensitive": True}.items()
    first = models.SessionCreate(category=models.Category.FUNDS,
                                 message=models.FirstMessageCreate(client_msg_id="m-0", body="hi"))
    assert first.to_dict()["message"].items() >= {"client_msg_id": "m-0", "body": "hi"}.items()
