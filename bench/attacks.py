"""Health latency under each attack of issue 10, one short run each against one fresh
`support-api serve` process (eventlet, SQLite) on 127.0.0.1.

    .venv/bin/python bench/attacks.py [--seconds 5] [--async-mode eventlet]

Attacks (each alone, while a prober GETs /v1/health every 20 ms):
- `flood`: one socket sends `session:join` as fast as it can (no ack wait);
- `slow_headers`: 1,000 connections that send half a request and stop;
- `slow_bodies`: 500 POSTs that announce 1,000 bytes and send one;
- `sockets`: one user token opens 300 sockets (the cap closes the oldest);
- `uploads`: 50 concurrent uploads of a 6.75 MP JPEG.
Prints one line per attack: probes, p50, p99, max, failures.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import socket
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import websocket  # noqa: E402
from benchlib import ServerProcess, mint  # noqa: E402


def probe(url: str, stop: threading.Event, out: list[float], failures: list[str]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{url}/v1/health", timeout=15) as response:
                response.read()
            out.append(time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - a failed probe is a result
            failures.append(type(exc).__name__)
        time.sleep(0.02)


def ws_connect(port: int, token: str) -> websocket.WebSocket:
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=10)
    ws.recv()
    ws.send("40" + json.dumps({"token": token}))
    ws.recv()
    return ws


def flood(server: Target, seconds: float) -> None:
    """Sends without waiting for acks; reconnects whenever the server closes the socket."""
    token = mint(server.jwt_secret, "flooder", "user")
    body = '["session:join",{"session_id":"ses_' + "0" * 28 + '"}]'
    deadline = time.monotonic() + seconds
    sent = connections = 0
    while time.monotonic() < deadline:
        try:
            ws = ws_connect(server.port, token)
            connections += 1
            while time.monotonic() < deadline:
                ws.send(f"42{sent}{body}")
                sent += 1
        except Exception:  # noqa: BLE001 - closed by the server as a flood: reconnect, as an attacker would
            time.sleep(0.05)
    print(f"  flood: {sent} events over {connections} connections")


def _hang(server: Target, count: int, head: bytes, seconds: float) -> None:
    socks = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(head)
            socks.append(sock)
        except OSError:
            break
    time.sleep(seconds)
    for sock in socks:
        sock.close()


def slow_headers(server: Target, seconds: float) -> None:
    _hang(server, 1000, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n", seconds)


def slow_bodies(server: Target, seconds: float) -> None:
    _hang(server, 500, b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{", seconds)


def sockets(server: Target, seconds: float) -> None:
    token = mint(server.jwt_secret, "many", "user")
    held = []
    for _ in range(300):
        try:
            held.append(ws_connect(server.port, token))
        except Exception:  # noqa: BLE001
            break
    time.sleep(seconds)
    for ws in held:
        try:
            ws.close(timeout=0.2)
        except Exception:  # noqa: BLE001
            pass


def uploads(server: Target, seconds: float) -> None:
    from PIL import Image

    image = Image.effect_mandelbrot((3000, 2250), (-2, -1.5, 1, 1.5), 100).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    photo = out.getvalue()

    def upload(n: int) -> None:
        boundary = "bench-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(f"{server.url}/v1/attachments", data=body, method="POST", headers={
            "Authorization": f"Bearer {mint(server.jwt_secret, f'up{n}', 'user')}",
            "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=120) as response:
            response.read()

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@dataclass(frozen=True)
class Target:
    url: str
    port: int
    jwt_secret: str


ATTACKS: dict[str, Callable[[Target, float], None]] = {
    "flood": flood, "slow_headers": slow_headers, "slow_bodies": slow_bodies, "sockets": sockets, "uploads": uploads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--async-mode", default="eventlet", choices=["eventlet", "gevent"])
    parser.add_argument("--only", nargs="*", choices=list(ATTACKS))
    args = parser.parse_args()
    for name in args.only or list(ATTACKS):
        with ServerProcess(async_mode=args.async_mode, max_connections=2000) as server:
            latencies: list[float] = []
            failures: list[str] = []
            stop = threading.Event()
            prober = threading.Thread(target=probe, args=(server.url, stop, latencies, failures))
            prober.start()
            started = time.monotonic()
            # In its own process: an attacker loop in this one would hold the GIL against the prober.
            target = Target(server.url, server.port, server.jwt_secret)
            attacker = multiprocessing.Process(target=ATTACKS[name], args=(target, args.seconds))
            attacker.start()
            attacker.join()
            took = time.monotonic() - started
            stop.set()
            prober.join()
            latencies.sort()
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
            median = statistics.median(latencies) if latencies else float("nan")
            print(f"{name:13} {took:5.1f} s  {len(latencies):4d} probes  p50 {median * 1000:6.1f} ms  "
                  f"p99 {p99 * 1000:7.1f} ms  max {(latencies[-1] if latencies else 0) * 1000:7.1f} ms  "
                  f"failed {len(failures)}", flush=True)


if __name__ == "__main__":
    main()
