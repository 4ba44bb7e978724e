"""What clients may send, over REST and Socket.IO alike. Unknown fields are refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from support_api.models import Category, OperatorStatus, SessionStatus, utcnow
from support_api.schemas.fields import (
    CleanString,
    JsonBoolean,
    JsonInteger,
    MessageBody,
    Text,
    UtcDateTime,
)

MAX_SEQ = 2**31 - 1  # message seq is a 32-bit integer column
CLIENT_MSG_ID = validate.Regexp(
    r"^[A-Za-z0-9._:\-]{1,128}$", error="Must be 1-128 characters of letters, digits, '.', '_', ':' or '-'."
)
SESSION_ID = validate.Length(min=1, max=64)
# Generous syntactic bound; the configured per-message limit is enforced when claiming.
# CleanString: an id with a NUL byte must be a 422 here, not a PostgreSQL error in the lookup.
ATTACHMENT_IDS = fields.List(CleanString(validate=validate.Length(min=1, max=64)),
                             load_default=list, validate=validate.Length(max=20))


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ClientContextSchema(StrictSchema):
    app_version = CleanString(validate=validate.Length(max=64), allow_none=True)
    os = CleanString(validate=validate.Length(max=64), allow_none=True)
    device_model = CleanString(validate=validate.Length(max=128), allow_none=True)
    locale = CleanString(validate=validate.Length(max=35), allow_none=True)
    error_code = CleanString(validate=validate.Length(max=128), allow_none=True)


class MessageContentSchema(StrictSchema):
    """Text, attachments, or both: a message must carry at least one of them."""

    body = MessageBody(load_default="")
    client_msg_id = CleanString(required=True, validate=CLIENT_MSG_ID)
    attachment_ids = ATTACHMENT_IDS
    # Sent after a 422 `possible_private_key`: "yes, this 64-hex string is a transaction hash".
    confirm_sensitive = fields.Boolean(load_default=False, truthy={True}, falsy={False})

    @validates_schema(skip_on_field_errors=False)
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("body", "").strip() and not data.get("attachment_ids"):
            raise ValidationError("Must not be empty unless the message has attachments.", field_name="body")


class FirstMessageSchema(MessageContentSchema):
    # Accepted for symmetry with MessageCreate; an opening message is always the user's own.
    visibility = fields.String(load_default="public", validate=validate.OneOf(["public"]))


class SessionCreateSchema(StrictSchema):
    category = fields.String(required=True, validate=validate.OneOf([c.value for c in Category]))
    message = fields.Nested(FirstMessageSchema, load_default=None, allow_none=True)
    client_context = fields.Nested(ClientContextSchema, load_default=None, allow_none=True)


class MessageCreateSchema(MessageContentSchema):
    # `internal`: a staff-only note (services/notes.py); users may only write `public`.
    visibility = fields.String(load_default="public", validate=validate.OneOf(["public", "internal"]))

    @validates_schema(skip_on_field_errors=True)
    def _notes_are_text(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("visibility") == "internal" and data.get("attachment_ids"):
            raise ValidationError("Internal notes carry text only.", field_name="attachment_ids")


class NoteListQuery(StrictSchema):
    after_seq = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_SEQ))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=200))


class TransferSchema(StrictSchema):
    """Exactly one destination: a department's queue, or a named operator (optionally with the
    department the session moves to, which the operator must serve)."""

    department = fields.String(validate=validate.OneOf([c.value for c in Category]))
    operator_id = CleanString(validate=validate.Length(min=1, max=128))
    note = MessageBody(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=True)
    def _has_destination(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("department") and not data.get("operator_id"):
            raise ValidationError("Name a department or an operator_id.", field_name="department")


class RatingSchema(StrictSchema):
    score = JsonInteger(required=True, validate=validate.Range(min=1, max=5))
    comment = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class SocketMessageSendSchema(MessageCreateSchema):
    session_id = CleanString(required=True, validate=SESSION_ID)


class ReadSchema(StrictSchema):
    seq = JsonInteger(required=True, validate=validate.Range(min=0, max=MAX_SEQ))


class SocketReadSchema(ReadSchema):
    session_id = CleanString(required=True, validate=SESSION_ID)


class SocketJoinSchema(StrictSchema):
    session_id = CleanString(required=True, validate=SESSION_ID)
    after_seq = JsonInteger(load_default=0, validate=validate.Range(min=0, max=MAX_SEQ))
    limit = JsonInteger(load_default=100, validate=validate.Range(min=1, max=200))


class SocketSessionRefSchema(StrictSchema):
    session_id = CleanString(required=True, validate=SESSION_ID)


class SocketTypingSchema(StrictSchema):
    session_id = CleanString(required=True, validate=SESSION_ID)
    is_typing = fields.Boolean(load_default=True, truthy={True}, falsy={False})


class SessionListQuery(StrictSchema):
    status = fields.String(validate=validate.OneOf([s.value for s in SessionStatus]))
    category = fields.String(validate=validate.OneOf([c.value for c in Category]))
    assigned = fields.String(validate=validate.OneOf(["me"]))
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = CleanString(validate=validate.Length(min=1, max=200))
    # The console's customer panel: one user's chats (issue 11).
    user_id = CleanString(validate=validate.Length(min=1, max=200))


class MessageListQuery(StrictSchema):
    after_seq = fields.Integer(validate=validate.Range(min=0, max=MAX_SEQ))
    before_seq = fields.Integer(validate=validate.Range(min=1, max=MAX_SEQ))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class AuditListQuery(StrictSchema):
    actor = CleanString(validate=validate.Length(min=1, max=128))
    action = CleanString(validate=validate.Length(min=1, max=64))
    since = UtcDateTime()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = CleanString(validate=validate.Length(min=1, max=200))


class GuardStatsQuery(StrictSchema):
    since = UtcDateTime()


class OperatorStatusSchema(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in OperatorStatus]))


class TextTranscriptQuery(StrictSchema):
    # Absent: the token's locale, then Accept-Language (lib/transcript_text.choose_language).
    locale = fields.String(validate=validate.OneOf(["ja", "en"]))


class TranscriptQuery(TextTranscriptQuery):
    # The text file has its own path (one media type per operation, as code generators need);
    # `format=json` stays accepted so clients of 0.1 keep working.
    format = fields.String(load_default="json", validate=validate.OneOf(
        ["json"], error="Only json here; the text file is GET /v1/sessions/<session_id>/transcript/text."))


STATS_DEFAULT_WINDOW = timedelta(hours=24)
STATS_MAX_WINDOW = timedelta(days=366)


def _to_millisecond(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class StatsQuery(StrictSchema):
    """The supervisors' window `[since, until)` (services/stats.py). `until` defaults to now and
    `since` to 24 h before `until`; both are cut to the millisecond, so the window the answer
    echoes (API timestamps have milliseconds) is exactly the one counted."""

    since = UtcDateTime()
    until = UtcDateTime()
    department = fields.String(validate=validate.OneOf([c.value for c in Category]))

    @post_load
    def _window(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        until = _to_millisecond(data.get("until") or utcnow())
        try:
            since = _to_millisecond(data.get("since") or until - STATS_DEFAULT_WINDOW)
        except OverflowError as exc:  # until=0001-01-01T00:00:00Z has no day before it
            raise ValidationError("Out of range for the default window; give since.", field_name="until") from exc
        if since >= until:
            raise ValidationError("Must be earlier than until.", field_name="since")
        if until - since > STATS_MAX_WINDOW:
            raise ValidationError("The window may span at most 366 days.", field_name="since")
        return {**data, "since": since, "until": until}


# A language tag such as ja, en or en-US (BCP 47's shape, not its registry); `_` counts as `-`.
LOCALE_TAG = validate.Regexp(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8})*\Z",
                             error="Must be a locale such as ja, en or en-US.")
CANNED_TITLE = [validate.Length(min=1, max=200)]
CANNED_BODY = [validate.Length(min=1, max=4000)]
CANNED_LOCALE = [validate.Length(max=35), LOCALE_TAG]
CANNED_DEPARTMENT = validate.OneOf([c.value for c in Category])


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class CannedReplyCreateSchema(StrictSchema):
    """A canned reply; services/canned_replies.py checks the body's placeholders. No locale or
    department (or null): for every one."""

    title = CleanString(required=True, validate=[*CANNED_TITLE, _not_blank])
    body = Text(required=True, validate=[*CANNED_BODY, _not_blank])
    locale = CleanString(load_default=None, allow_none=True, validate=CANNED_LOCALE)
    department = fields.String(load_default=None, allow_none=True, validate=CANNED_DEPARTMENT)


class CannedReplyUpdateSchema(StrictSchema):
    """A partial update: only the fields sent change; null clears locale or department."""

    title = CleanString(validate=[*CANNED_TITLE, _not_blank])
    body = Text(validate=[*CANNED_BODY, _not_blank])
    locale = CleanString(allow_none=True, validate=CANNED_LOCALE)
    department = fields.String(allow_none=True, validate=CANNED_DEPARTMENT)

    @validates_schema
    def _changes_something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of title, body, locale, department.")


class CannedReplyListQuery(StrictSchema):
    q = CleanString(validate=validate.Length(min=1, max=200))
    locale = CleanString(validate=CANNED_LOCALE)
    department = fields.String(validate=CANNED_DEPARTMENT)
    session_id = CleanString(validate=SESSION_ID)
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = CleanString(validate=validate.Length(min=1, max=200))


# --- FAQ articles (issue 12, api/faq.py) ---
FAQ_ID = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$",
                         error="Must be 1-64 characters of lower-case letters, digits, '_' or '-'.")
FAQ_LOCALES = ("ja", "en")


class FaqLocaleTextSchema(StrictSchema):
    title = CleanString(required=True, validate=[validate.Length(min=1, max=200), _not_blank])
    body = Text(required=True, validate=[validate.Length(min=1, max=20000), _not_blank])


class FaqLocalesSchema(StrictSchema):
    ja = fields.Nested(FaqLocaleTextSchema)
    en = fields.Nested(FaqLocaleTextSchema)

    @validates_schema
    def _one_at_least(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give the article in ja, en or both.")


FAQ_KEYWORDS = fields.List(CleanString(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=30))


class FaqArticleCreateSchema(StrictSchema):
    id = CleanString(validate=FAQ_ID)
    category = fields.String(required=True, validate=validate.OneOf([c.value for c in Category]))
    locales = fields.Nested(FaqLocalesSchema, required=True)
    keywords = FAQ_KEYWORDS
    published = JsonBoolean(load_default=True)


class FaqArticleImportSchema(FaqArticleCreateSchema):
    """One article of `support-api faq import` (the export's shape: the id is required)."""

    id = CleanString(required=True, validate=FAQ_ID)
    updated_at = fields.Raw(load_default=None)  # exported for reference; the import sets its own


class FaqArticleUpdateSchema(StrictSchema):
    category = fields.String(validate=validate.OneOf([c.value for c in Category]))
    locales = fields.Nested(FaqLocalesSchema)
    keywords = FAQ_KEYWORDS
    published = JsonBoolean()

    @validates_schema
    def _changes_something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one field to change.")


class FaqSearchQuery(StrictSchema):
    q = CleanString(validate=validate.Length(max=200))
    category = fields.String(validate=validate.OneOf([c.value for c in Category]))
    locale = fields.String(validate=validate.OneOf(FAQ_LOCALES))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))
    cursor = CleanString(validate=validate.Length(min=1, max=200))  # services/faq.py reads it


