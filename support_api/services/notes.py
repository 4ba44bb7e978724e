"""Internal notes: staff-only messages in a session (`visibility: internal`).

Notes are `InternalNote` rows, not `Message` rows, so no path that serves users — history,
`session:join`, unread counts, push, transcripts — can return one by missing a filter. They
are numbered by the session's own `last_note_seq` under the same row lock as messages, and
reach staff only (`note:new` on department and staff rooms, never the session room).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from support_api.lib.access import get_session, require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.events import staff_audience
from support_api.lib.runtime import Runtime
from support_api.models import ChatSession, InternalNote, new_id, utcnow
from support_api.schemas.responses import dump_note
from support_api.services import guard
from support_api.services.limits import enforce
from support_api.services.messages import visible_session_id


@dataclass(frozen=True)
class NoteResult:
    note: InternalNote
    created: bool  # False: a retry of a note that was already stored
    masked_kinds: tuple[str, ...] = ()


def append_note(db: Session, chat: ChatSession, author: Principal | None, body: str,
                client_msg_id: str | None) -> InternalNote:
    """The next note of a locked session row (author None: written by the server)."""
    chat.last_note_seq += 1
    note = InternalNote(
        id=new_id("note"),
        session_id=chat.id,
        seq=chat.last_note_seq,
        after_seq=chat.last_seq,
        author_id=author.id if author else None,
        author_name=author.name if author else None,
        body=body,
        client_msg_id=client_msg_id,
        created_at=utcnow(),
    )
    db.add(note)
    return note


def post_note(rt: Runtime, principal: Principal, session_id: str, *, body: str, client_msg_id: str,
              confirm_sensitive: bool = False, origin_sid: str | None = None) -> NoteResult:
    """Any staff member who may see the session writes a note — the holder, a colleague asked
    for advice, a supervisor — also in a closed session (notes are the record). Retrying with
    the same `client_msg_id` returns the stored note (delivered again as in Events.redeliver).
    Notes pass the guard like messages: a secret the user pasted must not be copied into the
    record either."""
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    enforce(rt, principal, "messages")
    screened = guard.screen(rt, principal, body, confirm_sensitive=confirm_sensitive,
                            session_of=lambda: visible_session_id(rt, principal, session_id), staff_only=True)
    client_msg_id = guard.screen_id(rt, principal, "client_msg_id", client_msg_id,
                                    session_of=lambda: visible_session_id(rt, principal, session_id))
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        existing = db.execute(select(InternalNote).where(
            InternalNote.session_id == chat.id, InternalNote.author_id == principal.id,
            InternalNote.client_msg_id == client_msg_id,
        )).scalar_one_or_none()
        note = existing or append_note(db, chat, principal, screened.text, client_msg_id)
        if existing is None:
            rt.events.expect(note.id)
    if existing is not None:
        # Delivered again unless this process emitted it, as a retried message (Events.redeliver).
        rt.events.redeliver("note:new", dump_note(note), staff_audience(chat), skip_sid=origin_sid)
        return NoteResult(existing, created=False)
    rt.events.emit("note:new", dump_note(note), staff_audience(chat), skip_sid=origin_sid)
    return NoteResult(note, created=True, masked_kinds=screened.masked_kinds)


def list_notes(rt: Runtime, principal: Principal, session_id: str, *, after_seq: int,
               limit: int) -> tuple[list[InternalNote], bool, int]:
    """Notes after `after_seq` in note order, whether more follow, and the session's last note seq."""
    require_role(principal, Role.OPERATOR, Role.ADMIN)
    with rt.db.read() as db:
        chat = get_session(db, principal, session_id)
        rows = list(db.execute(
            select(InternalNote).where(InternalNote.session_id == chat.id, InternalNote.seq > after_seq)
            .order_by(InternalNote.seq).limit(limit + 1)
        ).scalars())
        return rows[:limit], len(rows) > limit, chat.last_note_seq
