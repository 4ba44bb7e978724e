"""Every Redis client of the server, on a *blocking* connection pool.

redis-py (8.x) gives each client a pool of at most 100 connections and raises "Too many
connections" past that. Under gevent/eventlet hundreds of greenlets use Redis at once (a group
commit wakes up to 64 senders together and each one publishes its `message:new`); past 100,
publishes failed. python-socketio's RedisManager answers a failed publish by reconnecting,
which replaces the pub/sub connection its listener reads: whatever other processes published
meanwhile never reached this process's sockets (bench/load.py --server-procs 2: 273 of 2,400
acknowledged messages never delivered, every socket still connected). A blocking pool makes
the caller wait for a free connection instead (at most `WAIT_SECONDS`, then the usual error).
"""

from __future__ import annotations

from typing import Any

import redis

MAX_CONNECTIONS = 64
WAIT_SECONDS = 5


def pool(url: str, **options: Any) -> redis.BlockingConnectionPool:
    return redis.BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS, timeout=WAIT_SECONDS,
                                                 **options)


def connect(url: str, **options: Any) -> redis.Redis:
    """A client on its own blocking pool; `options` as for `redis.Redis.from_url`."""
    return redis.Redis(connection_pool=pool(url, **options))
