"""Screenshot uploads, and serving them to those who may see them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from support_api.api.common import current_principal
from support_api.lib.errors import (
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from support_api.lib.images import EXTENSIONS
from support_api.lib.runtime import get_runtime
from support_api.models import Attachment
from support_api.schemas.responses import dump_attachment
from support_api.services import attachments

bp = Blueprint("attachments", __name__)

# Room for the multipart envelope around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024


def _uploaded_bytes(max_bytes: int) -> bytes:
    """The bytes of the multipart field `file`, never reading more than `max_bytes` + 1 of it."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Upload the image as multipart/form-data in the field 'file'")
    # Werkzeug enforces this while streaming the body (413 before it is all read).
    request.max_content_length = max_bytes + _MULTIPART_OVERHEAD
    files = request.files
    if "file" not in files:
        raise ValidationFailed("The image must be sent in the multipart field 'file'",
                               {"fields": {"file": ["Missing data for required field."]}})
    if len(files.getlist("file")) > 1 or len(files) > 1:
        raise ValidationFailed("Send one image per upload", {"fields": {"file": ["Send exactly one file."]}})
    data = files["file"].stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"The image is larger than {max_bytes} bytes", {"max_bytes": max_bytes})
    return data


@bp.post("/attachments")
def upload() -> tuple[dict[str, Any], int]:
    rt, principal = get_runtime(), current_principal()
    attachment = attachments.upload_attachment(rt, principal, _uploaded_bytes(rt.settings.upload_max_bytes))
    return dump_attachment(attachment, rt.signer), 201


def _serve(attachment_id: str, variant: str) -> Response:
    rt = get_runtime()
    if "sig" in request.args or "expires" in request.args:
        rt.signer.verify(attachment_id, variant, request.args.get("expires", ""), request.args.get("sig", ""))
        attachment: Attachment = attachments.attachment_by_id(rt, attachment_id)
    else:
        attachment = attachments.attachment_for(rt, current_principal(), attachment_id, variant)
    data, content_type = attachments.read_attachment(rt, attachment, variant)
    suffix = "-thumbnail" if variant == "thumbnail" else ""
    response = Response(data, mimetype=content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="{attachment.id}{suffix}.{EXTENSIONS[content_type]}"'
    # Private: a device may keep it for the life of a signed URL; no shared cache may.
    response.headers["Cache-Control"] = f"private, max-age={rt.settings.attachment_url_ttl}"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.set_etag(f"{attachment.sha256}{suffix}")
    return response.make_conditional(request)


@bp.get("/attachments/<attachment_id>")
def original(attachment_id: str) -> Response:
    return _serve(attachment_id, "original")


@bp.get("/attachments/<attachment_id>/thumbnail")
def thumbnail(attachment_id: str) -> Response:
    return _serve(attachment_id, "thumbnail")
