"""Screening what people type before anything of it is stored, logged, pushed or shown.

Recovery phrases, private keys, passwords (and operators asking for any of them) are
refused outright; card, My Number and bank account numbers are stored masked; a bare 64-hex
string, which may be a key or a transaction hash, needs the sender's confirmation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlalchemy import func, select

from support_api.lib import metrics
from support_api.lib.access import require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import ApiError
from support_api.lib.guard import inspect
from support_api.lib.runtime import Runtime
from support_api.models import GuardBlock, utcnow
from support_api.services import audit

_EXPLANATIONS: dict[str, dict[str, str]] = {
    "mnemonic": {
        "ja": "リカバリーフレーズ（シードフレーズ）をサポートがお尋ねすることは絶対にありません。このメッセージは送信も保存もされていません。"
              "すでに他の場所で伝えてしまった場合は、今すぐ資産を新しいウォレットへ移してください。",
        "en": "Support will never need your recovery phrase. This message was neither sent nor stored. "
              "If you have already shared the phrase anywhere else, move your funds to a new wallet now.",
    },
    "private_key": {
        "ja": "秘密鍵をサポートがお尋ねすることは絶対にありません。このメッセージは送信も保存もされていません。"
              "すでに他の場所で伝えてしまった場合は、今すぐ資産を新しいウォレットへ移してください。",
        "en": "Support will never need a private key. This message was neither sent nor stored. "
              "If you have already shared the key anywhere else, move your funds to a new wallet now.",
    },
    "password": {
        "ja": "パスワード・暗証番号・認証コードをサポートがお尋ねすることはありません。このメッセージは送信も保存もされていません。"
              "すでに他の場所で伝えてしまった場合は、すぐに変更してください。",
        "en": "Support never needs your password, PIN or verification code. This message was neither sent nor "
              "stored. If you have already shared it anywhere else, change it now.",
    },
    "solicitation": {
        "ja": "リカバリーフレーズ・秘密鍵・パスワード・認証コードをお客様に求めることはできません。メッセージは送信されていません。",
        "en": "Support must never ask for recovery phrases, private keys, passwords or verification codes. "
              "The message was not sent.",
    },
    "off_platform": {
        "ja": "外部の連絡先（Telegram・WhatsApp・LINE・Signal・Discord のIDやリンク、個人の電話番号やメールアドレス）"
              "や許可されていないリンクはお客様に送れません。メッセージは送信されていません。",
        "en": "Off-platform contact details (Telegram, WhatsApp, LINE, Signal or Discord handles and links, personal "
              "phone numbers or e-mail addresses) and links outside the allowed domains cannot be sent to users. "
              "The message was not sent.",
    },
    "possible_mnemonic": {
        "ja": "リカバリーフレーズ（シードフレーズ）の単語が並んでいるように見えます。サポートがフレーズを必要とすることはありません。"
              "普通の文章であれば、確認のうえ再送してください。",
        "en": "This looks like it may be a recovery phrase. Support never needs your recovery phrase. "
              "If it is an ordinary sentence, confirm and send it again.",
    },
    "possible_private_key": {
        "ja": "秘密鍵の可能性がある文字列が含まれています。サポートが秘密鍵を必要とすることはありません。"
              "トランザクションID（TxID）であれば、確認のうえ再送してください。",
        "en": "This contains something that may be a private key. Support never needs private keys. "
              "If it is a transaction hash (TxID), confirm and send it again.",
    },
}


class SensitiveContent(ApiError):
    status = 422
    code = "sensitive_content"


@dataclass(frozen=True)
class Screened:
    text: str                      # what may be stored: the original, or its masked form
    masked_kinds: tuple[str, ...]  # what was masked, for the sender's response


def _language(principal: Principal) -> str:
    return "ja" if (principal.locale or "").lower().startswith("ja") else "en"


def screen(rt: Runtime, principal: Principal, text: str, *, session_of: Callable[[], str | None],
           confirm_sensitive: bool = False, field: str | None = None, staff_only: bool = False) -> Screened:
    """Refuse (422 `sensitive_content`) or mask before the text goes anywhere.

    A refusal is counted (kind, session, sender) and audited; the text itself is dropped here
    and never reaches the database, a log line, an event or a push. `session_of` names the
    session the text was meant for, after the access gate (so a refusal is never recorded
    against someone else's session); it is called only on that rare path. `field` names the
    request field the text came from when it is not a message body (the details say which).
    `staff_only` texts (internal notes) never reach a user: off-platform details are allowed
    there (an operator noting the fake account the user reported).
    """
    result = inspect(text, author="operator" if principal.is_staff else "user",
                     allowed_domains=None if staff_only else rt.settings.safety.link_allowlist)
    language = _language(principal)
    where = {"field": field} if field else {}
    if result.blocked is not None:
        refuse(rt, principal, result.blocked.kind, session_of, where)
    if result.ambiguous is not None and not confirm_sensitive:
        kind = result.ambiguous.kind
        details = {"kind": kind, **where} if field else {"kind": kind, "confirm_with": "confirm_sensitive"}
        metrics.GUARD_BLOCKS.labels(kind).inc()
        raise SensitiveContent(_EXPLANATIONS[kind][language], details)
    return Screened(result.masked_text, tuple(dict.fromkeys(f.kind for f in result.masked)))


def refuse(rt: Runtime, principal: Principal, kind: str, session_of: Callable[[], str | None],
           extra: dict[str, object] | None = None) -> NoReturn:
    """Count, audit and raise the 422 of a refusal of `kind`."""
    session_id = session_of()
    with rt.db.write() as db:
        db.add(GuardBlock(kind=kind, session_id=session_id, sender_type=principal.participant_type,
                          sender_id=principal.id, created_at=utcnow()))
        audit.record(db, principal, "sensitive_content.blocked", "session" if session_id else None, session_id,
                     {"kind": kind, **(extra or {})})
    metrics.GUARD_BLOCKS.labels(kind).inc()
    raise SensitiveContent(_EXPLANATIONS[kind][_language(principal)], {"kind": kind, **(extra or {})})


def screen_fields(rt: Runtime, principal: Principal, values: dict[str, str | None], *,
                  session_of: Callable[[], str | None] = lambda: None) -> dict[str, str | None]:
    """Screen free-text fields other than a message body (docs/safety.md lists them): a secret
    in any refuses the whole request (422, `details.field` names it), a possible secret too
    (no confirmation: nothing in an id or a version string is a transaction hash), numbers are
    masked. Returns the values to store."""
    out: dict[str, str | None] = {}
    for name, value in values.items():
        out[name] = screen(rt, principal, value, session_of=session_of, field=name).text if value else value
    return out


def screen_id(rt: Runtime, principal: Principal, name: str, value: str, *,
              session_of: Callable[[], str | None] = lambda: None) -> str:
    """Screen an identifier the client made up and expects back unchanged (`client_msg_id`):
    a secret in it refuses the request as in `screen_fields`, but nothing is masked — a
    masked id would no longer match the one the app is waiting for, and three all-digit groups
    of a random UUID ("…-1737-4896-9022-…") read as a My Number one time in ~12,000.

    A UUID (what most apps send) skips the text pipeline: 32 hex digits can hold no secret the
    guard refuses (keys are longer, codes and passwords need a word before them), and the
    pipeline would cost every message ≈ 40 µs."""
    if not _UUID.fullmatch(value):
        screen_fields(rt, principal, {name: value}, session_of=session_of)
    return value


_UUID = re.compile(r"[0-9a-fA-F]{8}(-?)[0-9a-fA-F]{4}\1[0-9a-fA-F]{4}\1[0-9a-fA-F]{4}\1[0-9a-fA-F]{12}")


def screen_localised(rt: Runtime, principal: Principal, name: str,
                     texts: dict[str, str] | None) -> dict[str, str] | None:
    """An admin's text in both languages (an incident's title or update, issue 13) screened as
    the message to users it becomes: `details.field` is `name.ja` or `name.en`."""
    if texts is None:
        return None
    return {language: screen(rt, principal, text, session_of=lambda: None, field=f"{name}.{language}",
                             confirm_sensitive=True).text
            for language, text in texts.items()}


def explanation(kind: str, locale: str | None) -> str:
    return _EXPLANATIONS[kind]["ja" if (locale or "").lower().startswith("ja") else "en"]


def blocked_stats(rt: Runtime, principal: Principal, since: datetime | None) -> dict[str, object]:
    """How many secrets were stopped, by kind and by sender type (admins)."""
    require_role(principal, Role.ADMIN)
    query = select(GuardBlock.kind, GuardBlock.sender_type, func.count()).group_by(GuardBlock.kind,
                                                                                  GuardBlock.sender_type)
    if since is not None:
        query = query.where(GuardBlock.created_at >= since)
    with rt.db.read() as db:
        rows = db.execute(query).all()
    audit.record_now(rt, principal, "admin.guard_stats_read")
    by_kind: Counter[str] = Counter()
    by_sender: Counter[str] = Counter()
    for kind, sender_type, count in rows:
        by_kind[kind] += count
        by_sender[sender_type] += count
    return {"total": sum(by_kind.values()), "by_kind": dict(by_kind), "by_sender_type": dict(by_sender)}
