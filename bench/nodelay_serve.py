"""Experiment only: `support-api` with TCP_NODELAY set on the server's listening socket.

Accepted sockets inherit the option on Linux. Neither eventlet's nor gevent's WSGI server sets
it, so a small frame written while an earlier one is still unacknowledged waits for the
peer's delayed ACK (~40 ms). `load.py --server-tcp-nodelay` / `idle_sockets.py
--server-tcp-nodelay` run the server through this wrapper to measure the difference; the
server code itself is untouched.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from support_api import cli

_prepare_runtime = cli._prepare_runtime


def _nodelay(sock: Any) -> Any:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _prepare_with_nodelay(async_mode: str) -> None:
    _prepare_runtime(async_mode)
    if async_mode == "eventlet":
        import eventlet

        listen = eventlet.listen
        eventlet.listen = lambda *a, **k: _nodelay(listen(*a, **k))
    elif async_mode == "gevent":
        from gevent import server

        tcp_listener = server._tcp_listener
        server._tcp_listener = lambda *a, **k: _nodelay(tcp_listener(*a, **k))


cli._prepare_runtime = _prepare_with_nodelay

if __name__ == "__main__":
    sys.exit(cli.main())
