"""REST answers and refused socket events must be freed by reference counting. Whatever only the garbage collector can
free piles up until a collection stops the whole process, every chat on it included
(bench/README.md, issue 16, third pass). The socket events' own test is in
tests/test_socket_handlers.py."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any, Callable

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

OpenSession = Callable[..., dict[str, Any]]
# Werkzeug's router builds a recursive closure per match (a function, its cells, a set and a
# tuple): 8 objects per request that no application code can avoid.
ROUTER_OBJECTS = 8
# What a request must never leave in a cycle (a frame or traceback: an error kept with its
# traceback; the others: a request context, a statement built per call, a loader's state).
NEVER = ("builtins.frame", "builtins.traceback", "flask.", "werkzeug.", "sqlalchemy.", "marshmallow.", "jwt.")
# Other threads of the test process (timers, workers of earlier tests' apps) leave some
# meanwhile: 88 objects were seen once in a full run.
OTHER_THREADS = 200


def _answer(app: Flask, environ: dict[str, Any]) -> int:
    """One request straight through the WSGI app (the test client keeps objects of its own)."""
    statuses: list[str] = []
    b"".join(app.wsgi_app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return int(statuses[0].split()[0])


def _cyclic_objects(run: Callable[[], object], times: int) -> Counter[str]:
    """What `times` calls of `run` leave that only the garbage collector can free, by type."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(times):
            run()
        gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collection finds, to name it
        gc.collect()
        return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


@pytest.mark.parametrize(("case", "method", "path", "token", "status"), [
    ("a listing (unread counts of many sessions)", "GET", "/v1/sessions", "user", 200),
    ("one session", "GET", "/v1/sessions/{sid}", "operator", 200),
    ("history", "GET", "/v1/sessions/{sid}/messages", "user", 200),
    ("invalid query (marshmallow's ValidationError chained)", "GET", "/v1/sessions?limit=abc", "user", 422),
    ("bad token (PyJWT's error chained)", "GET", "/v1/sessions", "not-a-jwt", 401),
    ("no such route (the request context keeps werkzeug's NotFound)", "GET", "/v1/nothing", "user", 404),
    ("no such session", "GET", "/v1/sessions/ses_" + "0" * 28, "user", 404),
    ("method not allowed", "DELETE", "/v1/sessions", "user", 405),
])
def test_rest_answers_leave_no_reference_cycles(app: Flask, api: Any, user: str, operator: str,
                                                open_session: OpenSession, case: str, method: str, path: str,
                                                token: str, status: int) -> None:
    """Before: 4xx answers left ~60 objects each (the error's traceback holds a frame that holds
    the error: lib/errors.release drops them); a listing 31 and an operator's session 18 (an `in_`
    built per call: the statements of services/queries.py and lib/access.get_session are
    built once); history 16 (SQLAlchemy's selectin loader: services/queries.with_attachments)."""
    sid = open_session("funds")["id"]
    open_session("trading")
    api.post(f"/sessions/{sid}/claim", operator)
    bearer = {"user": user, "operator": operator}.get(token, token)
    requests = 100
    environs = [EnvironBuilder(path=path.format(sid=sid), method=method,
                               headers={"Authorization": f"Bearer {bearer}"}).get_environ()
                for _ in range(requests + 1)]
    assert _answer(app, environs.pop()) == status, case  # warm: caches filled, statements compiled
    cyclic = _cyclic_objects(lambda: _answer(app, environs.pop()), requests)
    named = {name: n for name, n in cyclic.items() if name.startswith(NEVER)}
    assert not named, f"{case}: left in reference cycles: {named}"
    assert sum(cyclic.values()) <= ROUTER_OBJECTS * requests + OTHER_THREADS, f"{case}: {cyclic.most_common(8)}"


@pytest.mark.parametrize(("case", "payload", "code"), [
    ("invalid payload (marshmallow's ValidationError chained)", {"session_id": "{sid}"}, "validation_error"),
    ("not an object", "hello", "validation_error"),
    ("no such session", {"session_id": "ses_" + "0" * 28, "client_msg_id": "c", "body": "x"}, "not_found"),
])
def test_refused_socket_events_leave_no_reference_cycles(user: str, open_session: OpenSession,
                                                         socket_client: Callable[[str | None], Any], case: str,
                                                         payload: Any, code: str) -> None:
    """Before: a `message:send` refused for its payload left ~59 objects in cycles (the
    ValidationError's traceback; realtime/connections.acked now releases it)."""
    sid = open_session("funds")["id"]
    sock = socket_client(user)
    if isinstance(payload, dict):
        payload = {key: value.format(sid=sid) for key, value in payload.items()}

    def send() -> None:
        ack = sock.emit("message:send", payload, callback=True)
        assert ack["error"]["code"] == code, ack

    send()  # warm
    events = 40  # under the 60 messages a minute a sender may try
    cyclic = _cyclic_objects(send, events)
    named = {name: n for name, n in cyclic.items() if name.startswith(NEVER)}
    assert not named, f"{case}: left in reference cycles: {named}"
    assert sum(cyclic.values()) <= OTHER_THREADS, f"{case}: {cyclic.most_common(8)}"
