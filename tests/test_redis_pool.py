"""lib/redis_pool.py: with every connection of the pool busy, a publish waits for one instead of
failing. A failed publish made python-socketio's Redis manager reconnect and replace the pub/sub
connection its listener reads, and messages from other processes were lost (issue 16: found by
bench/load.py --server-procs 2)."""

from __future__ import annotations

import os
import threading
import time

import redis

from support_api.lib import redis_pool
from support_api.realtime.revocation import make_manager

REDIS_URL = os.environ.get("SUPPORT_API_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


def test_the_message_queue_publishes_after_waiting_for_a_busy_pool() -> None:
    manager = make_manager(REDIS_URL)
    manager._redis_connect()  # type: ignore[attr-defined]
    client: redis.Redis = manager.redis  # type: ignore[attr-defined]
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe("pool-test")
    pool = client.connection_pool
    # Every connection taken (the listener holds one), as by a burst of greenlets publishing.
    held = [pool.get_connection() for _ in range(pool.max_connections - 1)]
    outcome: dict[str, object] = {}

    def publish() -> None:
        try:
            outcome["receivers"] = client.publish("pool-test", "hello")
        except redis.RedisError as exc:  # the default pool raised "Too many connections" here
            outcome["error"] = exc

    worker = threading.Thread(target=publish)
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive() and not outcome  # waiting, not failed
    pool.release(held.pop())
    worker.join(5)
    assert outcome == {"receivers": 1}
    for connection in held:
        pool.release(connection)
    message = None
    for _ in range(50):
        message = listener.get_message(timeout=0.1)
        if message:
            break
    assert message is not None and message["data"] == b"hello"
    listener.close()
    client.close()


def test_every_client_is_on_a_blocking_pool() -> None:
    assert isinstance(redis_pool.connect(REDIS_URL).connection_pool, redis.BlockingConnectionPool)
