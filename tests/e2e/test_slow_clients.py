"""Slow and oversized clients cannot hold the server (issue 10), on both runtimes: header,
body and idle deadlines, and an over-limit long-polling body answered 413 at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.dbutil import fresh_database
from tests.e2e.conftest import ServerProcess, run_server

TIMEOUTS = {"SUPPORT_API_HEADER_TIMEOUT": "1", "SUPPORT_API_BODY_TIMEOUT": "2", "SUPPORT_API_IDLE_TIMEOUT": "2",
            "SUPPORT_API_MAX_CONNECTIONS": "400"}


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def strict(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with fresh_database("sqlite") as url, \
            run_server(url, tmp_path_factory.mktemp("strict"), async_mode=request.param, extra_env=TIMEOUTS) as srv:
        yield srv


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=15)


def _response(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (or `seconds` pass)."""
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and b"}}" in data:
                break
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closed `sock` (reading and dropping whatever it answered)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for more than {seconds} s") from None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_silent_and_unfinished_headers_are_dropped(strict: ServerProcess) -> None:
    silent = _connect(strict)
    partial = _connect(strict)
    partial.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
    trickle = _connect(strict)
    trickle.sendall(b"GET /v1/health HTTP/1.1\r\n")

    def drip() -> None:
        try:
            for _ in range(20):
                trickle.sendall(b"X")
                time.sleep(0.3)
        except OSError:
            pass

    threading.Thread(target=drip, daemon=True).start()
    for sock in (silent, partial, trickle):
        assert _closed_within(sock, 5) < 5
        sock.close()


def test_idle_keep_alive_connections_are_closed(strict: ServerProcess) -> None:
    sock = _connect(strict)
    sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first[:100]
    assert _closed_within(sock, 6) < 6
    sock.close()


def _answer_to(server: ServerProcess, request: bytes, wait: float) -> tuple[bytes, float]:
    """Send a (partial) request; the server's answer and how long it took."""
    with _connect(server) as sock:
        sock.sendall(request)
        started = time.monotonic()
        answer = _response(sock, wait)
        return answer, time.monotonic() - started


def test_a_body_that_does_not_arrive_in_time_is_answered_408(strict: ServerProcess) -> None:
    answer, took = _answer_to(strict, b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              b"Authorization: Bearer " + strict.token("slowpoke").encode() + b"\r\n"
                              b"Content-Length: 200\r\n\r\n{\"category\":", 8)
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer, answer[:300]
    assert took < 6


def test_an_oversized_polling_body_is_answered_413_at_once(strict: ServerProcess) -> None:
    too_big = strict.settings.max_request_bytes + 1
    answer, took = _answer_to(strict, f"POST /socket.io/?EIO=4&transport=polling&sid=whatever HTTP/1.1\r\nHost: x\r\n"
                              f"Content-Type: text/plain\r\nContent-Length: {too_big}\r\n\r\n".encode() + b"4" * 1000, 5)
    assert answer.startswith(b"HTTP/1.1 413") and b"payload_too_large" in answer, answer[:300]
    assert took < 1.5


def test_health_answers_while_hundreds_of_connections_hang(strict: ServerProcess) -> None:
    hanging = []
    for index in range(300):
        sock = _connect(strict)
        if index % 2:
            sock.sendall(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        else:
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        hanging.append(sock)
    try:
        latencies = []
        with requests.Session() as http:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                started = time.perf_counter()
                assert http.get(f"{strict.url}/v1/health", timeout=10).status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.05)
        # Every hanging connection was dropped by a deadline, freeing its slot.
        for sock in hanging:
            _closed_within(sock, 8)
    finally:
        for sock in hanging:
            sock.close()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"health with 300 hanging connections: p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")
    # Before the deadlines health timed out outright. On this shared 2-core machine single probes
    # stall now and then whatever the server does, so the median carries the target (100 ms) and
    # the worst probe only a bound; bench/README.md has the measured p99.
    assert latencies[len(latencies) // 2] < 0.1 and latencies[-1] < 2.0
