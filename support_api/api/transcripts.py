"""A session's transcript: JSON, and a plain-text download at its own path."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from support_api.api.common import current_principal, query_args
from support_api.lib.offload import run_cpu
from support_api.lib.runtime import get_runtime
from support_api.lib.transcript_text import choose_language
from support_api.schemas.requests import TextTranscriptQuery, TranscriptQuery
from support_api.services import transcripts

bp = Blueprint("transcripts", __name__)

_query = TranscriptQuery()
_text_query = TextTranscriptQuery()


def _language(locale: str | None, token_locale: str | None) -> str:
    # `locale`, else the token's, else the client's Accept-Language (by quality), else English.
    accepted = [value for value, quality in request.accept_languages if quality > 0]
    return choose_language(locale, token_locale, *accepted)


def _private(response: Response) -> Response:
    # The whole conversation, account details included: no cache may keep a copy.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/sessions/<session_id>/transcript")
def transcript(session_id: str) -> Response:
    rt, principal = get_runtime(), current_principal()
    args = query_args(_query)
    lang = _language(args.get("locale"), principal.locale)
    result = transcripts.transcript(rt, principal, session_id, fmt="json")
    return _private(jsonify(transcripts.dump_transcript(result, lang, rt.signer)))


@bp.get("/sessions/<session_id>/transcript/text")
def transcript_text(session_id: str) -> Response:
    rt, principal = get_runtime(), current_principal()
    args = query_args(_text_query)
    lang = _language(args.get("locale"), principal.locale)
    result = transcripts.transcript(rt, principal, session_id, fmt="text")
    # A long chat's text is built off the event loop (lib/offload.py).
    text = run_cpu(rt.settings.protection.cpu_workers, transcripts.render_text, result, lang)
    response = Response(text, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="transcript-{result.chat.id}.txt"'
    return _private(response)
