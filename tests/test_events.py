"""lib/events.py: a retried send's message is delivered again only by a process that did not
emit it itself (the one that stored it may have died between commit and emit)."""

from __future__ import annotations

from typing import Any

from support_api.lib.events import Events, _RecentIds


class FakeSocketIO:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, list[str], str | None]] = []

    def emit(self, event: str, payload: dict[str, Any], *, to: list[str], skip_sid: str | None = None) -> None:
        self.sent.append((event, payload["id"], to, skip_sid))


def _message(message_id: str) -> dict[str, Any]:
    return {"id": message_id, "sender": {"type": "user"}}


def test_a_retry_is_delivered_again_only_where_it_was_not_emitted() -> None:
    socketio = FakeSocketIO()
    here = Events(socketio)  # type: ignore[arg-type]
    here.emit("message:new", _message("m1"), ["session:s"], skip_sid="a")
    here.redeliver("message:new", _message("m1"), ["session:s"], skip_sid="b")  # this process sent it
    assert socketio.sent == [("message:new", "m1", ["session:s"], "a")]

    # Another process (or this one restarted) knows nothing of m1: it delivers it, once.
    elsewhere = Events(socketio)  # type: ignore[arg-type]
    elsewhere.redeliver("message:new", _message("m1"), ["session:s"], skip_sid="c")
    elsewhere.redeliver("message:new", _message("m1"), ["session:s"], skip_sid="c")
    elsewhere.redeliver("note:new", _message("n1"), ["dept:funds"])
    assert socketio.sent[1:] == [("message:new", "m1", ["session:s"], "c"), ("note:new", "n1", ["dept:funds"], None)]


def test_recent_ids_forget_the_oldest_beyond_their_size() -> None:
    recent = _RecentIds(3)
    for key in ("a", "b", "c", "d"):
        recent.add(key)
    assert "a" not in recent and all(key in recent for key in ("b", "c", "d"))
    recent.add("b")  # already there: nothing is dropped
    assert all(key in recent for key in ("b", "c", "d"))
