"""Requests and responses of push devices and the admin view of the push outbox."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import fields, validate

from support_api.lib.push_sender import token_hint
from support_api.models import Device, Platform, PushOutbox, PushStatus
from support_api.schemas.fields import CleanString
from support_api.schemas.requests import StrictSchema
from support_api.schemas.responses import iso

# FCM registration tokens and Firebase installation ids: letters, digits, ':', '_', '-', '.'.
# Never '/', so a token is always one path segment of DELETE /devices/{token}.
PUSH_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_:.\-]{8,512}\Z")
PUSH_TOKEN = validate.Regexp(PUSH_TOKEN_PATTERN,
                             error="Must be 8-512 characters of letters, digits, ':', '_', '-' or '.'.")
LOCALE = validate.Regexp(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8})*\Z", error="Must be a locale such as ja, en or ja-JP.")


class DeviceRegisterSchema(StrictSchema):
    token = CleanString(required=True, validate=PUSH_TOKEN)
    platform = fields.String(required=True, validate=validate.OneOf([p.value for p in Platform]))
    locale = CleanString(load_default=None, allow_none=True, validate=[validate.Length(max=35), LOCALE])
    app_version = CleanString(load_default=None, allow_none=True, validate=validate.Length(max=64))


class OutboxListQuery(StrictSchema):
    status = fields.String(validate=validate.OneOf([PushStatus.PENDING.value, PushStatus.FAILED.value]))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = CleanString(validate=validate.Length(min=1, max=200))


def dump_device(device: Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "token": device.token,
        "platform": device.platform,
        "locale": device.locale,
        "app_version": device.app_version,
        "created_at": iso(device.created_at),
        "updated_at": iso(device.updated_at),
    }


def dump_outbox_row(row: PushOutbox, device: Device | None) -> dict[str, Any]:
    """An outbox row for admins: the device by id, platform and the token's last characters only."""
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "recipient": {"type": row.recipient_type, "id": row.recipient_id},
        "device": ({"id": device.id, "platform": device.platform, "token_hint": token_hint(device.token)}
                   if device else None),
        "session_id": row.session_id,
        "message_id": row.message_id,
        "seq": row.seq,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "due_at": iso(row.due_at),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
