"""A retried send (same client_msg_id) stores and delivers one message, whichever way it was
first sent and retried; a retried "open a chat" returns the chat it opened."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from tests.e2e.conftest import World, uid


def _post(world_api: Any, session_id: str, body: str, client_msg_id: str) -> tuple[int, dict[str, Any]]:
    response = world_api.post(f"/v1/sessions/{session_id}/messages", json={"body": body, "client_msg_id": client_msg_id})
    return response.status_code, response.json()


def test_retried_sends_store_and_deliver_one_message(world: World) -> None:
    user, op = world.user("retry"), world.operator(["funds"])
    session_id = user.open_session("funds")["id"]
    op.claim(session_id)
    u_sock, o_sock = user.socket(label="user"), op.socket(label="op")
    u_sock.join(session_id)
    o_sock.join(session_id)

    # Socket, then the same socket again (the ack was lost on a flaky network). Seq 1 is the
    # claim's "joined".
    first = u_sock.send(session_id, "deposit missing", "c-1")
    again = u_sock.send(session_id, "deposit missing", "c-1")
    assert first["ok"] is True and first["duplicate"] is False and first["message"]["seq"] == 2
    assert again["ok"] is True and again["duplicate"] is True
    assert again["message"] == first["message"]

    # A retry keeps the original even when the body differs (the client resent an edited draft).
    edited = u_sock.send(session_id, "deposit missing!!", "c-1")
    assert edited["duplicate"] is True and edited["message"] == first["message"]

    # REST, then REST again: 201, then 200 with the same message.
    status, created = _post(user.api, session_id, "tx hash 0xabc", "c-2")
    assert status == 201 and created["seq"] == 3
    status, repeated = _post(user.api, session_id, "tx hash 0xabc", "c-2")
    assert status == 200 and repeated == created

    # First over the socket, retried over REST (the app fell back to HTTP).
    via_socket = u_sock.send(session_id, "screenshot attached", "c-3")["message"]
    assert via_socket["seq"] == 4
    status, via_rest = _post(user.api, session_id, "screenshot attached", "c-3")
    assert status == 200 and via_rest == via_socket

    # First over REST, retried over the socket.
    status, rest_first = _post(user.api, session_id, "still waiting", "c-4")
    assert status == 201 and rest_first["seq"] == 5
    socket_retry = u_sock.send(session_id, "still waiting", "c-4")
    assert socket_retry["duplicate"] is True and socket_retry["message"] == rest_first

    # client_msg_id is the sender's own: the operator's "c-1" is a different message.
    op_c1 = o_sock.send(session_id, "hello", "c-1")
    assert op_c1["duplicate"] is False and op_c1["message"]["seq"] == 6
    assert op_c1["message"]["sender"]["type"] == "operator"

    # The operator heard each of the user's messages exactly once, even with the retries.
    marker = user.post_message(session_id, "end", uid("marker"))
    o_sock.wait_for("message:new", lambda m: m["id"] == marker["id"])
    heard = Counter(m["client_msg_id"] for m in o_sock.received("message:new", lambda m: m["session_id"] == session_id))
    assert heard == {"c-1": 1, "c-2": 1, "c-3": 1, "c-4": 1, marker["client_msg_id"]: 1}
    # The user's socket heard the REST-first messages once, and none of its own socket sends.
    u_sock.wait_for("message:new", lambda m: m["id"] == marker["id"])
    mine = Counter(m["client_msg_id"] for m in u_sock.received("message:new", lambda m: m["sender"]["type"] == "user"))
    assert mine == {"c-2": 1, "c-4": 1, marker["client_msg_id"]: 1}

    history = user.history(session_id)
    assert [(m["seq"], m["client_msg_id"]) for m in history] == [
        (1, None), (2, "c-1"), (3, "c-2"), (4, "c-3"), (5, "c-4"), (6, "c-1"), (7, marker["client_msg_id"])]
    assert (history[0]["sender"]["type"], history[0]["body"]) == ("system", f"{op.name} joined")
    assert history[1]["body"] == "deposit missing"


def test_simultaneous_retries_of_one_send_store_one_message(world: World) -> None:
    user, op = world.user("racer"), world.operator(["funds"])
    session_id = user.open_session("funds")["id"]
    op.claim(session_id)
    apis = [world.api(user.token) for _ in range(6)]
    start = threading.Barrier(len(apis))
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def retry(api: Any) -> None:
        start.wait(10)
        outcome = _post(api, session_id, "same message", "dup-1")
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=retry, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == len(apis)
    assert sorted(status for status, _ in results) == [200] * (len(apis) - 1) + [201]
    assert len({body["id"] for _, body in results}) == 1 and results[0][1]["seq"] == 2  # after the "joined"
    assert [m["client_msg_id"] for m in user.history(session_id)] == [None, "dup-1"]


def test_retried_open_returns_the_same_session(world: World) -> None:
    user, op = world.user("opener"), world.operator(["security"])
    o_sock = op.socket(label="op")
    first = user.open_session("security", first="Someone logged in from abroad", client_msg_id="open-1")
    again = user.open_session("security", first="Someone logged in from abroad", client_msg_id="open-1", expect=200)
    assert again["id"] == first["id"]
    assert again["first_message"] == first["first_message"]
    assert again["last_seq"] == 1 and again["status"] == "waiting"

    # A different first message is a different chat.
    other = user.open_session("security", first="Another question", client_msg_id="open-2")
    assert other["id"] != first["id"]

    # Retries racing each other still open one chat.
    start = threading.Barrier(5)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()
    apis = [world.api(user.token) for _ in range(5)]

    def open_once(api: Any) -> None:
        start.wait(10)
        response = api.post("/v1/sessions", json={"category": "security",
                                                  "message": {"body": "2FA lost", "client_msg_id": "open-3"}})
        with lock:
            outcomes.append((response.status_code, response.json()["id"]))

    threads = [threading.Thread(target=open_once, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(status for status, _ in outcomes) == [200, 200, 200, 200, 201]
    raced = {session_id for _, session_id in outcomes}
    assert len(raced) == 1

    response = user.api.get("/v1/sessions", params={"order": "asc"})
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["items"]] == [first["id"], other["id"], raced.pop()]

    # The department heard of each chat, and of its first message, once.
    response = user.api.get("/v1/sessions")
    ids = {s["id"] for s in response.json()["items"]}
    o_sock.wait_for("message:new", lambda m: m["session_id"] in ids, count=3)
    opened = Counter(s["id"] for s in o_sock.received("session:updated", lambda s: s["id"] in ids))
    assert opened == {session_id: 1 for session_id in ids}
    firsts = Counter(m["session_id"] for m in o_sock.received("message:new", lambda m: m["session_id"] in ids))
    assert firsts == {session_id: 1 for session_id in ids}
