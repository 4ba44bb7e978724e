"""Uploading, claiming, reading and cleaning up attachments."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from support_api.lib.access import get_attachment, is_uploader
from support_api.lib.auth import Principal
from support_api.lib.errors import ApiError, Conflict, NotFound, ValidationFailed
from support_api.lib.images import EXTENSIONS, ImageLimits, sanitize
from support_api.lib.offload import run_cpu
from support_api.lib.runtime import Runtime
from support_api.lib.storage import StoredObjectMissing
from support_api.models import Attachment, ChatSession, Message, new_id, utcnow
from support_api.services import audit
from support_api.services.limits import enforce

log = logging.getLogger(__name__)


def upload_attachment(rt: Runtime, principal: Principal, raw: bytes) -> Attachment:
    """Sanitize an uploaded image, store it and its thumbnail, and record it for its uploader."""
    enforce(rt, principal, "uploads")
    settings = rt.settings
    # Decoding and re-encoding take up to seconds of CPU: never on the event loop (lib/offload.py).
    clean = run_cpu(settings.protection.cpu_workers, sanitize, raw,
                    ImageLimits(settings.upload_max_pixels, settings.upload_max_dimension, settings.thumbnail_size))
    attachment_id = new_id("att")
    key = f"{attachment_id}/original.{EXTENSIONS[clean.content_type]}"
    thumbnail_key = f"{attachment_id}/thumbnail.jpg"
    rt.storage.put(key, clean.data, clean.content_type)
    rt.storage.put(thumbnail_key, clean.thumbnail, clean.thumbnail_content_type)
    try:
        with rt.db.write() as db:
            attachment = Attachment(
                id=attachment_id, uploader_type=principal.participant_type, uploader_id=principal.id,
                content_type=clean.content_type, size=len(clean.data), width=clean.width, height=clean.height,
                sha256=clean.sha256, storage_key=key, thumbnail_key=thumbnail_key,
                thumbnail_content_type=clean.thumbnail_content_type, thumbnail_size=len(clean.thumbnail),
                created_at=utcnow(),
            )
            db.add(attachment)
    except BaseException:
        # No row, no files: never leave bytes nobody can reach or clean up.
        rt.storage.delete(key)
        rt.storage.delete(thumbnail_key)
        raise
    return attachment


def claim_attachments(db: Session, principal: Principal, chat: ChatSession, message: Message,
                      attachment_ids: list[str], limit: int) -> None:
    """Attach uploads to a message being inserted (in the caller's transaction).

    Only the uploader's own, not-yet-used uploads can be claimed; anything else refuses the
    whole message, so a message is never stored with part of its attachments.
    """
    ids = list(dict.fromkeys(attachment_ids))
    if len(ids) > limit:
        raise ValidationFailed("Too many attachments", {"fields": {"attachment_ids": [f"At most {limit}."]}})
    if not ids:
        return
    rows = {a.id: a for a in db.execute(select(Attachment).where(Attachment.id.in_(ids)).with_for_update()).scalars()}
    unknown = [i for i in ids if i not in rows or not is_uploader(principal, rows[i])]
    if unknown:
        raise ValidationFailed("Attach only images you uploaded",
                               {"fields": {"attachment_ids": [f"{i} is not an upload of yours." for i in unknown]}})
    used = [i for i in ids if rows[i].message_id is not None]
    if used:
        raise Conflict("An attachment is already part of another message",
                       {"reason": "attachment_in_use", "attachment_ids": used})
    now = utcnow()
    for position, attachment_id in enumerate(ids):
        attachment = rows[attachment_id]
        attachment.session_id = chat.id
        attachment.message_id = message.id
        attachment.claimed_at = now
        attachment.position = position
    message.attachments = [rows[i] for i in ids]


def read_attachment(rt: Runtime, attachment: Attachment, variant: str) -> tuple[bytes, str]:
    key, content_type = ((attachment.thumbnail_key, attachment.thumbnail_content_type) if variant == "thumbnail"
                         else (attachment.storage_key, attachment.content_type))
    try:
        return rt.storage.get(key), content_type
    except StoredObjectMissing as exc:
        log.error("attachment %s: stored object %s is missing", attachment.id, key)
        raise ApiError("The file is temporarily unavailable", code="storage_unavailable", status=503) from exc


def attachment_for(rt: Runtime, principal: Principal, attachment_id: str, variant: str) -> Attachment:
    """The attachment for a bearer-authenticated viewer; an operator's view is audited."""
    with rt.db.read() as db:
        attachment = get_attachment(db, principal, attachment_id)
    if principal.is_staff and variant == "original":
        audit.record_now(rt, principal, "attachment.viewed", "attachment", attachment.id,
                         {"session_id": attachment.session_id})
    return attachment


def attachment_by_id(rt: Runtime, attachment_id: str) -> Attachment:
    """For signed URLs: the signature already proved the right to see it."""
    with rt.db.read() as db:
        attachment = db.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("Attachment not found")
    return attachment


def cleanup_unclaimed(rt: Runtime, older_than_seconds: int) -> int:
    """Delete uploads no message claimed within `older_than_seconds`; returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    removed = 0
    while True:
        with rt.db.write() as db:
            batch = list(db.execute(
                select(Attachment).where(Attachment.message_id.is_(None), Attachment.created_at < cutoff)
                .limit(200).with_for_update(skip_locked=True)
            ).scalars())
            for attachment in batch:
                db.delete(attachment)
        # Files go after the rows: a crash in between leaves unreachable files, never broken rows.
        for attachment in batch:
            rt.storage.delete(attachment.storage_key)
            rt.storage.delete(attachment.thumbnail_key)
        removed += len(batch)
        if len(batch) < 200:
            return removed
