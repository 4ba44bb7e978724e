"""The user's rating of a closed chat: once per session, kept across reopens."""

from __future__ import annotations

from support_api.lib.access import get_session, require_role
from support_api.lib.auth import Principal, Role
from support_api.lib.errors import Conflict
from support_api.lib.events import status_audience
from support_api.lib.runtime import Runtime
from support_api.models import ChatSession, SessionStatus, utcnow
from support_api.schemas.responses import dump_session
from support_api.services import audit, guard
from support_api.services.messages import visible_session_id


def rate_session(rt: Runtime, principal: Principal, session_id: str, *, score: int,
                 comment: str | None) -> ChatSession:
    """Store the user's score (1-5) and comment. Only after a close; a second rating is a
    conflict (the row lock makes two racing first ratings one rating and one 409). The comment
    is the user's free text, so it passes the guard like a message does."""
    require_role(principal, Role.USER)
    text = comment.strip() if comment else ""
    screened = (guard.screen(rt, principal, text, session_of=lambda: visible_session_id(rt, principal, session_id))
                if text else None)
    with rt.db.write() as db:
        chat = get_session(db, principal, session_id, for_update=True)
        if chat.rated_at is not None:
            raise Conflict("This chat has already been rated", {"reason": "already_rated"})
        if chat.status != SessionStatus.CLOSED.value:
            raise Conflict("A chat can be rated once it is closed", {"reason": "not_closed"})
        chat.rating_score = score
        chat.rating_comment = screened.text if screened else None
        chat.rated_at = utcnow()
        audit.record(db, principal, "session.rated", "session", chat.id, {"score": score})
    rt.events.emit("session:updated", dump_session(chat), status_audience(chat))
    return chat
