"""Registering and removing push tokens (users and operators alike)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from support_api.lib.auth import Principal
from support_api.lib.runtime import Runtime
from support_api.models import Device, new_id, utcnow
from support_api.schemas.push import PUSH_TOKEN_PATTERN
from support_api.services import audit, guard


@dataclass(frozen=True)
class RegisterResult:
    device: Device
    created: bool  # False: the caller's token was already registered and is refreshed


def register_device(rt: Runtime, principal: Principal, *, token: str, platform: str, locale: str | None,
                    app_version: str | None) -> RegisterResult:
    """Register or refresh the caller's push token.

    A token registered by someone else moves to the caller (the phone changed hands, or
    another account logged in on it): the old row is deleted, so notifications still queued
    for the previous owner are dropped rather than shown to the new one.
    """
    # Issue 15: a free-text field stored with the device (docs/safety.md).
    app_version = guard.screen_fields(rt, principal, {"app_version": app_version})["app_version"]
    for attempt in range(2):
        try:
            return _register(rt, principal, token, platform, locale or principal.locale or "en", app_version)
        except IntegrityError:
            # Two first registrations of one token raced; the second pass finds the winner's row.
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def _register(rt: Runtime, principal: Principal, token: str, platform: str, locale: str,
              app_version: str | None) -> RegisterResult:
    now = utcnow()
    with rt.db.write() as db:
        device = db.execute(select(Device).where(Device.token == token).with_for_update()).scalar_one_or_none()
        moved = device is not None and (device.owner_type, device.owner_id) != (principal.participant_type,
                                                                                  principal.id)
        if device is not None and moved:
            db.delete(device)
            db.flush()
            device = None
        created = device is None
        if device is None:
            device = Device(id=new_id("dev"), token=token, owner_type=principal.participant_type,
                            owner_id=principal.id, created_at=now)
            db.add(device)
        device.owner_role = principal.role.value
        device.platform = platform
        device.locale = locale
        device.app_version = app_version
        # Refreshed on every registration: an operator's departments change with their token.
        device.departments = list(principal.departments) if principal.is_staff else []
        device.updated_at = now
        db.flush()
        # The token itself is a credential to reach a phone: the trail names the device row only.
        audit.record(db, principal, "device.registered", "device", device.id,
                     {"platform": platform, "created": created, "moved_from_another_owner": moved})
    return RegisterResult(device, created)


def unregister_device(rt: Runtime, principal: Principal, token: str) -> None:
    """Forget the caller's token (logout). Someone else's token, or an unknown one, is left
    alone without saying so: the answer is the same either way."""
    if not PUSH_TOKEN_PATTERN.match(token):
        return  # never registered (and a NUL byte must not reach PostgreSQL)
    with rt.db.write() as db:
        mine = (Device.token == token, Device.owner_type == principal.participant_type, Device.owner_id == principal.id)
        device_id = db.execute(select(Device.id).where(*mine)).scalar_one_or_none()
        if device_id is not None:
            db.execute(delete(Device).where(*mine))
            audit.record(db, principal, "device.removed", "device", device_id)
