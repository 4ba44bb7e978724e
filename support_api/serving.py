"""Running the WSGI server of the chosen runtime, after `cli.serve` has monkey-patched.

We open the listening socket ourselves rather than through `SocketIO.run`, so that:
- it has TCP_NODELAY (accepted sockets inherit it): a small chat frame is not held back
  ~40 ms waiting for the peer's delayed ACK (measured in bench/README.md);
- the open-file limit fits the connection cap: eventlet exits on EMFILE from accept();
- gevent honours `SUPPORT_API_MAX_CONNECTIONS` too (a spawn pool), as eventlet's max_size does;
- no connection holds a slot for free (issue 10): a new connection must send its request line
  and headers within `SUPPORT_API_HEADER_TIMEOUT`, a kept-alive one its next request within
  `SUPPORT_API_IDLE_TIMEOUT`, and every request its whole body within `SUPPORT_API_BODY_TIMEOUT`
  (lib/http_limits.py); a long-polling POST over `SUPPORT_API_MAX_REQUEST_BYTES` is answered
  413 before its body is read.
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from support_api.config import Settings
from support_api.lib import metrics
from support_api.lib.http_limits import CLOSE_CONNECTION, protect

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
    cycles are still collected. A socket event must leave no cycle at all (app.SupportApiFlask;
    tests/test_socket_handlers.py): ~46 per event made each collection a 40–150 ms pause."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    metrics.watch_garbage_collector()


def _eventlet_protocol(header_timeout: float, idle_timeout: float) -> type:
    import eventlet
    import eventlet.wsgi

    class Protocol(eventlet.wsgi.HttpProtocol):  # type: ignore[misc]
        """Deadlines for the request line and headers (eventlet only has a per-read timeout,
        which a client sending one byte at a time never trips)."""

        _answered = False

        def _read_request_line(self) -> Any:
            limit = idle_timeout if self._answered else header_timeout
            self._answered = True
            with eventlet.Timeout(limit, False):
                return super()._read_request_line()
            return ""  # silent too long: close

        def parse_request(self) -> bool:
            with eventlet.Timeout(header_timeout, False):
                return bool(super().parse_request())
            self.close_connection = 1
            return False

        def get_environ(self, *args: Any) -> Any:
            env = super().get_environ(*args)
            env[CLOSE_CONNECTION] = lambda: setattr(self, "close_connection", 1)
            return env

    return Protocol


def _gevent_handler(header_timeout: float, idle_timeout: float) -> type:
    import gevent
    from gevent import pywsgi

    class Handler(pywsgi.WSGIHandler):  # type: ignore[misc]
        _answered = False

        def read_requestline(self) -> Any:
            limit = idle_timeout if self._answered else header_timeout
            self._answered = True
            with gevent.Timeout(limit, False):
                return super().read_requestline()
            return ""

        def read_request(self, raw_requestline: str) -> Any:
            with gevent.Timeout(header_timeout, False):
                return super().read_request(raw_requestline)
            return False

        def get_environ(self, *args: Any) -> Any:
            env = super().get_environ(*args)
            env[CLOSE_CONNECTION] = self._close_after_response
            return env

        def _close_after_response(self) -> None:
            # gevent reads an unread body to its end after every response, with no deadline:
            # a connection that is closed anyway need not wait for it.
            self.close_connection = True
            # Input._discard returns at once in this state (gevent's own "the socket will be closed").
            self.wsgi_input._chunked_input_error = True

    return Handler


def serve(app: Flask, settings: Settings, host: str, port: int) -> int:
    """Serve until SIGTERM (or SIGINT), then drain (`drain`) and return the exit status:
    0 when everything in flight finished within the grace period, 1 when it had to be cut."""
    connections = fit_open_file_limit(settings.max_connections)
    tune_garbage_collector()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    limits = settings.protection
    if settings.async_mode == "eventlet":
        import eventlet
        import eventlet.wsgi

        listener = _nodelay(eventlet.listen((host, port), family=family, backlog=2048))
        site = protect(app, settings, lambda seconds, exc: eventlet.Timeout(seconds, exc))
        # max_size: eventlet's own default would cap open connections at 1,024. socket_timeout
        # bounds any single read (websockets are pinged every 25 s, so they always hear sooner).
        server = eventlet.spawn(eventlet.wsgi.server, listener, site, log_output=False, max_size=connections,
                                protocol=_eventlet_protocol(limits.header_timeout, limits.idle_timeout),
                                keepalive=limits.idle_timeout, socket_timeout=max(limits.idle_timeout, 60))

        def stop_accepting() -> None:
            # SystemExit ends the accept loop (eventlet.wsgi.server lets the connections in
            # flight finish); closing the listener makes new connections fail at once, so a
            # load balancer sends them to another process instead of into our backlog.
            server.kill(SystemExit)
            listener.close()
    elif settings.async_mode == "gevent":
        import gevent
        from gevent import pywsgi
        from gevent.pool import Pool

        # The socket module is gevent's after monkey-patching: this listener is cooperative.
        listener = _nodelay(socket.create_server((host, port), family=family, backlog=2048))
        site = protect(app, settings, lambda seconds, exc: gevent.Timeout(seconds, exc))
        # No gevent-websocket installed: websockets come from simple-websocket, as in SocketIO.run.
        gserver = pywsgi.WSGIServer(listener, site, log=None, spawn=Pool(connections),
                                    handler_class=_gevent_handler(limits.header_timeout, limits.idle_timeout))
        gserver.start()
        stop_accepting = gserver.close  # closes the listener; handlers in flight go on
    else:
        socketio = app.extensions["socketio"]
        socketio.run(app, host=host, port=port, log_output=False, allow_unsafe_werkzeug=True)
        return 0
    return _run_until_signalled(app, settings, stop_accepting)


def _run_until_signalled(app: Flask, settings: Settings, stop_accepting: Callable[[], None]) -> int:
    socketio = app.extensions["socketio"]
    signalled: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        if signalled:
            # A second signal while draining: the operator wants out now.
            os._exit(1)
        signalled.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # The handler only records the signal (it runs in whichever greenlet was interrupted);
    # this loop, in the main greenlet, notices it and drains.
    while not signalled:
        socketio.sleep(0.2)
    log.info("signal %s: draining (grace period %s s)", signalled[0], settings.shutdown_grace_seconds)
    clean = drain(app, settings, stop_accepting)
    log.info("drained %s; exiting", "cleanly" if clean else "with work cut short by the grace period")
    return 0 if clean else 1


def drain(app: Flask, settings: Settings, stop_accepting: Callable[[], None]) -> bool:
    """Stop this process without losing anything it acknowledged, in this order:
    1. readiness answers 503 (`/v1/health/ready`); after `SUPPORT_API_SHUTDOWN_DELAY_SECONDS`
       (for balancers that poll it) the listener closes: new connections go to another process;
    2. every Socket.IO connection is dropped at the transport level, without a goodbye:
       clients treat it as a network loss and reconnect (through the load balancer, to
       another process) and resume with `session:join` + `after_seq`; a Socket.IO
       "server disconnect" would tell them *not* to reconnect;
    3. REST requests and socket events in flight finish, and the group committer of text
       messages has nothing queued (a send whose ack was lost with its socket is committed,
       and the client's retry with the same `client_msg_id` gets the stored message);
    4. the embedded push sender finishes its round.
    Returns False when the grace period ran out first."""
    from support_api.lib.lifecycle import lifecycle_of

    socketio = app.extensions["socketio"]
    life = lifecycle_of(app)
    deadline = time.monotonic() + settings.shutdown_grace_seconds
    life.draining = True
    if settings.shutdown_delay_seconds:
        socketio.sleep(min(settings.shutdown_delay_seconds, settings.shutdown_grace_seconds / 2))
    stop_accepting()
    engine = socketio.server.eio
    sids = list(engine.sockets)
    for sid in sids:
        eio_socket = engine.sockets.pop(sid, None)
        if eio_socket is not None:
            # abort: no Engine.IO CLOSE packet (that would read as "the server sent me away").
            eio_socket.close(wait=False, abort=True)
    log.info("drain: dropped %d socket(s)", len(sids))
    rt = app.extensions["support_api"]
    committer = rt.db.shared.get("text_sends")
    clean = life.wait(lambda: life.in_flight == 0 and (committer is None or committer.idle), deadline,
                      socketio.sleep)
    worker = app.extensions.get("support_api_push_worker")
    if worker is not None:
        worker.stop()
        clean = life.wait(lambda: not worker.running, deadline, socketio.sleep) and clean
    if not clean:
        log.warning("drain: grace period of %s s over with %d request(s)/event(s) in flight",
                    settings.shutdown_grace_seconds, life.in_flight)
    # Let the transports flush what the last handlers wrote before the process goes.
    socketio.sleep(0.2)
    return clean
