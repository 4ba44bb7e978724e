"""Socket.IO handlers at unit level (Flask-SocketIO test client: not a transport; the real
server process is covered in tests/e2e)."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any, Callable

from tests.conftest import Api
from tests.pushutil import register

OpenSession = Callable[..., dict[str, Any]]
SocketClient = Callable[[str | None], Any]


def _events(client: Any, name: str) -> list[Any]:
    return [event["args"][0] for event in client.get_received() if event["name"] == name]


def test_connect_requires_a_valid_token(socket_client: SocketClient, api: Api) -> None:
    assert not socket_client(None).is_connected()
    assert not socket_client("not-a-token").is_connected()
    assert socket_client(api.token("user-1")).is_connected()


def test_join_send_and_receive(api: Api, user: str, operator: str, open_session: OpenSession,
                               socket_client: SocketClient) -> None:
    sid = open_session("funds", message={"body": "help", "client_msg_id": "u0"})["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    user_socket, op_socket = socket_client(user), socket_client(operator)
    joined = user_socket.emit("session:join", {"session_id": sid, "after_seq": 0}, callback=True)
    assert joined["ok"] and [m["seq"] for m in joined["messages"]] == [1, 2] and joined["has_more"] is False
    assert (joined["messages"][1]["sender"]["type"], joined["messages"][1]["body"]) == ("system", "Sato が対応します")
    assert joined["session"]["status"] == "active"
    assert op_socket.emit("session:join", {"session_id": sid}, callback=True)["ok"]
    user_socket.get_received()
    op_socket.get_received()

    ack = op_socket.emit("message:send", {"session_id": sid, "client_msg_id": "o1", "body": "確認します"}, callback=True)
    assert ack["ok"] and ack["duplicate"] is False and ack["message"]["seq"] == 3
    delivered = _events(user_socket, "message:new")
    assert [m["id"] for m in delivered] == [ack["message"]["id"]]
    assert _events(op_socket, "message:new") == []  # the sender has its ack

    again = op_socket.emit("message:send", {"session_id": sid, "client_msg_id": "o1", "body": "確認します"},
                           callback=True)
    assert again["ok"] and again["duplicate"] is True and again["message"]["id"] == ack["message"]["id"]
    assert _events(user_socket, "message:new") == []

    # A message posted over REST reaches the socket clients too.
    rest = api.post(f"/sessions/{sid}/messages", user, json={"client_msg_id": "u1", "body": "ありがとう"})
    assert [m["seq"] for m in _events(op_socket, "message:new")] == [rest.get_json()["seq"]]


def test_acks_carry_errors(api: Api, user: str, other_user: str, open_session: OpenSession,
                           socket_client: SocketClient) -> None:
    theirs = open_session(token=other_user)["id"]
    client = socket_client(user)
    denied = client.emit("session:join", {"session_id": theirs}, callback=True)
    assert denied == {"ok": False, "error": {"code": "not_found", "message": "Session not found", "details": {}}}
    invalid = client.emit("message:send", {"session_id": theirs, "body": ""}, callback=True)
    assert invalid["error"]["code"] == "validation_error"
    assert set(invalid["error"]["details"]["fields"]) == {"body", "client_msg_id"}
    assert client.emit("message:send", "just a string", callback=True)["error"]["code"] == "validation_error"
    assert client.emit("nonsense", {}, callback=True)["error"]["code"] == "unknown_event"
    typing = client.emit("typing", {"session_id": theirs, "is_typing": True}, callback=True)
    assert typing["error"]["code"] == "not_found"
    assert api.get(f"/sessions/{theirs}", other_user).get_json()["last_seq"] == 0


def test_status_changes_reach_user_and_department(api: Api, user: str, operator: str, open_session: OpenSession,
                                                  socket_client: SocketClient) -> None:
    user_socket = socket_client(user)
    op_socket = socket_client(operator)
    outsider = socket_client(api.token("op-sec", "operator", departments=["security"]))
    sid = open_session("funds")["id"]
    assert [s["status"] for s in _events(op_socket, "session:updated")] == ["waiting"]
    assert _events(outsider, "session:updated") == []
    api.post(f"/sessions/{sid}/claim", operator)
    received = user_socket.get_received()
    updates = [e["args"][0] for e in received if e["name"] == "session:updated"]
    assert [u["status"] for u in updates] == ["waiting", "active"]
    assert updates[-1]["operator"] == {"id": "op-1", "name": "Sato"} and "unread_count" not in updates[-1]
    # The claim's "joined" message reaches the user's sockets as well.
    [joined] = [e["args"][0] for e in received if e["name"] == "message:new"]
    assert (joined["seq"], joined["sender"]["type"], joined["body"]) == (1, "system", "Sato が対応します")


def test_read_over_socket_reaches_other_devices(api: Api, user: str, operator: str, open_session: OpenSession,
                                                socket_client: SocketClient) -> None:
    sid = open_session("funds")["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    api.post(f"/sessions/{sid}/messages", operator, json={"client_msg_id": "o1", "body": "hi"})
    phone, tablet = socket_client(user), socket_client(user)
    tablet.get_received()
    # seq 1 is the claim's "joined", 2 the reply: reading the reply reads both.
    ack = phone.emit("session:read", {"session_id": sid, "seq": 2}, callback=True)
    assert ack == {"ok": True, "session_id": sid, "reader": {"type": "user", "id": "user-1"},
                   "last_read_seq": 2, "unread_count": 0}
    assert _events(tablet, "session:read") == [{"session_id": sid, "reader": {"type": "user", "id": "user-1"},
                                                "last_read_seq": 2}]
    assert api.get("/me/unread", user).get_json() == {"sessions": 0, "messages": 0}


def test_socket_events_leave_no_reference_cycles(api: Api, user: str, operator: str, open_session: OpenSession,
                                                 socket_client: SocketClient) -> None:
    """Socket events must be freed by reference counting: whatever only the garbage collector
    can free piles up until a collection pauses the whole process (bench/README.md, issue 16,
    third pass: Flask matched each event's path against the routes, and the NotFound it kept
    put ~46 objects per event in cycles — 40–150 ms pauses under load)."""
    sid = open_session("funds")["id"]
    api.post(f"/sessions/{sid}/claim", operator)
    # The user has a phone: each operator message queues a push, and each read checks for one to clear.
    register(api, user, "dGVzdC10b2tlbi0wMDAx:APA91b-cycles")
    user_socket, op_socket = socket_client(user), socket_client(operator)
    for client in (user_socket, op_socket):
        assert client.emit("session:join", {"session_id": sid}, callback=True)["ok"]
    user_socket.emit("message:send", {"session_id": sid, "client_msg_id": "warm", "body": "hi"}, callback=True)
    events = 60  # 15 rounds of four: under the 60 messages a minute each sender may send
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(events // 4):
            ack = user_socket.emit("message:send", {"session_id": sid, "client_msg_id": f"u{i}", "body": "残高が"},
                                   callback=True)
            assert ack["ok"], ack
            assert op_socket.emit("typing", {"session_id": sid, "is_typing": i % 2 == 0}, callback=True)["ok"]
            reply = op_socket.emit("message:send", {"session_id": sid, "client_msg_id": f"o{i}", "body": "確認します"},
                                   callback=True)
            assert reply["ok"], reply
            assert user_socket.emit("session:read", {"session_id": sid, "seq": reply["message"]["seq"]},
                                    callback=True)["ok"]
        op_socket.get_received()
        gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collection finds, to name it
        gc.collect()
        cyclic = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    # Other tests' threads may leave a few cycles meanwhile; the events' own context and
    # statements must not (an `in_` built per read or per notifying message did).
    ours = {name: n for name, n in cyclic.items() if name.startswith(("flask.", "werkzeug.", "sqlalchemy."))}
    assert not ours, f"socket events left objects in reference cycles: {ours}"
    assert sum(cyclic.values()) < 5 * events, f"{cyclic.most_common(10)} in reference cycles after {events} events"


def test_the_socket_path_over_plain_http_is_a_404(app: Any) -> None:
    """Under /socket.io Flask matches no route (SupportApiFlask.create_url_adapter): a request
    there that reaches Flask, past the Engine.IO middleware, still gets the 404 envelope."""
    response = app.test_client().get("/socket.io")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
