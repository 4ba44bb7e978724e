"""A whole chat through a client generated from openapi.yaml, against the real server.

Only the generated package (openapi-python-client, tests/generated_client.py) talks to the
server here: no hand-written request, no dict-style body, every answer read from a typed model,
errors included (`sensitive_content`'s `details.kind`, `rate_limited`'s `details.retry_after`,
`unauthorized`'s `details.reason`). This is what a team that generates a client gets.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from support_api.lib.auth import Role, mint_token
from tests import images
from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import ServerProcess, run_server
from tests.generated_client import PACKAGE, generate, load

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
HEX64 = "9f2c4b1e7a3d5f60812b4c6d8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b"
# Two new chats per user an hour: the third open is the 429 the client must read.
LIMITS = {"SUPPORT_API_RATE_LIMIT_SESSIONS": "2/hour"}


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The generated package's modules, by the names a team would import."""
    dest = tmp_path_factory.mktemp("generated")
    generate(dest)
    load(dest)
    import importlib

    def module(name: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.{name}")

    api = {name: module(f"api.{tag}.{name}") for tag, names in {
        "sessions": ["open_session", "get_session", "claim_session", "close_session", "rate_session",
                     "get_transcript", "get_transcript_text"],
        "messages": ["send_message", "list_messages", "mark_read"],
        "attachments": ["upload_attachment", "get_attachment", "get_attachment_thumbnail"],
        "me": ["get_unread", "get_me"],
        "devices": ["register_device", "unregister_device"],
    }.items() for name in names}
    return SimpleNamespace(client=module("client"), models=module("models"), types=module("types"), **api)


@pytest.fixture(scope="module", params=backends())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with fresh_database(request.param) as url, \
            run_server(url, tmp_path_factory.mktemp("server"), extra_env=LIMITS) as proc:
        yield proc


@pytest.fixture
def closing() -> Iterator[ExitStack]:
    """Closes every generated client (and its connection pool) at the end of the test."""
    with ExitStack() as stack:
        yield stack


def _client(gen: SimpleNamespace, server: ServerProcess, closing: ExitStack, sub: str | None = None,
            role: Role = Role.USER, *, token: str | None = None, **claims: Any) -> Any:
    """A generated AuthenticatedClient with a token for `sub`, a plain Client without one."""
    base_url = f"{server.url}/v1"
    if sub is None and token is None:
        return closing.enter_context(gen.client.Client(base_url=base_url, raise_on_unexpected_status=True))
    token = token or mint_token(server.settings, sub or "", role, **claims)
    return closing.enter_context(
        gen.client.AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True))


