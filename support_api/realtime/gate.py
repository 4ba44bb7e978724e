"""The packet gate: every Socket.IO packet a client sends passes here before python-socketio
dispatches it, on the connection's own reader, before any handler, database or Redis work.

- **Shape.** A packet that does not decode (bad JSON, nesting too deep, a 5,000-digit
  integer), an event whose name is not a string, an empty event, more than one payload, a
  reserved name (`connect`, `disconnect`, `*`, …) or binary data is malformed. With an ack id
  it is acked `validation_error`; without one (nothing to answer) the connection is closed as
  a protocol violation. A second CONNECT on a connected namespace is a violation too (it would
  run the connect handler again). Events the server does not know are acked `unknown_event`.
- **Rate.** Every client event counts against its user's `SUPPORT_API_RATE_LIMIT_EVENTS`
  (sliding window counter, in this process's memory: no round trip per event); over it, the event is
  acked `rate_limited` without running. A socket refused more than
  `SUPPORT_API_SOCKET_FLOOD_LIMIT` times is closed with `connection:closing`
  `{code: rate_limited, details: {reason: flood}}`.
- **Pending connections.** At most `SUPPORT_API_MAX_PENDING_PER_IP` Engine.IO connections per
  client address may exist that have not (yet) connected to the namespace with a valid token.
- **Work in progress.** At most `SUPPORT_API_MAX_INFLIGHT_EVENTS` accepted events run at once
  in the process. A connection whose next event finds no free slot waits for one, on its own
  reader: it reads nothing more meanwhile, so its client's packets wait in TCP buffers
  (backpressure) instead of becoming ever more green threads.

Server-initiated closes first send `connection:closing` with an error object (docs/asyncapi.yaml),
then the Socket.IO DISCONNECT, then the transport is closed.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import socketio
from limits import parse
from limits.strategies import SlidingWindowCounterRateLimiter
from socketio import packet as sio_packet

from support_api.config import ConfigError, ProtectionSettings
from support_api.lib import metrics
from support_api.lib.errors import ValidationFailed
from support_api.lib.ratelimit import SweptMemoryStorage
from support_api.realtime import connections

log = logging.getLogger(__name__)

CLOSING_EVENT = "connection:closing"
# Names python-socketio or clients treat specially: never dispatched from a client packet.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "*", "message", "error", "ping", "pong",
                             "newListener", "removeListener", CLOSING_EVENT})
MAX_EVENT_NAME = 64
# The transport is closed this long after `connection:closing` and DISCONNECT were queued, so
# the client reads them before the socket goes.
_CLOSE_GRACE_SECONDS = 0.3


def _error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


def _ack_id(data: str) -> int | None:
    """The ack id of an EVENT packet whose JSON did not decode: `2[<n>-][/nsp,]<id>[...`."""
    if not data.startswith("2"):
        return None
    rest = data[1:]
    if rest.startswith("/"):
        comma = rest.find(",")
        rest = rest[comma + 1:] if comma != -1 else ""
    digits = ""
    for char in rest[:20]:
        if not char.isdigit():
            break
        digits += char
    return int(digits) if digits and len(digits) < 19 else None


class Gate:
    def __init__(self, sio: socketio.Server, settings: ProtectionSettings) -> None:
        self._sio = sio
        self._settings = settings
        try:
            self._event_rate = parse(settings.event_rate)
            self._flood = parse(settings.flood_limit)
        except ValueError as exc:
            raise ConfigError(f"not a limit like '20/second': {exc}") from exc
        # In memory on purpose: per process, no network round trip on a keystroke-rate path.
        # A sliding window *counter* (two counters per key), as lib/ratelimit.py: the moving
        # window keeps a timestamp per event, and the memory storage rescans every one of them
        # on a 10 ms timer — 15 % of the server's CPU at 300 msgs/s (bench/README.md, issue 16).
        self._limiter = SlidingWindowCounterRateLimiter(SweptMemoryStorage())
        self._lock = threading.Lock()
        self._pending: dict[str, str] = {}  # eio sid -> client address, until the namespace connect
        self._pending_by_ip: dict[str, int] = {}
        self._closing: set[str] = set()
        self.known_events: frozenset[str] = frozenset()
        # Unbounded, an overloaded process kept reading and starting handlers, which all
        # competed with the group commit that would finish them: at twice its capacity it
        # committed 40 % fewer messages per second, every one of them seconds late
        # (bench/README.md, "Overload"). Bounded, its rate holds.
        self.slots = FairSlots(settings.max_inflight_events)

    def install(self) -> None:
        """Put the gate in front of python-socketio's own Engine.IO handlers."""
        eio = self._sio.eio
        # The gate runs on the connection's reader itself, not on a new green thread per packet:
        # a flood then costs one loop iteration per packet, not a spawn. An accepted event's
        # handler runs on its own green thread, started by the gate once it has a slot
        # (`_start`), so python-socketio must not start another.
        eio.async_handlers = False
        self._sio.async_handlers = False
        self._sio.packet_class = JsonPacket
        self._dispatch = eio.handlers["message"]
        self._eio_connect = eio.handlers["connect"]
        self._eio_disconnect = eio.handlers["disconnect"]
        eio.on("message", self.on_message)
        eio.on("connect", self.on_eio_connect)
        eio.on("disconnect", self.on_eio_disconnect)
        self.known_events = frozenset(name for name in self._sio.handlers.get("/", {}) if name not in RESERVED_EVENTS)

    def eio_sid(self, sid: str) -> str | None:
        eio_sid: str | None = self._sio.manager.eio_sid_from_sid(sid, "/")
        return eio_sid

    # --- connections not yet authenticated ---------------------------------------------

    def on_eio_connect(self, eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
        ip = str(environ.get("REMOTE_ADDR") or "?")
        with self._lock:
            if self._pending_by_ip.get(ip, 0) >= self._settings.max_pending_per_ip:
                log.warning("refusing a connection: %s has %d unauthenticated connections", ip,
                            self._pending_by_ip[ip])
                return False
            self._pending[eio_sid] = ip
            self._pending_by_ip[ip] = self._pending_by_ip.get(ip, 0) + 1
        return self._eio_connect(eio_sid, environ, *args)

    def authenticated(self, eio_sid: str | None) -> None:
        """The connection's namespace connect succeeded: it no longer counts as pending."""
        if eio_sid is None:
            return
        with self._lock:
            ip = self._pending.pop(eio_sid, None)
            if ip is not None:
                left = self._pending_by_ip.get(ip, 1) - 1
                if left > 0:
                    self._pending_by_ip[ip] = left
                else:
                    self._pending_by_ip.pop(ip, None)

    def on_eio_disconnect(self, eio_sid: str, *args: Any) -> Any:
        self.authenticated(eio_sid)
        with self._lock:
            self._closing.discard(eio_sid)
        return self._eio_disconnect(eio_sid, *args)

    # --- packets -----------------------------------------------------------------------

    def on_message(self, eio_sid: str, data: Any) -> None:
        # A connection whose packets are always already buffered never blocks on a read, so
        # its reader would never let another green thread run: yield once per packet.
        self._sio.sleep(0)
        if eio_sid in self._closing:
            return
        if not isinstance(data, str):
            # No event of this API carries binary data.
            self.violation(eio_sid, "binary_data")
            return
        try:
            pkt = self._sio.packet_class(encoded_packet=data)
        except (ValueError, TypeError, RecursionError, IndexError, KeyError):
            ack_id = _ack_id(data)
            if ack_id is None:
                self.violation(eio_sid, "undecodable")
            else:
                self._ack(eio_sid, None, ack_id, ValidationFailed(
                    "The packet is not valid JSON (or nests too deep, or has a number too long)",
                    {"reason": "undecodable"}).to_dict())
            return
        kind = pkt.packet_type
        if kind == sio_packet.EVENT:
            self._event(eio_sid, pkt)
        elif kind == sio_packet.CONNECT:
            if self._sio.manager.sid_from_eio_sid(eio_sid, pkt.namespace or "/") is not None:
                self.violation(eio_sid, "connect_twice")
                return
            self._dispatch(eio_sid, data)
        elif kind in (sio_packet.DISCONNECT, sio_packet.ACK):
            self._dispatch(eio_sid, data)
        else:
            # Binary events and acks, CONNECT_ERROR and unknown types: never sent by a client of ours.
            self.violation(eio_sid, "packet_type")

    def _event(self, eio_sid: str, pkt: Any) -> None:
        namespace = pkt.namespace or "/"
        sid = self._sio.manager.sid_from_eio_sid(eio_sid, namespace)
        args = pkt.data
        name = args[0] if isinstance(args, list) and args else None
        problem = None
        if not isinstance(name, str) or not name:
            problem = ("event_name", "An event is a list whose first item is its name (a string)")
        elif name in RESERVED_EVENTS or len(name) > MAX_EVENT_NAME:
            problem = ("reserved_event", f"The event name {name[:MAX_EVENT_NAME]!r} cannot be sent by clients")
        elif len(args) > 2:
            problem = ("arguments", "Send exactly one payload object")
        if sid is None:
            # Events before the namespace connect: nothing may run for an unauthenticated socket.
            self.violation(eio_sid, "not_connected")
            return
        if problem is not None:
            if pkt.id is None:
                self.violation(eio_sid, problem[0])
            else:
                self._ack(eio_sid, namespace, pkt.id,
                          ValidationFailed(problem[1], {"reason": problem[0]}).to_dict())
            return
        principal = connections.principal_of(sid)
        if principal is not None and not self._allow(principal.participant_type + ":" + principal.id):
            if pkt.id is not None:
                key = principal.participant_type + ":" + principal.id
                reset = self._limiter.get_window_stats(self._event_rate, "events", key).reset_time
                self._ack(eio_sid, namespace, pkt.id, _error(
                    "rate_limited", "Too many events; slow down",
                    {"kind": "events", "limit": str(self._event_rate),
                     "retry_after": max(1, math.ceil(reset - time.time()))}))
            if not self._limiter.hit(self._flood, "flood", sid):
                log.warning("closing socket %s of %s: it kept flooding past the event limit", sid, principal.id)
                self.close(sid, "rate_limited", "Too many events: the connection is closed",
                           {"reason": "flood", "limit": str(self._event_rate)})
            return
        if name not in self.known_events:
            if pkt.id is not None:
                self._ack(eio_sid, namespace, pkt.id, _error("unknown_event", f"Unknown event {name!r}"))
            return
        self._start(eio_sid, pkt)

    def _start(self, eio_sid: str, pkt: Any) -> None:
        """Run an accepted event's handler on a green thread of its own once a slot is free.
        Refused and malformed packets never wait here: they are answered above without one."""
        if self.slots.acquire():
            metrics.SOCKET_EVENT_WAITS.inc()
        try:
            self._sio.start_background_task(self._handle, eio_sid, pkt)
        except BaseException:
            self.slots.release()
            raise

    def _handle(self, eio_sid: str, pkt: Any) -> None:
        try:
            self._sio._handle_event(eio_sid, pkt.namespace, pkt.id, pkt.data)
        finally:
            self.slots.release()

    def _allow(self, key: str) -> bool:
        return self._limiter.hit(self._event_rate, "events", key)

    def _ack(self, eio_sid: str, namespace: str | None, ack_id: int, error: dict[str, Any]) -> None:
        self._sio._send_packet(eio_sid, self._sio.packet_class(
            sio_packet.ACK, namespace=namespace, id=ack_id, data=[{"ok": False, "error": error}]))

    # --- closing -----------------------------------------------------------------------

    def violation(self, eio_sid: str, reason: str) -> None:
        log.warning("closing connection %s: protocol violation (%s)", eio_sid, reason)
        sid = self._sio.manager.sid_from_eio_sid(eio_sid, "/")
        error = _error("protocol_violation", "The client sent a packet this server does not accept",
                       {"reason": reason})
        self._close(eio_sid, sid, error)

    def close(self, sid: str, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        """Close a socket of this process, telling the client why (`connection:closing`)."""
        eio_sid = self._sio.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is None:
            return
        self._close(eio_sid, sid, _error(code, message, details))

    def _close(self, eio_sid: str, sid: str | None, error: dict[str, Any]) -> None:
        with self._lock:
            if eio_sid in self._closing:
                return
            self._closing.add(eio_sid)
        if sid is not None:
            self._sio._send_packet(eio_sid, self._sio.packet_class(sio_packet.EVENT, namespace="/",
                                                                   data=[CLOSING_EVENT, error]))

        environ = self._sio.environ.get(eio_sid) or {}

        def close_transport() -> None:
            # Client libraries run event handlers on their own threads: a DISCONNECT right
            # behind the event can overtake it, and the client would never see why.
            self._sio.sleep(_CLOSE_GRACE_SECONDS)
            if sid is not None:
                self._sio.disconnect(sid, ignore_queue=True)
            transport = self._sio.eio.sockets.get(eio_sid)
            # A client that floods does not read: Engine.IO's writer then blocks on a full TCP
            # buffer, and a polite close would wait for it forever. Shut the connection down
            # under it and close without waiting.
            _shutdown(environ)
            if transport is not None:
                transport.close(wait=False, abort=True)
                self._sio.eio.sockets.pop(eio_sid, None)

        self._sio.start_background_task(close_transport)


class JsonPacket(sio_packet.Packet):
    """A Socket.IO packet that never carries binary data. No event of this API does, and the
    gate refuses binary packets from clients; python-socketio's own class walks every payload
    it sends looking for bytes (≈ 7 µs for a `message:new`, twice per message: the event and
    the sender's ack). A binary packet type from a client still decodes, and is refused."""

    uses_binary_events = False


class FairSlots:
    """A counting semaphore that serves waiters first come, first served.

    A freed slot is handed to the oldest waiter directly, so a connection that has waited is
    never overtaken by one whose packet just arrived. `threading.Semaphore` (and gevent's, and
    eventlet's) let a newcomer take a freed slot before the woken waiter runs: under overload
    some connections then waited far longer than the rest (p99 and max latency 40 % higher
    than with this class, bench/README.md "Overload")."""

    def __init__(self, slots: int, *, new_event: Callable[[], threading.Event] | None = None) -> None:
        self._slots = slots
        self._free = slots
        self._waiting: deque[threading.Event] = deque()
        self._lock = threading.Lock()
        self._new_event = new_event or threading.Event

    @property
    def busy(self) -> int:
        """Slots taken (`support_api_socket_events_in_progress`)."""
        return self._slots - self._free

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot (`support_api_socket_events_waiting`)."""
        return len(self._waiting)

    def acquire(self) -> bool:
        """Take a slot, waiting for one if none is free; True when it had to wait."""
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return False
            handed = self._new_event()
            self._waiting.append(handed)
        try:
            handed.wait()  # set by release(), which passed its slot on instead of freeing it
        except BaseException:
            # Interrupted (a timeout, a killed green thread): leave the line, or pass on the slot
            # handed over meanwhile. Either left behind would be a slot lost for good.
            with self._lock:
                queued = handed in self._waiting
                if queued:
                    self._waiting.remove(handed)
            if not queued:
                self.release()
            raise
        return True

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._free += 1


def _shutdown(environ: dict[str, Any]) -> None:
    """Shut down the TCP connection of a websocket request (eventlet or gevent)."""
    if (environ.get("HTTP_UPGRADE") or "").lower() != "websocket":
        return  # long-polling: each request is short, nothing holds a connection
    try:
        if "eventlet.input" in environ:
            raw = environ["eventlet.input"].get_socket()
        else:
            stream = environ["wsgi.input"]
            raw = getattr(getattr(stream, "rfile", stream), "raw")._sock
        raw.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError, KeyError):
        pass  # already gone


def install(sio: socketio.Server, settings: ProtectionSettings) -> Gate:
    gate = Gate(sio, settings)
    gate.install()
    return gate


def current_gate() -> Gate:
    from flask import current_app

    gate: Gate = current_app.extensions["support_api_gate"]
    return gate
