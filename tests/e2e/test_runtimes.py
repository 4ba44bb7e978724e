"""The runtime is swappable: the server serves REST and Socket.IO under eventlet, gevent and
threading, over the websocket transport and over HTTP long-polling (on SQLite)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dbutil import fresh_database
from tests.e2e.conftest import ServerProcess, World, run_server


@pytest.fixture(scope="module", params=["eventlet", "gevent", "threading"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Overrides the module-wide server: one per async mode, on SQLite."""
    with fresh_database("sqlite") as url, \
            run_server(url, tmp_path_factory.mktemp(f"runtime-{request.param}"), async_mode=request.param) as proc:
        assert proc.async_mode == request.param
        yield proc


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_connect_join_send_receive(world: World, server: ServerProcess, transport: str) -> None:
    assert f"async mode {server.async_mode}" in server.log_text()
    user, op = world.user("rt"), world.operator(["other"])
    opened = user.open_session("other", first=f"hello from {server.async_mode}/{transport}")
    session_id = opened["id"]
    op.claim(session_id)

    u_sock = user.socket(transports=(transport,), label=f"user/{transport}")
    o_sock = op.socket(transports=(transport,), label=f"op/{transport}")
    assert u_sock.client.transport() == transport and o_sock.client.transport() == transport
    # The first message, then the claim's "joined".
    in_join = u_sock.join(session_id)["messages"]
    assert [(m["seq"], m["sender"]["type"]) for m in in_join] == [(1, "user"), (2, "system")]
    assert in_join[1]["body"] == f"{op.name} joined"
    assert o_sock.join(session_id)["messages"] == [opened["first_message"], in_join[1]]

    ack = o_sock.send(session_id, "こんにちは、担当の佐藤です", "o-1")
    assert ack["ok"] is True and ack["message"]["seq"] == 3
    assert u_sock.wait_for("message:new", lambda m: m["seq"] == 3) == [ack["message"]]
    assert ack["message"]["body"] == "こんにちは、担当の佐藤です"

    ack = u_sock.send(session_id, "ありがとう", "u-1")
    assert ack["ok"] is True and ack["message"]["seq"] == 4
    assert o_sock.wait_for("message:new", lambda m: m["seq"] == 4) == [ack["message"]]

    assert u_sock.call("typing", {"session_id": session_id}) == {"ok": True}
    assert o_sock.wait_for("typing")[0]["sender"]["id"] == user.id
    assert [m["seq"] for m in user.history(session_id)] == [1, 2, 3, 4]
