"""Hold K idle, authenticated Socket.IO connections on one server process and check it still works.

    .venv/bin/python bench/idle_sockets.py --spawn --async-mode eventlet --sockets 5000 --hold 60

While the K sockets are open it measures: how many are connected (client side) and the server's
open file descriptors (server side), the server's RSS before and after (and per connection),
/v1/health latency, and the delivery latency of messages sent both ways in one extra chat.
Only 127.0.0.1 is targeted; everything is bounded by --hold and the connect timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402


# --------------------------------------------------------------------------------------------
# Worker: opens its share of the sockets and holds them
# --------------------------------------------------------------------------------------------


async def worker_async(conn: Any, cfg: dict[str, Any]) -> None:
    http = benchlib.new_http_session()
    clients = [benchlib.new_client(http) for _ in cfg["subs"]]
    disconnects = [0]

    def on_disconnect(*_: Any) -> None:
        disconnects[0] += 1

    for c in clients:
        c.on("disconnect", on_disconnect)

    async def connect(client: Any, sub: str) -> None:
        token = benchlib.mint(cfg["secret"], sub, "user", name=sub)
        await asyncio.wait_for(benchlib.connect_client(client, cfg["url"], token, timeout=cfg["connect_timeout"]),
                               cfg["connect_timeout"])

    t0 = time.monotonic()
    results = await benchlib.gather_limited([connect(c, s) for c, s in zip(clients, cfg["subs"])],
                                            cfg["connect_concurrency"])
    errors: dict[str, int] = {}
    for r in results:
        if isinstance(r, BaseException):
            key = type(r).__name__ + (f": {r}" if str(r) else "")
            errors[key[:120]] = errors.get(key[:120], 0) + 1
    conn.send(("connected", {"connected": sum(1 for c in clients if c.connected), "errors": errors,
                             "seconds": time.monotonic() - t0}))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # "stop"
    conn.send(("final", {"still_connected": sum(1 for c in clients if c.connected), "disconnects": disconnects[0]}))
    await benchlib.gather_limited([c.disconnect() for c in clients if c.connected], 200)
    await http.close()


def worker_main(conn: Any, cfg: dict[str, Any]) -> None:
    benchlib.raise_nofile(cfg["nofile"])
    try:
        asyncio.run(worker_async(conn, cfg))
    except Exception as exc:  # noqa: BLE001 - report to the parent
        import traceback

        conn.send(("error", "".join(traceback.format_exception(exc))))
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Parent: probes while the sockets are held
# --------------------------------------------------------------------------------------------


def health_probe(url: str, n: int = 20) -> dict[str, Any]:
    times = []
    failures = 0
    for _ in range(n):
        t0 = time.monotonic()
        try:
            status, _ = benchlib.http_json("GET", f"{url}/v1/health", timeout=10)
            if status != 200:
                failures += 1
        except OSError:
            failures += 1
        times.append((time.monotonic() - t0) * 1000)
        if failures >= 2:
            break  # the server does not answer: no need to wait 10 s more per request
    times.sort()
    return {"p50_ms": benchlib.percentile(times, 50), "max_ms": times[-1], "failures": failures, "n": len(times)}


async def delivery_probe(url: str, secret: str, tag: str, n: int = 10, timeout: float = 20.0) -> dict[str, Any]:
    """One more user and operator: n messages each way; latency send -> message:new at the other side."""
    user_token = benchlib.mint(secret, f"probe-user-{tag}", "user", name="Probe user")
    op_token = benchlib.mint(secret, f"probe-op-{tag}", "operator", name="Probe operator")
    out: dict[str, Any] = {"sent": 0, "delivered": 0, "latencies_ms": [], "error": None}
    try:
        status, body = await asyncio.to_thread(benchlib.http_json, "POST", f"{url}/v1/sessions", token=user_token,
                                               body={"category": "trading"}, timeout=timeout)
        if status not in (200, 201):
            raise RuntimeError(f"open session: {status} {body}")
        session_id = body["id"]
        status, body = await asyncio.to_thread(benchlib.http_json, "POST", f"{url}/v1/sessions/{session_id}/claim",
                                               token=op_token, timeout=timeout)
        if status != 200:
            raise RuntimeError(f"claim: {status} {body}")
        http = benchlib.new_http_session()
        user, op = benchlib.new_client(http), benchlib.new_client(http)
        arrived: dict[str, asyncio.Future[float]] = {}

        def on_new(data: dict[str, Any]) -> None:
            fut = arrived.get(data.get("client_msg_id", ""))
            if fut is not None and not fut.done():
                fut.set_result(time.monotonic())

        user.on("message:new", on_new)
        op.on("message:new", on_new)
        try:
            await asyncio.wait_for(benchlib.connect_client(user, url, user_token), timeout)
            await asyncio.wait_for(benchlib.connect_client(op, url, op_token), timeout)
            for c in (user, op):
                ack = await c.call("session:join", {"session_id": session_id}, timeout=timeout)
                if not ack.get("ok"):
                    raise RuntimeError(f"join: {ack}")
            loop = asyncio.get_running_loop()
            for i in range(2 * n):
                sender = user if i % 2 == 0 else op
                cmid = f"probe-{tag}-{i}"
                arrived[cmid] = loop.create_future()
                t0 = time.monotonic()
                ack = await sender.call("message:send", {"session_id": session_id, "client_msg_id": cmid,
                                                         "body": f"probe message {i}"}, timeout=timeout)
                out["sent"] += 1
                if not ack.get("ok"):
                    raise RuntimeError(f"send: {ack}")
                try:
                    t1 = await asyncio.wait_for(arrived[cmid], timeout)
                    out["delivered"] += 1
                    out["latencies_ms"].append((t1 - t0) * 1000)
                except asyncio.TimeoutError:
                    pass
        finally:
            for c in (user, op):
                if c.connected:
                    await c.disconnect()
            await http.close()
    except Exception as exc:  # noqa: BLE001 - a failed probe is a result
        out["error"] = f"{type(exc).__name__}: {exc}"
    lat = sorted(out["latencies_ms"])
    out["p50_ms"] = benchlib.percentile(lat, 50) if lat else None
    out["max_ms"] = lat[-1] if lat else None
    out["latencies_ms"] = [round(x, 1) for x in out["latencies_ms"]]
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    nofile = benchlib.raise_nofile(args.sockets + 2048)
    tag = secrets.token_hex(3)
    server: benchlib.ServerProcess | None = None
    source: benchlib.Source | None = None
    if args.spawn:
        source = benchlib.Source(args.source_ref, args.source_dir)
        server = benchlib.ServerProcess(db=args.db, async_mode=args.async_mode, pg_admin_url=args.pg_admin_url,
                                        max_connections=args.max_connections, log_level=args.server_log_level,
                                        source=source.path, tcp_nodelay=args.server_tcp_nodelay, nofile=args.server_nofile,
                                        log_path=Path(args.server_log).resolve() if args.server_log else None,
                                        extra_env=benchlib.parse_env(args.server_env))
        try:
            server.start()
        finally:
            if server.proc is None:
                source.cleanup()
        url, secret, server_pid = server.url, server.jwt_secret, server.pid
        desc = (f"spawned: {args.async_mode}, {args.db}, SUPPORT_API_MAX_CONNECTIONS="
                f"{args.max_connections if args.max_connections is not None else '(default)'}; code: {source.description}; "
                f"scheduling: {args.priority}" + ("; TCP_NODELAY via bench/nodelay_serve.py" if args.server_tcp_nodelay else ""))
    else:
        url, secret, server_pid = benchlib.attach_running(args.url, args.jwt_secret, args.server_pid)
        desc = f"running server at {url}"
    procs: list[Any] = []
    pipes: list[Any] = []
    out: dict[str, Any] = {"server": desc, "target_sockets": args.sockets, "procs": args.procs}
    try:
        sp = psutil.Process(server_pid) if server_pid else None
        if sp is not None:
            out["server_nofile_limit"] = sp.rlimit(psutil.RLIMIT_NOFILE)[0]
            out["rss_before"] = sp.memory_info().rss
            out["fds_before"] = sp.num_fds()
        if args.wait_quiet:
            benchlib.wait_quiet(args.wait_quiet)
        out["health_before"] = health_probe(url, 5)
        ctx = mp.get_context("spawn")
        subs = [f"idle-{tag}-{i}" for i in range(args.sockets)]
        for w in range(args.procs):
            cfg = {"url": url, "secret": secret, "subs": subs[w::args.procs], "nofile": nofile,
                   "connect_concurrency": args.connect_concurrency, "connect_timeout": args.connect_timeout}
            parent_end, child_end = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(child_end, cfg), daemon=True)
            p.start()
            child_end.close()
            procs.append(p)
            pipes.append(parent_end)
        cpu_connect = benchlib.CpuMeter(server_pid, [p.pid for p in procs])
        cpu_connect.start()
        connected = 0
        errors: dict[str, int] = {}
        connect_s = 0.0
        for pipe in pipes:
            if not pipe.poll(args.connect_timeout * (args.sockets / max(1, args.connect_concurrency)) + 120):
                raise RuntimeError("a client process did not finish connecting in time")
            kind, payload = pipe.recv()
            if kind != "connected":
                raise RuntimeError(f"client process failed: {payload}")
            connected += payload["connected"]
            connect_s = max(connect_s, payload["seconds"])
            for k, v in payload["errors"].items():
                errors[k] = errors.get(k, 0) + v
        cpu_connect.stop()
        out.update({"connected": connected, "connect_errors": errors, "connect_s": connect_s,
                    "connect_cpu": cpu_connect.result})
        print(f"connected {connected}/{args.sockets} in {connect_s:.1f} s; errors {errors or 'none'}", flush=True)
        if sp is not None:
            out["fds_connected"] = sp.num_fds()
            out["rss_connected"] = sp.memory_info().rss
        out["health_while_open"] = health_probe(url)
        out["delivery_while_open"] = asyncio.run(delivery_probe(url, secret, tag, n=args.probe_messages))
        print(f"while open: health {out['health_while_open']}, delivery {out['delivery_while_open']}", flush=True)
        cpu_hold = benchlib.CpuMeter(server_pid, [p.pid for p in procs])
        cpu_hold.start()
        sampler = benchlib.Sampler(server_pid, interval=1.0)
        sampler.start()
        time.sleep(args.hold)
        sampler.stop()
        cpu_hold.stop()
        out["hold_cpu"] = cpu_hold.result
        out["rss_peak"] = sampler.peak_rss()
        out["health_end"] = health_probe(url)
        out["delivery_end"] = asyncio.run(delivery_probe(url, secret, tag + "e", n=args.probe_messages))
        if sp is not None:
            out["fds_end"] = sp.num_fds()
            out["rss_end"] = sp.memory_info().rss
        still, disconnects = 0, 0
        for pipe in pipes:
            pipe.send(("stop",))
        for pipe in pipes:
            if not pipe.poll(60):
                raise RuntimeError("a client process did not report")
            kind, payload = pipe.recv()
            if kind != "final":
                raise RuntimeError(f"client process failed: {payload}")
            still += payload["still_connected"]
            disconnects += payload["disconnects"]
        out["still_connected_at_end"] = still
        out["disconnects_during_hold"] = disconnects
        return out
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.terminate()
        if server is not None:
            server.stop()
        if source is not None:
            source.cleanup()


def render(o: dict[str, Any]) -> str:
    mib = benchlib.mib
    k = max(1, o.get("connected", 0))
    lines = [
        f"server      {o['server']}",
        f"sockets     target {o['target_sockets']} over {o['procs']} client process(es); connected {o.get('connected')} "
        f"in {o.get('connect_s', 0):.1f} s; errors {o.get('connect_errors') or 'none'}",
        f"held        still connected after the hold {o.get('still_connected_at_end')}; disconnects during hold "
        f"{o.get('disconnects_during_hold')}",
        f"server fds  before {o.get('fds_before')}, with sockets open {o.get('fds_connected')}, end {o.get('fds_end')} "
        f"(RLIMIT_NOFILE {o.get('server_nofile_limit')})",
        f"server RSS  before {mib(o.get('rss_before', 0))}, connected {mib(o.get('rss_connected', 0))}, peak "
        f"{mib(o.get('rss_peak', 0))}, end {mib(o.get('rss_end', 0))}; "
        f"{(o.get('rss_connected', 0) - o.get('rss_before', 0)) / k / 1024:.1f} KiB per connection",
        f"health      before {fmt_probe(o.get('health_before'))}; open {fmt_probe(o.get('health_while_open'))}; "
        f"end {fmt_probe(o.get('health_end'))}",
        f"delivery    while open {fmt_delivery(o.get('delivery_while_open'))}; end {fmt_delivery(o.get('delivery_end'))}",
    ]
    for name in ("connect_cpu", "hold_cpu"):
        c = o.get(name)
        if c:
            wall = c["wall"] or 1e-9
            lines.append(f"cpu         {name.split('_')[0]} phase {wall:.1f} s: server {100 * c['server'] / wall:.0f}% of a core, "
                         f"generator {100 * c['generator'] / wall:.0f}% ({c['generator']:.1f} CPU-s)")
    return "\n".join(lines)


def fmt_probe(p: dict[str, Any] | None) -> str:
    if not p:
        return "-"
    return f"p50 {p['p50_ms']:.1f} ms max {p['max_ms']:.1f} ms ({p['failures']}/{p['n']} failed)"


def fmt_delivery(d: dict[str, Any] | None) -> str:
    if not d:
        return "-"
    if d.get("error"):
        return f"FAILED {d['error']} ({d['delivered']}/{d['sent']} delivered)"
    slow = sum(1 for x in d.get("latencies_ms", []) if x > 30)
    return (f"{d['delivered']}/{d['sent']} delivered, p50 {d['p50_ms']:.1f} ms max {d['max_ms']:.1f} ms, "
            f"{slow} over 30 ms")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000 (127.0.0.1 only)")
    target.add_argument("--spawn", action="store_true", help="start a server on a fresh database, stop it after")
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--async-mode", choices=["eventlet", "gevent"], default="eventlet")
    p.add_argument("--pg-admin-url", default=benchlib.DEFAULT_PG_ADMIN_URL)
    p.add_argument("--source-ref", metavar="REF", help="with --spawn: run a clean `git archive` snapshot of REF")
    p.add_argument("--source-dir", metavar="DIR",
                   help="with --spawn: run the support_api package found in DIR (e.g. a patched copy, for experiments)")
    p.add_argument("--server-tcp-nodelay", action="store_true",
                   help="experiment, with --spawn: run the server via bench/nodelay_serve.py (TCP_NODELAY on)")
    p.add_argument("--max-connections", type=int, help="with --spawn: SUPPORT_API_MAX_CONNECTIONS for the server")
    p.add_argument("--server-nofile", type=int, metavar="N",
                   help="with --spawn: the server's soft open-file limit (default: inherit this process's, raised)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="with --spawn: extra environment for the server (repeatable). Spawned servers get "
                        "per-sender rate limits far above the benchmark's rates unless overridden here")
    p.add_argument("--server-log", metavar="FILE", help="with --spawn: keep the server's log in FILE")
    p.add_argument("--server-log-level", default="WARNING")
    p.add_argument("--jwt-secret", help="with --url: the server's HS256 secret (default $SUPPORT_API_JWT_SECRET)")
    p.add_argument("--server-pid", type=int)
    p.add_argument("--sockets", type=int, default=5000, help="idle connections to open (default %(default)s)")
    p.add_argument("--hold", type=float, default=60, help="seconds to hold them open (default %(default)s)")
    p.add_argument("--procs", type=int, default=2, help="client processes (default %(default)s)")
    p.add_argument("--connect-concurrency", type=int, default=100, help="concurrent connects per process")
    p.add_argument("--connect-timeout", type=float, default=20, help="per connection, seconds (default %(default)s)")
    p.add_argument("--priority", choices=["rr", "nice", "normal"], default="rr",
                   help="scheduling of this generator, the spawned server and its PostgreSQL backends: rr = SCHED_RR "
                        "real-time (default; root only, else nice), nice = niceness -10, normal. On a shared 2-core "
                        "machine, rr keeps other work from skewing the figures")
    p.add_argument("--wait-quiet", type=float, default=30, metavar="S",
                   help="first wait up to S seconds for the machine to be idle (default %(default)s; 0: don't)")
    p.add_argument("--probe-messages", type=int, default=10,
                   help="messages each way in the delivery probe, sent back-to-back (default %(default)s)")
    p.add_argument("--json", action="store_true", help="also print one line: RESULT {json}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    benchlib.exit_on_sigterm()
    args.priority = benchlib.apply_priority(args.priority)
    if not 1 <= args.sockets <= 20000 or not 0 <= args.hold <= 3600:
        raise SystemExit("bounded: 1..20000 sockets, hold <= 3600 s")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {benchlib.machine()}\n# {benchlib.versions()}", flush=True)
    out = run(args)
    print(render(out), flush=True)
    if args.json:
        print("RESULT " + json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
