"""What clients may send, over REST and Socket.IO alike. Unknown fields are refused."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from support_api.models import Category, OperatorStatus, SessionStatus
from support_api.schemas.fields import (
    CleanString,
    JsonInteger,
    MessageBody,
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
    pass


class SessionCreateSchema(StrictSchema):
    category = fields.String(required=True, validate=validate.OneOf([c.value for c in Category]))
    message = fields.Nested(FirstMessageSchema, load_default=None, allow_none=True)
    client_context = fields.Nested(ClientContextSchema, load_default=None, allow_none=True)


class MessageCreateSchema(MessageContentSchema):
    pass


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
