"""Prometheus metrics of the real server process on its own port (SUPPORT_API_METRICS_PORT):
after a known scenario, every metric the issue names is there with its labels and the values
the scenario implies."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import ServerProcess, free_port, run_server, wait_until, world_on
from tests.metricsutil import label_sets, scrape, value

REDIS_URL = os.environ.get("SUPPORT_API_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
MNEMONIC = "abandon " * 11 + "about"
MESSAGE_LIMIT = 6


@pytest.fixture(scope="module", params=backends())
def metered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    port = free_port()
    env = {"SUPPORT_API_METRICS_PORT": str(port), "SUPPORT_API_RATE_LIMIT_MESSAGES": f"{MESSAGE_LIMIT}/minute",
           # Only the chats this test opens by hand: no operator takes the queued one.
           "SUPPORT_API_AUTO_ASSIGN": "false"}
    with fresh_database(request.param) as url, \
            run_server(url, tmp_path_factory.mktemp("metrics"), redis_url=REDIS_URL, extra_env=env) as server:
        server.metrics_port = port  # type: ignore[attr-defined]
        yield server


def test_metrics_after_a_known_scenario(metered: ServerProcess, tmp_path: Path) -> None:
    port: int = metered.metrics_port  # type: ignore[attr-defined]
    before = scrape(port)
    assert value(before, "support_api_socket_connections") == 0
    with world_on(metered) as world:
        user = world.user("metered")
        op = world.operator(["funds"], label="metered-op")
        # The user has a phone for pushes, but their app is open on the chat (a socket joined
        # to it): the operator's two replies are queued for it and skipped by the push sender.
        # (Joined, not just connected: a push is skipped for a socket in the session's room. The
        # user's later sends also mark the replies read, but a sender round between the replies
        # and those sends pushed them: this test failed that way about one run in three.)
        response = user.api.request("PUT", "/v1/devices", json={"token": "tok-" + user.id, "platform": "ios",
                                                                "locale": "ja", "app_version": "5.2.0"})
        assert response.status_code == 201
        chat = user.open_session("funds", first="Deposit missing")  # user message 1 (REST)
        op.claim(chat["id"])  # system message "joined"
        u_sock = user.socket()
        o_sock = op.socket()
        u_sock.join(chat["id"])
        o_sock.join(chat["id"])
        assert value(scrape(port), "support_api_socket_connections") == 2

        assert o_sock.send(chat["id"], "Checking")["ok"] is True  # operator message 1 (socket)
        op.post_message(chat["id"], "Found it")  # operator message 2 (REST)
        # A secret is refused by the guard: nothing stored, one block of kind mnemonic.
        refused = u_sock.send(chat["id"], MNEMONIC)
        assert refused["ok"] is False and refused["error"]["code"] == "sensitive_content"
        assert refused["error"]["details"]["kind"] == "mnemonic"
        # The user sends until the message limit refuses them.
        sent, limited = 0, 0
        for n in range(MESSAGE_LIMIT + 2):
            ack = u_sock.send(chat["id"], f"more {n}")
            if ack["ok"]:
                sent += 1
            else:
                assert ack["error"]["code"] == "rate_limited"
                limited += 1
        assert sent >= 1 and limited >= 1
        # Another department's chat waits in its queue.
        world.user("queued").open_session("trading", first="Order stuck")  # user message (REST)

        wait_until(lambda: value(scrape(port), "support_api_push_total", outcome="skipped")
                   - value(before, "support_api_push_total", outcome="skipped") >= 2, timeout=15,
                   what="the push rows of the operator's replies handled")
        after = scrape(port)
        o_sock.close()
        wait_until(lambda: value(scrape(port), "support_api_socket_connections") == 1, what="one socket left")

    delta = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}

    def changed(name: str, **labels: str) -> float:
        return delta.get((name, tuple(sorted(labels.items()))), 0.0)

    # Messages by sender type: 1 + sent + 1 from users, 2 from the operator, 1 system "joined".
    assert changed("support_api_messages_total", sender_type="user") == 2 + sent
    assert changed("support_api_messages_total", sender_type="operator") == 2
    assert changed("support_api_messages_total", sender_type="system") == 1
    assert {tuple(d) for d in label_sets(after, "support_api_messages_total")} == {("sender_type",)}
    # Every one of them was timed from receipt to commit.
    stored = 2 + sent + 2 + 1
    assert changed("support_api_message_store_seconds_count") == stored
    assert 0 < changed("support_api_message_store_seconds_sum") < stored * 5
    assert changed("support_api_message_store_seconds_bucket", le="+Inf") == stored

    assert changed("support_api_guard_blocks_total", kind="mnemonic") == 1
    assert changed("support_api_rate_limited_total", limit="messages") == limited
    assert changed("support_api_push_total", outcome="skipped") == 2
    assert changed("support_api_push_total", outcome="sent") == 0
    assert {tuple(d) for d in label_sets(after, "support_api_push_total")} == {("outcome",)}

    assert value(after, "support_api_queue_waiting", department="trading") == 1
    assert value(after, "support_api_queue_waiting", department="funds") == 0
    assert {d["department"] for d in label_sets(after, "support_api_queue_waiting")} >= {
        "trading", "account", "funds", "system_error", "security", "other"}

    # REST requests by method, route rule (never the raw path) and status.
    assert changed("support_api_http_requests_total", method="POST", route="/v1/sessions", status="201") == 2
    assert changed("support_api_http_requests_total", method="POST", route="/v1/sessions/<session_id>/claim",
                   status="200") == 1
    assert changed("support_api_http_requests_total", method="PUT", route="/v1/devices", status="201") == 1
    assert not [d for d in label_sets(after, "support_api_http_requests_total") if chat["id"] in d["route"]]
    assert changed("support_api_http_request_duration_seconds_count", route="/v1/sessions") == 2
    assert changed("support_api_http_request_duration_seconds_bucket", route="/v1/sessions", le="+Inf") == 2

    # Garbage collection pauses, per generation (how many depends on the allocations: none may
    # have happened yet), as a consistent histogram.
    assert {d["generation"] for d in label_sets(after, "support_api_gc_pause_seconds_count")} == {"0", "1", "2"}
    for generation in "012":
        assert value(after, "support_api_gc_pause_seconds_bucket", generation=generation, le="+Inf") == \
            value(after, "support_api_gc_pause_seconds_count", generation=generation)

    # A path no route matches is counted under one bounded label.
    requests.get(f"{metered.url}/v1/no-such-thing/{time.time_ns()}", timeout=5)
    last = scrape(port)
    assert value(last, "support_api_http_requests_total", method="GET", route="unmatched", status="404") >= 1
