"""Transcripts: a session's conversation as one document, as JSON or plain text.

The user gets the public messages. Staff (operators who may see the session, admins) also
get the internal notes, each placed where it was written: after the public message whose
`seq` is its `after_seq`, before the next; notes with one `after_seq` in their own order.
Only the staff branch queries `internal_notes` at all, so no filter forgotten elsewhere can
put a note in a user's transcript.

A transcript is one response, so it is bounded: at most `MAX_ITEMS` entries (messages and
notes together, in conversation order), flagged `truncated` beyond that. Chats that long are
far outside normal support; the history API (`GET …/messages`) pages through any length.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Union

from sqlalchemy import select
from sqlalchemy.orm import Session

from support_api.lib import transcript_text as tt
from support_api.lib.access import get_session
from support_api.lib.auth import Principal
from support_api.lib.runtime import Runtime
from support_api.lib.signing import UrlSigner
from support_api.models import ChatSession, InternalNote, Message, utcnow
from support_api.schemas.responses import dump_message, dump_note, iso
from support_api.services import audit
from support_api.services.queries import with_attachments

# 2,000 entries of at most 4,096 characters each keep the worst response near 8 MiB.
# openapi.yaml and the README state this number: change them with it.
MAX_ITEMS = 2000

Item = Union[Message, InternalNote]


@dataclass(frozen=True)
class Transcript:
    chat: ChatSession
    items: list[Item]
    with_notes: bool
    truncated: bool
    generated_at: datetime


def _messages(db: Session, chat: ChatSession) -> list[Message]:
    # Up to the `last_seq` read with the session, so the summary and the items agree even
    # while messages keep arriving; attachments in one IN query per 500 messages, not one each.
    return with_attachments(db, list(db.execute(
        select(Message)
        .where(Message.session_id == chat.id, Message.seq <= chat.last_seq)
        .order_by(Message.seq).limit(MAX_ITEMS + 1)
    ).scalars()))


def _notes(db: Session, chat: ChatSession) -> list[InternalNote]:
    """Staff only: see the module docstring."""
    return list(db.execute(
        select(InternalNote)
        .where(InternalNote.session_id == chat.id, InternalNote.after_seq <= chat.last_seq)
        .order_by(InternalNote.after_seq, InternalNote.seq).limit(MAX_ITEMS + 1)
    ).scalars())


def _place(item: Item) -> tuple[int, int, int]:
    """Conversation order: message N, then the notes written after it (by note seq), then N + 1."""
    if isinstance(item, InternalNote):
        return item.after_seq, 1, item.seq
    return item.seq, 0, 0


def transcript(rt: Runtime, principal: Principal, session_id: str, *, fmt: str) -> Transcript:
    """The session's transcript for `principal` (404 for a session they may not see).

    A staff export is audited (`session.transcript_exported`), as an operator's view of an
    attachment is: a transcript holds the whole conversation, account details included.
    """
    with rt.db.read() as db:
        chat = get_session(db, principal, session_id)
        messages = _messages(db, chat)
        notes = _notes(db, chat) if principal.is_staff else []
    # Each list is sorted and the first MAX_ITEMS entries overall are among the first
    # MAX_ITEMS + 1 of each, so merging the two capped lists gives the right prefix.
    items = list(islice(heapq.merge(messages, notes, key=_place), MAX_ITEMS + 1))
    if principal.is_staff:
        audit.record_now(rt, principal, "session.transcript_exported", "session", chat.id,
                         {"format": fmt, "items": min(len(items), MAX_ITEMS)})
    return Transcript(chat=chat, items=items[:MAX_ITEMS], with_notes=principal.is_staff,
                      truncated=len(items) > MAX_ITEMS, generated_at=utcnow())


def dump_transcript(result: Transcript, lang: str, signer: UrlSigner) -> dict[str, Any]:
    """A Transcript (openapi.yaml): items are Messages and InternalNotes as everywhere else."""
    chat = result.chat
    return {
        "session": {
            "id": chat.id,
            "category": chat.category,
            "department": chat.department,
            "status": chat.status,
            "user": {"id": chat.user_id, "name": chat.user_name},
            "operator": {"id": chat.operator_id, "name": chat.operator_name} if chat.operator_id else None,
            "last_seq": chat.last_seq,
            "created_at": iso(chat.created_at),
            "closed_at": iso(chat.closed_at),
        },
        "locale": lang,
        "generated_at": iso(result.generated_at),
        "includes_internal_notes": result.with_notes,
        "truncated": result.truncated,
        "items": [dump_note(item) if isinstance(item, InternalNote) else dump_message(item, signer)
                  for item in result.items],
    }


def render_text(result: Transcript, lang: str) -> str:
    """The plain-text transcript in `lang` (see lib/transcript_text.py for its lines)."""
    chat = result.chat
    lines = tt.header(
        lang, session_id=chat.id, category=chat.category,
        department=chat.department if result.with_notes else None, status=chat.status,
        user_id=chat.user_id, user_name=chat.user_name, operator_id=chat.operator_id,
        operator_name=chat.operator_name, opened_at=chat.created_at, closed_at=chat.closed_at,
        generated_at=result.generated_at, with_notes=result.with_notes,
    )
    for item in result.items:
        if isinstance(item, InternalNote):
            lines += tt.entry(lang, at=item.created_at, sender_type="operator" if item.author_id else "system",
                              sender_name=item.author_name, body=item.body, internal=True)
            continue
        lines += tt.entry(lang, at=item.created_at, sender_type=item.sender_type, sender_name=item.sender_name,
                          body=item.body)
        lines += [tt.attachment(lang, attachment_id=a.id, content_type=a.content_type, width=a.width,
                                height=a.height, size=a.size) for a in item.attachments]
    if not result.items:
        lines.append(tt.empty(lang))
    if result.truncated:
        lines.append(tt.truncated(lang, len(result.items)))
    return tt.document(lines)
