"""The `PushSender` interface and its backends: `log` (the embedded default) and `fcm`.

A sender turns neutral notes into whatever its service needs and reports, per note, one
of four outcomes; it never raises for a failed send. Deciding *whether* to push is not its
business (see services/push_delivery.py).
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from support_api.config import ConfigError, PushSettings

log = logging.getLogger(__name__)

# Per FCM request; firebase-admin's own default is 120 s, far beyond a claim's lease.
FCM_TIMEOUT_SECONDS = 10.0
# The channel the apps create for chat notifications (Android 8+); FCM falls back to the
# app's default channel when it does not exist.
ANDROID_CHANNEL = "support_chat"


@dataclass(frozen=True)
class PushNote:
    """One notification for one device. `title` None means silent (data / content-available only)."""

    token: str
    platform: str
    data: dict[str, str]
    group: str  # stacks one chat as one notification: iOS thread-id and collapse id, Android tag
    title: str | None = None
    body: str | None = None
    badge: int | None = None

    @property
    def silent(self) -> bool:
        return self.title is None


class Outcome(str, enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # transient: try again later
    DROP_TOKEN = "drop_token"  # the token is dead or not ours: forget the device
    FAILED = "failed"  # permanent for this notification


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    reason: str | None = None  # short code, e.g. quota_exceeded, unregistered
    retry_after: float | None = None  # seconds the service asked us to wait


class PushSender(Protocol):
    def send(self, notes: list[PushNote]) -> list[SendResult]:
        """One result per note, in order. Never raises for a failed delivery."""
        ...

    def close(self) -> None: ...


def token_hint(token: str) -> str:
    """Enough of a token to tell devices apart in logs and admin views, not to use it."""
    return f"…{token[-6:]}" if len(token) > 12 else "…"


class LogSender:
    """Logs what would be sent and reports it delivered. Never logs a message's text (the
    body may hold a preview) or a whole token."""

    def send(self, notes: list[PushNote]) -> list[SendResult]:
        for note in notes:
            log.info("push (log backend): %s %s to %s device %s, data=%s, badge=%s, body=%d chars",
                     "silent" if note.silent else "alert", note.data.get("type"), note.platform,
                     token_hint(note.token), note.data, note.badge, len(note.body or ""))
        return [SendResult(Outcome.DELIVERED) for _ in notes]

    def close(self) -> None:
        """Nothing to release."""


class FcmSender:
    """Firebase Cloud Messaging through firebase-admin (`messaging.send_each`).

    `SUPPORT_API_FCM_ENDPOINT` replaces `https://fcm.googleapis.com` by setting the messaging
    service's private `_fcm_url`; that is why firebase-admin is pinned exactly.
    """

    def __init__(self, settings: PushSettings) -> None:
        import firebase_admin
        from firebase_admin import credentials, messaging

        self._messaging = messaging
        try:
            credential = credentials.Certificate(str(settings.fcm_credentials))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"SUPPORT_API_FCM_CREDENTIALS: cannot use {settings.fcm_credentials}: {exc}") from exc
        options: dict[str, Any] = {"httpTimeout": FCM_TIMEOUT_SECONDS}
        if settings.fcm_project_id:
            options["projectId"] = settings.fcm_project_id
        # A name of our own: firebase-admin keeps apps in a process-wide registry.
        self._app = firebase_admin.initialize_app(credential, options, name=f"support_api-{uuid.uuid4().hex}")
        if settings.fcm_endpoint:
            service = messaging._get_messaging_service(self._app)
            if not hasattr(service, "_fcm_url"):
                raise ConfigError("SUPPORT_API_FCM_ENDPOINT: this firebase-admin has no _fcm_url; "
                                  "install the version pinned in pyproject.toml")
            service._fcm_url = f"{settings.fcm_endpoint}/v1/projects/{self._app.project_id}/messages:send"

    def _message(self, note: PushNote) -> Any:
        m = self._messaging
        android = apns = webpush = notification = None
        if note.silent:
            # Data only: the app updates its badge and clears the chat's notification itself.
            if note.platform == "android":
                android = m.AndroidConfig(priority="normal", collapse_key=note.group)
            elif note.platform == "ios":
                apns = m.APNSConfig(
                    headers={"apns-push-type": "background", "apns-priority": "5", "apns-collapse-id": note.group},
                    payload=m.APNSPayload(aps=m.Aps(content_available=True, badge=note.badge)))
            else:
                webpush = m.WebpushConfig(headers={"Urgency": "normal"})
        else:
            notification = m.Notification(title=note.title, body=note.body)
            if note.platform == "android":
                android = m.AndroidConfig(priority="high", collapse_key=note.group, notification=m.AndroidNotification(
                    tag=note.group, channel_id=ANDROID_CHANNEL, notification_count=note.badge))
            elif note.platform == "ios":
                apns = m.APNSConfig(
                    headers={"apns-push-type": "alert", "apns-priority": "10", "apns-collapse-id": note.group},
                    payload=m.APNSPayload(aps=m.Aps(alert=m.ApsAlert(title=note.title, body=note.body),
                                                    badge=note.badge, sound="default", thread_id=note.group)))
            else:
                webpush = m.WebpushConfig(headers={"Urgency": "high"},
                                          notification=m.WebpushNotification(title=note.title, body=note.body,
                                                                             tag=note.group))
        return m.Message(data=note.data, notification=notification, android=android, apns=apns, webpush=webpush,
                         fid=note.token)

    def _valid_message(self, note: PushNote) -> Any | None:
        try:
            message = self._message(note)
            str(message)  # encodes it, running firebase-admin's own validation
            return message
        except (ValueError, TypeError):
            log.error("push: a %s note is not a valid FCM message", note.data.get("type"), exc_info=True)
            return None

    def send(self, notes: list[PushNote]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(notes)
        batch: list[tuple[int, Any]] = []
        for index, note in enumerate(notes):
            message = self._valid_message(note)
            if message is None:
                results[index] = SendResult(Outcome.FAILED, "invalid_message")
            else:
                batch.append((index, message))
        if batch:
            try:
                responses = self._messaging.send_each([message for _, message in batch], app=self._app).responses
                answered = [SendResult(Outcome.DELIVERED) if r.success else _classify(r.exception) for r in responses]
            except Exception as exc:  # noqa: BLE001 - e.g. the OAuth token endpoint is down: retry them all
                log.warning("push: FCM batch of %d failed: %s", len(batch), type(exc).__name__)
                answered = [_classify(exc) for _ in batch]
            for (index, _), result in zip(batch, answered):
                results[index] = result
        return [result or SendResult(Outcome.FAILED, "unknown") for result in results]

    def close(self) -> None:
        import firebase_admin

        try:
            # Its pooled FCM connections too: delete_app closes only the async client.
            self._messaging._get_messaging_service(self._app)._client.close()
            firebase_admin.delete_app(self._app)
        except Exception:  # noqa: BLE001 - shutting down; nothing left to protect
            log.debug("push: closing the firebase app failed", exc_info=True)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "http_response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _classify(exc: BaseException | None) -> SendResult:
    """Map firebase-admin's errors to what we do about them (subclasses before their bases)."""
    from firebase_admin import exceptions, messaging

    if isinstance(exc, messaging.UnregisteredError):
        return SendResult(Outcome.DROP_TOKEN, "unregistered")
    if isinstance(exc, messaging.SenderIdMismatchError):
        return SendResult(Outcome.DROP_TOKEN, "sender_id_mismatch")
    if isinstance(exc, messaging.QuotaExceededError):
        return SendResult(Outcome.RETRY, "quota_exceeded", _retry_after(exc))
    if isinstance(exc, messaging.ThirdPartyAuthError):
        return SendResult(Outcome.FAILED, "third_party_auth")  # APNs/web push credentials: an ops problem
    transient = {
        exceptions.UnavailableError: "unavailable",
        exceptions.InternalError: "internal",
        exceptions.DeadlineExceededError: "timeout",
        exceptions.ResourceExhaustedError: "resource_exhausted",
        exceptions.UnknownError: "unknown",
    }
    for kind, reason in transient.items():
        if isinstance(exc, kind):
            return SendResult(Outcome.RETRY, reason, _retry_after(exc))
    if isinstance(exc, exceptions.FirebaseError):
        return SendResult(Outcome.FAILED, str(exc.code).lower()[:64])
    # Not firebase's: a refresh of the OAuth token failed, a socket broke…: worth another try.
    return SendResult(Outcome.RETRY, type(exc).__name__[:64] if exc else "unknown")


def make_sender(settings: PushSettings) -> PushSender:
    return FcmSender(settings) if settings.backend == "fcm" else LogSender()
