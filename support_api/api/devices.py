"""Push tokens of the caller's devices."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from support_api.api.common import current_principal, json_body
from support_api.lib.runtime import get_runtime
from support_api.schemas.push import DeviceRegisterSchema, dump_device
from support_api.services import devices

bp = Blueprint("devices", __name__)

_register = DeviceRegisterSchema()


@bp.put("/devices")
def register() -> tuple[dict[str, Any], int]:
    principal = current_principal()
    data = json_body(_register)
    result = devices.register_device(get_runtime(), principal, token=data["token"], platform=data["platform"],
                                     locale=data["locale"], app_version=data["app_version"])
    return dump_device(result.device), 201 if result.created else 200


# `path`: whatever the client sends (even an encoded '/') gets the same 204, never a 404.
@bp.delete("/devices/<path:token>")
def unregister(token: str) -> Response:
    devices.unregister_device(get_runtime(), current_principal(), token)
    return Response(status=204)
