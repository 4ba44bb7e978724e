"""Rate limits hold across server processes: both count in Redis, over REST and Socket.IO."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dbutil import backends
from tests.e2e.conftest import ServerProcess, two_processes, world_on
from tests.e2e.test_multiprocess_redis import REDIS_URL, _redis_problem

LIMITS = {"SUPPORT_API_RATE_LIMIT_MESSAGES": "4/minute"}


@pytest.fixture(scope="module", params=backends())
def limited_cluster(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess] | None]:
    if _redis_problem():
        yield None
        return
    with two_processes(request.param, tmp_path_factory.mktemp("limited"), REDIS_URL, LIMITS) as pair:
        yield pair


def test_one_message_budget_across_two_processes(limited_cluster: tuple[ServerProcess, ServerProcess] | None) -> None:
    problem = _redis_problem()
    if problem or limited_cluster is None:
        pytest.fail(problem or "Redis went away while the test started", pytrace=False)
    a, b = limited_cluster
    with world_on(a, b) as world:
        user_a = world.user("thrifty", server=a)
        session = user_a.open_session("trading")
        sock_b = world.socket(user_a.token, name="thrifty@B", server=b).connect()
        rest_b = world.api(user_a.token, server=b)

        user_a.post_message(session["id"], "one")
        user_a.post_message(session["id"], "two")
        assert sock_b.send(session["id"], "three")["ok"] is True
        assert rest_b.post(f"/v1/sessions/{session['id']}/messages",
                           json={"client_msg_id": "four", "body": "four"}).status_code == 201
        # The fifth in the minute is refused by whichever process it reaches.
        refused = user_a.post_message(session["id"], "five", expect=429)
        assert refused["error"]["code"] == "rate_limited"
        ack = sock_b.send(session["id"], "six")
        assert ack["ok"] is False and ack["error"]["code"] == "rate_limited" and ack["error"]["details"]["retry_after"] >= 1
        assert [m["body"] for m in user_a.history(session["id"])] == ["one", "two", "three", "four"]
        # Someone else still has their own budget.
        other = world.user("other", server=b)
        other_session = other.open_session("trading")
        other.post_message(other_session["id"], "hello")
