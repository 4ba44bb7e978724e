"""Keyset cursors: what the API issues decodes back; anything crafted is a clean 422."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from support_api.lib import cursors
from support_api.lib.errors import ValidationFailed


def crafted(created: object, row_id: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([created, row_id]).encode()).decode().rstrip("=")


def test_round_trip() -> None:
    when = datetime(2026, 11, 25, 1, 2, 3, 456000, tzinfo=timezone.utc)
    row_id = "ses_" + "0a" * 14
    assert cursors.decode(cursors.encode(when, row_id), "ses") == (when, row_id)


@pytest.mark.parametrize("cursor", [
    "!!!",
    crafted("2026-11-25T01:02:03+00:00", "ses_\u0000" + "0" * 27),   # NUL would be a PostgreSQL error
    crafted("2026-11-25T01:02:03", "ses_" + "0" * 28),                # naive time
    crafted("9999-12-31T23:59:59-05:00", "ses_" + "0" * 28),          # overflows when made UTC
    crafted("2026-11-25T01:02:03+00:00", "aud_" + "0" * 28),          # another list's cursor
    crafted("2026-11-25T01:02:03+00:00", 42),
    base64.urlsafe_b64encode(b'{"not": "a list"}').decode(),
])
def test_crafted_cursors_are_validation_errors(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        cursors.decode(cursor, "ses")
    assert refused.value.details == {"fields": {"cursor": ["Not a cursor this API issued."]}}
