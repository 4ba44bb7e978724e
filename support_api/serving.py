"""Running the WSGI server of the chosen runtime, after `cli.serve` has monkey-patched.

We open the listening socket ourselves rather than through `SocketIO.run`, so that:
- it has TCP_NODELAY (accepted sockets inherit it): a small chat frame is not held back
  ~40 ms waiting for the peer's delayed ACK (measured in bench/README.md);
- the open-file limit fits the connection cap: eventlet exits on EMFILE from accept();
- gevent honours `SUPPORT_API_MAX_CONNECTIONS` too (a spawn pool), as eventlet's max_size does.
"""

from __future__ import annotations

import gc
import logging
import resource
import socket
from typing import Any

from flask import Flask

from support_api.config import Settings

log = logging.getLogger(__name__)

# Descriptors beyond the sockets: database and Redis connections, files, the listener.
_SPARE_FDS = 256


def fit_open_file_limit(max_connections: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards what `max_connections` needs (at most the hard
    limit) and return how many connections the limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + _SPARE_FDS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        soft = new_soft
    allowed = max_connections if soft == resource.RLIM_INFINITY else min(max_connections, soft - _SPARE_FDS)
    if allowed < max_connections:
        log.warning("open-file limit %s allows only %s connections (SUPPORT_API_MAX_CONNECTIONS=%s)",
                    soft, allowed, max_connections)
    return max(1, allowed)


def _nodelay(sock: Any) -> Any:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections: the objects built at start-up (app, models, compiled
    statements) are moved out of the collector's sight, and a young collection runs after
    50,000 allocations instead of 700. Under load the default thresholds stopped the whole
    process for collections often enough to double the p99 delivery latency (bench/README.md,
    finding 6); memory stays bounded, since reference counting frees almost everything and
    cycles are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def serve(app: Flask, settings: Settings, host: str, port: int) -> None:
    connections = fit_open_file_limit(settings.max_connections)
    tune_garbage_collector()
    if settings.async_mode == "eventlet":
        import eventlet
        import eventlet.wsgi

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = _nodelay(eventlet.listen((host, port), family=family, backlog=2048))
        # max_size: eventlet's own default would cap open connections at 1,024.
        eventlet.wsgi.server(listener, app, log_output=False, max_size=connections)
    elif settings.async_mode == "gevent":
        from gevent import pywsgi
        from gevent.pool import Pool

        # The socket module is gevent's after monkey-patching: this listener is cooperative.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = _nodelay(socket.create_server((host, port), family=family, backlog=2048))
        # No gevent-websocket installed: websockets come from simple-websocket, as in SocketIO.run.
        pywsgi.WSGIServer(listener, app, log=None, spawn=Pool(connections)).serve_forever()
    else:
        socketio = app.extensions["socketio"]
        socketio.run(app, host=host, port=port, log_output=False, allow_unsafe_werkzeug=True)