class FaqArticleQuery(StrictSchema):
    locale = fields.String(validate=validate.OneOf(FAQ_LOCALES))


class FaqViewSchema(StrictSchema):
    session_id = CleanString(validate=SESSION_ID, allow_none=True, load_default=None)



# --- issue 15: trust and safety ----------------------------------------------------------------


class ContactsQuery(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class VerifyContactSchema(StrictSchema):
    """Exactly one of a handle ("@name", an e-mail address, a phone number), a link, or a text
    (a message the user received elsewhere) to check against the official channels."""

    handle = CleanString(validate=validate.Length(min=1, max=200))
    url = CleanString(validate=validate.Length(min=1, max=2000))
    text = Text(validate=validate.Length(min=1, max=4000))

    @validates_schema(skip_on_field_errors=True)
    def _exactly_one(self, data: dict[str, Any], **_: Any) -> None:
        given = [name for name in ("handle", "url", "text") if data.get(name)]
        if len(given) != 1:
            raise ValidationError("Give exactly one of handle, url, text.", field_name="handle")


# --- incidents (issue 13) ----------------------------------------------------------------


class LocalisedTitleSchema(StrictSchema):
    """A text in both languages the app speaks."""

    ja = CleanString(required=True, validate=[validate.Length(min=1, max=200), _not_blank])
    en = CleanString(required=True, validate=[validate.Length(min=1, max=200), _not_blank])


class LocalisedBodySchema(StrictSchema):
    ja = Text(required=True, validate=[validate.Length(min=1, max=2000), _not_blank])
    en = Text(required=True, validate=[validate.Length(min=1, max=2000), _not_blank])


INCIDENT_CATEGORIES = fields.List(fields.String(validate=validate.OneOf([c.value for c in Category])),
                                  validate=validate.Length(min=1, max=len(Category)))
INCIDENT_IMPACT = validate.OneOf(["minor", "major", "critical"])
INCIDENT_STATUS = validate.OneOf(["investigating", "identified", "monitoring", "resolved"])


class IncidentCreateSchema(StrictSchema):
    title = fields.Nested(LocalisedTitleSchema, required=True)
    impact = fields.String(required=True, validate=INCIDENT_IMPACT)
    categories = fields.List(fields.String(validate=validate.OneOf([c.value for c in Category])), required=True,
                             validate=validate.Length(min=1, max=len(Category)))
    status = fields.String(load_default="investigating",
                           validate=validate.OneOf(["investigating", "identified", "monitoring"]))
    eta = UtcDateTime(load_default=None, allow_none=True)
    # The first update of the timeline (what is known so far); optional.
    body = fields.Nested(LocalisedBodySchema, load_default=None, allow_none=True)


class IncidentPatchSchema(StrictSchema):
    """A partial change: only the fields sent change; `eta: null` clears the ETA."""

    title = fields.Nested(LocalisedTitleSchema)
    impact = fields.String(validate=INCIDENT_IMPACT)
    categories = INCIDENT_CATEGORIES
    eta = UtcDateTime(allow_none=True)

    @validates_schema
    def _changes_something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of title, impact, categories, eta.")


class IncidentUpdateSchema(StrictSchema):
    status = fields.String(required=True, validate=INCIDENT_STATUS)
    body = fields.Nested(LocalisedBodySchema, required=True)


class IncidentListQuery(StrictSchema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "all"]))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = CleanString(validate=validate.Length(min=1, max=200))


class StatusQuery(StrictSchema):
    locale = CleanString(validate=[validate.Length(max=35), LOCALE_TAG])