def _ok(response: Any, status: int, model: Any) -> Any:
    """The parsed body of a response that must have `status`, as an instance of `model`."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert isinstance(response.parsed, model), type(response.parsed)
    assert len(response.headers["X-Request-ID"]) >= 8
    return response.parsed


def _error(response: Any, status: int, error_model: Any) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:300])
    parsed = response.parsed
    assert parsed.__class__.__name__ == "ErrorResponse" and isinstance(parsed.error, error_model), parsed
    return parsed.error


def test_a_whole_chat_through_the_generated_client(gen: SimpleNamespace, server: ServerProcess,
                                                   closing: ExitStack) -> None:
    m = gen.models
    user = _client(gen, server, closing, f"gen-user-{uuid.uuid4().hex[:8]}", name="Hanako", locale="ja")
    operator = _client(gen, server, closing, f"gen-op-{uuid.uuid4().hex[:8]}", Role.OPERATOR, name="Sato", departments=["funds"])

    me = _ok(gen.get_me.sync_detailed(client=user), 200, m.Me)
    assert me.role == m.Role.USER and me.name == "Hanako"

    # Open a chat with a first message and the app's context.
    opened = _ok(gen.open_session.sync_detailed(client=user, body=m.SessionCreate(
        category=m.Category.FUNDS,
        message=m.FirstMessageCreate(body="出金が届きません", client_msg_id="first-1"),
        client_context=m.ClientContextInput(app_version="5.12.0", os="iOS 18.1", locale="ja-JP", error_code="E-4012"),
    )), 201, m.SessionOpened)
    sid = opened.id
    assert opened.status == m.SessionStatus.WAITING and opened.first_message.seq == 1
    assert opened.client_context.error_code == "E-4012" and opened.queue_position == 1

    # Upload a screenshot and send it.
    screenshot = images.png(120, 80)
    attachment = _ok(gen.upload_attachment.sync_detailed(client=user, body=m.AttachmentUpload(
        file=gen.types.File(payload=io.BytesIO(screenshot), file_name="screen.png", mime_type="image/png"))),
        201, m.Attachment)
    assert (attachment.width, attachment.height) == (120, 80)
    sent = _ok(gen.send_message.sync_detailed(sid, client=user, body=m.MessageCreate(
        client_msg_id="shot-1", attachment_ids=[attachment.id])), 201, m.Message)
    assert sent.seq == 2 and [a.id for a in sent.attachments] == [attachment.id] and sent.body == ""

    # The operator claims the chat and replies.
    claimed = _ok(gen.claim_session.sync_detailed(sid, client=operator), 200, m.Session)
    assert claimed.status == m.SessionStatus.ACTIVE and claimed.operator.name == "Sato"
    reply = _ok(gen.send_message.sync_detailed(sid, client=operator, body=m.MessageCreate(
        body="確認いたします。", client_msg_id="op-1")), 201, m.Message)
    assert reply.sender.type_ == m.SenderType.OPERATOR

    # History, unread, read.
    page = _ok(gen.list_messages.sync_detailed(sid, client=user, after_seq=0), 200, m.MessagePage)
    assert [item.seq for item in page.items] == list(range(1, page.last_seq + 1)) and page.last_seq == reply.seq
    assert page.items[-1].body == "確認いたします。" and page.has_more is False
    unread = _ok(gen.get_unread.sync_detailed(client=user), 200, m.UnreadSummary)
    assert unread.sessions == 1 and unread.messages == 2  # the "joined" system message and the reply
    receipt = _ok(gen.mark_read.sync_detailed(sid, client=user, body=m.ReadRequest(seq=reply.seq)), 200, m.ReadReceipt)
    assert receipt.last_read_seq == reply.seq and receipt.unread_count == 0
    assert _ok(gen.get_unread.sync_detailed(client=user), 200, m.UnreadSummary).messages == 0

    # The signed link loads without a token (a plain Client), with expires and sig as parameters.
    query = parse_qs(urlsplit(sent.attachments[0].url).query)
    anonymous = _client(gen, server, closing)
    image = gen.get_attachment.sync_detailed(attachment.id, client=anonymous,
                                             expires=int(query["expires"][0]), sig=query["sig"][0])
    assert image.status_code == 200 and hashlib.sha256(image.content).hexdigest() == attachment.sha256
    assert image.parsed.payload.read() == image.content
    thumb_query = parse_qs(urlsplit(sent.attachments[0].thumbnail_url).query)
    thumb = gen.get_attachment_thumbnail.sync_detailed(attachment.id, client=anonymous,
                                                       expires=int(thumb_query["expires"][0]), sig=thumb_query["sig"][0])
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    forged = gen.get_attachment.sync_detailed(attachment.id, client=anonymous,
                                              expires=int(query["expires"][0]), sig="A" * 43)
    assert _error(forged, 403, m.ForbiddenError).details.reason == m.ForbiddenDetailsReason.BAD_SIGNATURE

    # The sensitive-content guard: the refusal's kind is read from the typed model, and a
    # possible key goes through once the user confirms it is a transaction hash.
    refused = gen.send_message.sync_detailed(sid, client=user, body=m.MessageCreate(body=MNEMONIC, client_msg_id="seed-1"))
    refusal = _error(refused, 422, m.SensitiveContentError)
    assert refusal.details.kind == m.SensitiveContentDetailsKind.MNEMONIC and "リカバリーフレーズ" in refusal.message
    maybe_key = gen.send_message.sync_detailed(sid, client=user, body=m.MessageCreate(body=HEX64, client_msg_id="hex-1"))
    assert _error(maybe_key, 422, m.SensitiveContentError).details.kind == m.SensitiveContentDetailsKind.POSSIBLE_PRIVATE_KEY
    confirmed = _ok(gen.send_message.sync_detailed(sid, client=user, body=m.MessageCreate(
        body=HEX64, client_msg_id="hex-1", confirm_sensitive=True)), 201, m.Message)
    assert confirmed.body == HEX64

    # A field error is a flat path -> messages, typed.
    empty = gen.send_message.sync_detailed(sid, client=user, body=m.MessageCreate(body=" ", client_msg_id="empty-1"))
    invalid = _error(empty, 422, m.ValidationError)
    assert invalid.details.fields["body"] == ["Must not be empty unless the message has attachments."]

    # Close, rate, transcripts (JSON and text).
    closed = _ok(gen.close_session.sync_detailed(sid, client=user), 200, m.Session)
    assert closed.status == m.SessionStatus.CLOSED
    rated = _ok(gen.rate_session.sync_detailed(sid, client=user, body=m.RatingRequest(score=5, comment="助かりました")),
                201, m.Session)
    assert rated.rating.score == 5
    transcript = _ok(gen.get_transcript.sync_detailed(sid, client=user), 200, m.Transcript)
    assert transcript.session.id == sid and transcript.includes_internal_notes is False
    assert [item.seq for item in transcript.items] == list(range(1, transcript.session.last_seq + 1))
    text = gen.get_transcript_text.sync_detailed(sid, client=user, locale=m.GetTranscriptTextLocale.EN)
    assert text.status_code == 200 and isinstance(text.parsed, str)
    assert text.parsed.startswith("Support chat transcript") and "出金が届きません" in text.parsed

    # Push device register and delete.
    device = _ok(gen.register_device.sync_detailed(client=user, body=m.DeviceRegister(
        token=f"fcm-{uuid.uuid4().hex}", platform=m.DeviceRegisterPlatform.IOS, locale="ja-JP", app_version="5.12.0")),
        201, m.Device)
    assert device.platform == m.DevicePlatform.IOS
    assert gen.unregister_device.sync_detailed(device.token, client=user).status_code == 204


def test_rate_limit_and_bad_token_are_typed(gen: SimpleNamespace, server: ServerProcess, closing: ExitStack) -> None:
    m = gen.models
    user = _client(gen, server, closing, f"gen-busy-{uuid.uuid4().hex[:8]}")
    for _ in range(2):
        _ok(gen.open_session.sync_detailed(client=user, body=m.SessionCreate(category=m.Category.TRADING)),
            201, m.SessionOpened)
    response = gen.open_session.sync_detailed(client=user, body=m.SessionCreate(category=m.Category.TRADING))
    limited = _error(response, 429, m.RateLimitedError)
    assert limited.details.kind == m.RateLimitedDetailsKind.SESSIONS and limited.details.retry_after >= 1
    assert response.headers["Retry-After"] == str(limited.details.retry_after)

    stranger = _client(gen, server, closing, token="not.a.jwt")
    unauthorized = _error(gen.get_session.sync_detailed("ses_" + "0" * 28, client=stranger), 401, m.UnauthorizedError)
    assert unauthorized.details.reason == m.UnauthorizedDetailsReason.INVALID
