"""Presence cannot lie after a crash (issue 10): the user's socket is on process B, B is
killed with -9, and a reply on process A a moment later is still pushed — B's entries stop
counting once its heartbeat lapses, and the sender does not trust presence older than the
reply."""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbutil import fresh_database
from tests.e2e.conftest import ServerProcess, free_port, uid, world_on
from tests.e2e.test_multiprocess_redis import REDIS_URL, _redis_problem
from tests.e2e.test_push_e2e import QUIET, claimed_chat, fcm, push_env, push_server, register  # noqa: F401
from tests.fake_fcm import FakeFcm


@pytest.fixture
def database_url() -> Iterator[str]:
    with fresh_database("sqlite") as url:
        yield url


def test_a_reply_right_after_kill_9_of_the_users_process_is_pushed(database_url: str, fcm: FakeFcm,
                                                                     tmp_path: Path) -> None:
    problem = _redis_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    env = push_env(database_url, tmp_path, fcm, secrets.token_urlsafe(32), SUPPORT_API_REDIS_URL=REDIS_URL)
    b = ServerProcess(env, tmp_path / "b.log", free_port())
    try:
        b.wait_ready()
        with push_server(env, tmp_path) as a, world_on(a) as world:
            user, op = world.user(server=a), world.operator(["funds"], server=a)
            token = uid("phone-token")
            register(user, token)
            chat = claimed_chat(user, op)
            sock = world.socket(user.token, name="user@B", server=b).connect()
            sock.join(chat["id"])

            # The control: while B lives, a reply the user sees live is not pushed.
            op.post_message(chat["id"], "seen live")
            sock.wait_for("message:new", lambda m: m["body"] == "seen live")
            time.sleep(4 + QUIET)  # past the sender's re-check
            assert fcm.attempts(token) == []

            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait(10)
            killed_at = time.monotonic()
            reply = op.post_message(chat["id"], "after the crash")
            [send] = fcm.wait_for(1, token, timeout=30)
            took = time.monotonic() - killed_at
            assert send.data["message_id"] == reply["id"]
            # Heartbeats expire after 6 s; presence entries used to count for 90 s.
            assert took < 20, f"pushed {took:.1f} s after the crash"
            time.sleep(QUIET)
            assert len(fcm.attempts(token)) == 1
    finally:
        b.stop()
