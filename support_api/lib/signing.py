"""Short-lived signed attachment URLs, so an image view can load without a bearer header.

`/v1/attachments/<id>?expires=<unix>&sig=<hmac>`: the signature covers the id, the variant
(original or thumbnail) and the expiry, so it cannot be moved to another image, variant or
time. A URL is a capability: it is only ever given to those who may see the attachment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from support_api.lib.errors import Forbidden


class UrlSigner:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds

    def _signature(self, attachment_id: str, variant: str, expires: int) -> str:
        message = f"{attachment_id}\n{variant}\n{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def url(self, attachment_id: str, variant: str, now: float | None = None) -> str:
        expires = int(now if now is not None else time.time()) + self.ttl_seconds
        path = f"/v1/attachments/{attachment_id}" + ("/thumbnail" if variant == "thumbnail" else "")
        return f"{path}?expires={expires}&sig={self._signature(attachment_id, variant, expires)}"

    def verify(self, attachment_id: str, variant: str, expires: str, signature: str) -> None:
        """Raise Forbidden unless the signature is ours and has not expired."""
        try:
            if not signature.isascii():
                raise ValueError("signature")
            expires_at = int(expires)
        except ValueError as exc:
            raise Forbidden("The link is not valid", {"reason": "bad_signature"}) from exc
        expected = self._signature(attachment_id, variant, expires_at)
        if not hmac.compare_digest(expected, signature):
            raise Forbidden("The link is not valid", {"reason": "bad_signature"})
        if expires_at <= time.time():
            raise Forbidden("The link has expired; fetch the message again for a fresh one",
                            {"reason": "expired"})
