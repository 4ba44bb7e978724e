"""Routing through the real server: a waiting user hears the queue move, an operator coming
online takes the queue and joins with a system message, and two processes on one database
(Redis fan-out) never give one chat twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dbutil import backends
from tests.e2e.conftest import ServerProcess, World, two_processes, world_on
from tests.e2e.test_multiprocess_redis import REDIS_URL, _redis_problem


def _in(session_id: str) -> Any:
    return lambda data: data.get("session_id", data.get("id")) == session_id


def test_waiting_user_hears_the_queue_move_and_the_operator_join(world: World) -> None:
    first, second = world.user("first"), world.user("second")
    sato = world.operator(["funds"], label="sato")
    s1 = first.open_session("funds", first="入金が反映されません")["id"]
    opened = second.open_session("funds")
    s2 = opened["id"]
    assert (opened["status"], opened["queue_position"], opened["estimated_wait_seconds"]) == ("waiting", 2, None)
    phone = second.socket(label="second")

    sato.claim(s1)  # a manual claim moves the queue
    moved = phone.wait_for("queue:updated", _in(s2))[-1]
    assert moved["queue_position"] == 1
    assert isinstance(moved["estimated_wait_seconds"], int | type(None))

    # Coming online (with a socket, so presence keeps them online) takes the queue's head.
    op_sock = sato.socket(label="sato")
    response = sato.api.request("PUT", "/v1/operators/me/status", json={"status": "online"})
    assert response.status_code == 200 and response.json()["status"] == "online"
    assert phone.wait_for("session:updated", lambda s: s["id"] == s2 and s["status"] == "active")
    joined = phone.wait_for("message:new", _in(s2))[-1]
    assert (joined["sender"]["type"], joined["body"]) == ("system", "Sato joined")
    listed = sato.api.get("/v1/operators").json()["items"]
    assert [(o["id"], o["status"], o["load"]) for o in listed if o["id"] == sato.id] == [(sato.id, "online", 2)]
    op_sock.close()


@pytest.fixture(scope="module", params=backends())
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess] | None]:
    if _redis_problem():
        yield None
        return
    limits = {"SUPPORT_API_RATE_LIMIT_SESSIONS": "1000/hour", "SUPPORT_API_OPERATOR_CAPACITY": "4"}
    with two_processes(request.param, tmp_path_factory.mktemp("routing-cluster"), REDIS_URL, limits) as pair:
        yield pair


def test_two_processes_never_give_one_chat_twice(cluster: tuple[ServerProcess, ServerProcess] | None) -> None:
    problem = _redis_problem()
    if problem or cluster is None:
        pytest.fail(problem or "Redis went away while the test started", pytrace=False)
    a, b = cluster
    with world_on(a, b) as world:
        user = world.user("many")
        chats = [user.open_session("funds")["id"] for _ in range(10)]
        op_a, op_b = world.operator(["funds"], label="opa", server=a), world.operator(["funds"], label="opb", server=b)
        claimer = world.operator(["funds"], label="claimer", server=b)
        socks = [op_a.socket(), op_b.socket()]
        barrier = threading.Barrier(2 + len(chats))
        claims: dict[str, int] = {}
        errors: list[BaseException] = []

        def online(actor: Any) -> None:
            try:
                barrier.wait()
                assert actor.api.request("PUT", "/v1/operators/me/status", json={"status": "online"}).status_code == 200
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        def claim(index: int, sid: str) -> None:
            try:
                api = world.api(claimer.token, server=(a, b)[index % 2])
                barrier.wait()
                claims[sid] = api.post(f"/v1/sessions/{sid}/claim").status_code
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=online, args=(actor,)) for actor in (op_a, op_b)]
        threads += [threading.Thread(target=claim, args=(i, sid)) for i, sid in enumerate(chats)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors

        holders = {sid: user.api.get(f"/v1/sessions/{sid}").json()["operator"]["id"] for sid in chats}
        assert all(status in (200, 409) for status in claims.values())
        assert sorted(sid for sid, code in claims.items() if code == 200) == \
            sorted(sid for sid, op in holders.items() if op == claimer.id)
        for op in (op_a, op_b):
            assert sum(1 for holder in holders.values() if holder == op.id) <= 4
        # Each chat says once who took it, whether a claim or an auto-assignment.
        names = {op.id: op.name for op in (op_a, op_b, claimer)}
        for sid, holder in holders.items():
            system = [m for m in user.history(sid) if m["sender"]["type"] == "system"]
            assert [(m["seq"], m["body"]) for m in system] == [(1, f"{names[holder]} joined")], (sid, holder, system)
        for sock in socks:
            sock.close()
