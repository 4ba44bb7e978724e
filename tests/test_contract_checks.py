"""The contract checks themselves can fail: a drifted response or event is caught."""

from __future__ import annotations

import pytest

from tests import socket_contract
from tests.conftest import Api
from tests.contract import check


def test_http_check_rejects_a_body_or_status_the_spec_does_not_allow(api: Api, user: str) -> None:
    response = api.get("/me/unread", user)
    response.set_data(b'{"sessions": "many", "messages": 0}')
    with pytest.raises(Exception, match="(?i)invalid|valid"):
        check(response)
    teapot = api.get("/me", user)
    teapot.status_code = 418
    with pytest.raises(Exception):
        check(teapot)


def test_socket_check_rejects_drifted_payloads() -> None:
    good = {"ok": True}
    assert socket_contract.check_ack("typing", good) == good
    with pytest.raises(socket_contract.ContractViolation):
        socket_contract.check_ack("message:send", {"ok": True, "message": {"id": 1}})
    with pytest.raises(socket_contract.ContractViolation):
        socket_contract.check_event("session:read", {"session_id": "x"})
    with pytest.raises(socket_contract.ContractViolation, match="not documented"):
        socket_contract.check_event("surprise", {})


def test_error_check_rejects_a_code_the_response_does_not_list(api: Api, user: str) -> None:
    response = api.get("/sessions/ses_00000000000000000000000000ff", user)
    assert response.status_code == 404
    response.set_data(b'{"error": {"code": "conflict", "message": "x", "details": {"reason": "session_closed"}}}')
    with pytest.raises(AssertionError, match="x-error-codes"):
        check(response)


def test_asyncapi_references_the_shared_shapes_instead_of_copying_them() -> None:
    import re
    from pathlib import Path

    import yaml

    from tests.contract import document, resolve

    text = (Path(__file__).resolve().parents[1] / "docs" / "asyncapi.yaml").read_text(encoding="utf-8")
    schemas = yaml.safe_load(text)["components"]["schemas"]
    for name, target in [("Session", "Session"), ("Message", "Message"), ("InternalNote", "InternalNote"),
                         ("ErrorObject", "Error"), ("Attachment", "Attachment")]:
        assert schemas[name] == {"$ref": f"../openapi.yaml#/components/schemas/{target}"}, name
    for pointer in re.findall(r"\.\./openapi\.yaml(#/[^'\"}\s]+)", text):
        assert resolve({"$ref": pointer}), pointer  # every shared shape exists in openapi.yaml
    assert document()["components"]["schemas"]["Error"]["discriminator"]["propertyName"] == "code"
    # A payload of the shared shape is checked against openapi.yaml's definition.
    with pytest.raises(socket_contract.ContractViolation, match="details"):
        socket_contract.check_ack("message:send", {"ok": False, "error": {
            "code": "rate_limited", "message": "slow", "details": {"kind": "messages"}}})
