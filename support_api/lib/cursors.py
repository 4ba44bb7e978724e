"""Keyset cursors for lists ordered by (created_at, id): opaque to clients, checked on return.

A cursor names the last row of a page. Only ids of the expected kind and aware times come
back out of `decode`, so nothing a client crafted (a NUL byte, a naive or overflowing time)
reaches SQL; anything else is a 422 on the `cursor` field.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timezone

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from support_api.lib.errors import ValidationFailed


def encode(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, id_prefix: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor names; ids must look like `<id_prefix>_<28 hex>`."""
    try:
        created, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = datetime.fromisoformat(created)
        if (created_at.tzinfo is None or not isinstance(row_id, str)
                or not re.fullmatch(rf"{re.escape(id_prefix)}_[0-9a-f]{{28}}", row_id)):
            raise ValueError("cursor fields")
        # In UTC here: a far-off offset at datetime's limits overflows now, not in the query.
        return created_at.astimezone(timezone.utc), row_id
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed("The cursor is not valid",
                               {"fields": {"cursor": ["Not a cursor this API issued."]}}) from exc


def beyond(created: InstrumentedAttribute[datetime], row_id: InstrumentedAttribute[str], cursor: str,
           id_prefix: str, *, descending: bool) -> ColumnElement[bool]:
    """A WHERE clause for the rows after the cursor's row in (created, id) order."""
    created_at, last_id = decode(cursor, id_prefix)
    if descending:
        return or_(created < created_at, and_(created == created_at, row_id < last_id))
    return or_(created > created_at, and_(created == created_at, row_id > last_id))
