"""Many senders write into one session at once, over sockets and REST: every message gets
its own seq, the seqs are exactly 2..N+1 (1 is the claim's "joined"), and every socket hears
every message once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import WAIT, Actor, ServerProcess, Sock, World, run_server, uid

PER_SENDER = 50
REST_THREADS = 5  # per REST sender, each sending PER_SENDER / REST_THREADS messages in turn


@pytest.fixture(scope="module", params=backends())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The module's server, with a message rate limit above this test's burst (the limiter
    still counts every send: it stays on the hot path under concurrency)."""
    with fresh_database(request.param) as url, \
            run_server(url, tmp_path_factory.mktemp("server"),
                       extra_env={"SUPPORT_API_RATE_LIMIT_MESSAGES": "1000/minute"}) as proc:
        yield proc


def _pipelined_socket_sends(sock: Sock, session_id: str, prefix: str, start: threading.Barrier,
                            acks: list[dict[str, Any]]) -> None:
    """Emit PER_SENDER sends without waiting between them (the server handles them concurrently),
    then wait for all their acks."""
    done = threading.Event()
    lock = threading.Lock()

    def on_ack(ack: dict[str, Any]) -> None:
        with lock:
            acks.append(ack)
            if len(acks) == PER_SENDER:
                done.set()

    start.wait(WAIT)
    for i in range(PER_SENDER):
        sock.client.emit("message:send", {"session_id": session_id, "body": f"{prefix} socket #{i}",
                                          "client_msg_id": f"{prefix}-ws-{i}"}, callback=on_ack)
    assert done.wait(60), f"{prefix}: {len(acks)} of {PER_SENDER} acks arrived"


def _rest_sends(actor: Actor, world: World, session_id: str, prefix: str, start: threading.Barrier,
                results: list[list[dict[str, Any]]]) -> None:
    """REST_THREADS threads, each with its own HTTP connection, send in turn."""
    per_thread = PER_SENDER // REST_THREADS
    apis = [world.api(actor.token) for _ in range(REST_THREADS)]

    def run(t: int) -> None:
        mine = results[t]
        start.wait(WAIT)
        for i in range(per_thread):
            response = apis[t].post(f"/v1/sessions/{session_id}/messages",
                                    json={"body": f"{prefix} rest #{t}.{i}", "client_msg_id": f"{prefix}-rest-{t}-{i}"})
            assert response.status_code == 201, response.text
            mine.append(response.json())

    threads = [threading.Thread(target=run, args=(t,)) for t in range(REST_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
        assert not thread.is_alive(), f"{prefix}: a REST sender is still running"


def test_concurrent_senders_get_unique_gapless_seqs_and_every_socket_hears_each_once(world: World) -> None:
    user, op = world.user("rush"), world.operator(["trading"])
    session_id = user.open_session("trading")["id"]
    op.claim(session_id)
    u_sock, o_sock = user.socket(label="user-ws"), op.socket(label="op-ws")
    watcher = user.socket(label="user-tablet")  # a passive device: hears everything
    for sock in (u_sock, o_sock, watcher):
        sock.join(session_id)

    senders = 4
    start = threading.Barrier(2 + 2 * REST_THREADS)
    socket_acks: dict[str, list[dict[str, Any]]] = {"u": [], "o": []}
    rest_results: dict[str, list[list[dict[str, Any]]]] = {p: [[] for _ in range(REST_THREADS)] for p in ("U", "O")}
    failures: list[BaseException] = []

    def guarded(target: Any, *args: Any) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread below
                failures.append(exc)
                start.abort()

        return threading.Thread(target=run, name=f"sender-{args[2]}")

    threads = [
        guarded(_pipelined_socket_sends, u_sock, session_id, "u", start, socket_acks["u"]),
        guarded(_pipelined_socket_sends, o_sock, session_id, "o", start, socket_acks["o"]),
        guarded(_rest_sends, user, world, session_id, "U", start, rest_results["U"]),
        guarded(_rest_sends, op, world, session_id, "O", start, rest_results["O"]),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)

    n = senders * PER_SENDER
    sent: dict[str, dict[str, Any]] = {}
    for prefix in ("u", "o"):
        acks = socket_acks[prefix]
        assert len(acks) == PER_SENDER and all(ack["ok"] is True and ack["duplicate"] is False for ack in acks), \
            [ack for ack in acks if not ack.get("ok")][:3]
        sent.update({ack["message"]["client_msg_id"]: ack["message"] for ack in acks})
    for prefix in ("U", "O"):
        for per_thread in rest_results[prefix]:
            assert len(per_thread) == PER_SENDER // REST_THREADS
            # One sender's sequential sends keep their order.
            assert [m["seq"] for m in per_thread] == sorted(m["seq"] for m in per_thread)
            sent.update({m["client_msg_id"]: m for m in per_thread})
    assert len(sent) == n

    # The stored history: the claim's "joined" (seq 1), then seq 2..N+1 exactly once each,
    # every client_msg_id once, as acked.
    history = user.history(session_id, page=37)
    assert [m["seq"] for m in history] == list(range(1, n + 2))
    joined, history = history[0], history[1:]
    assert (joined["sender"]["type"], joined["body"], joined["client_msg_id"]) == ("system", f"{op.name} joined", None)
    ids = Counter(m["client_msg_id"] for m in history)
    assert set(ids) == set(sent) and max(ids.values()) == 1
    assert {m["client_msg_id"]: m for m in history} == sent
    assert Counter(m["sender"]["type"] for m in history) == {"user": 2 * PER_SENDER, "operator": 2 * PER_SENDER}
    response = op.api.get(f"/v1/sessions/{session_id}")
    assert response.status_code == 200 and response.json()["last_seq"] == n + 1

    # Fan-out: a closing marker flushes every socket (each socket receives in order). The
    # "joined" was sent before any socket connected.
    marker = op.post_message(session_id, "that is all", uid("marker"))
    assert marker["seq"] == n + 2
    everything = set(range(2, n + 3))
    expected = {
        # The passive device hears everything; a sending socket all but its own socket sends.
        watcher: everything,
        u_sock: everything - {ack["message"]["seq"] for ack in socket_acks["u"]},
        o_sock: everything - {ack["message"]["seq"] for ack in socket_acks["o"]},
    }
    for sock, seqs in expected.items():
        sock.wait_for("message:new", lambda m: m["id"] == marker["id"], timeout=30)
        got = Counter(m["seq"] for m in sock.received("message:new", lambda m: m["session_id"] == session_id))
        assert set(got) == seqs, f"{sock.name}: missing {sorted(seqs - set(got))[:10]}, extra {sorted(set(got) - seqs)[:10]}"
        assert max(got.values()) == 1, f"{sock.name}: duplicates {[s for s, c in got.items() if c > 1][:10]}"

