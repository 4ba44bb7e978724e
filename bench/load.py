"""Chat load generator: N users with a session each, M operators who claim them, messages both
ways at a target rate over real Socket.IO websockets, measured at the receiving client.

    .venv/bin/python bench/load.py --spawn --db sqlite --async-mode eventlet --sessions 100
        --operators 10 --rate 500 --duration 30

What it measures (see bench/README.md):
- delivery latency: send time (embedded in the body) -> `message:new` at the other side;
- ack latency: send -> `message:send` ack (the message is committed when the ack is sent);
- sustained acked (= persisted) and delivered messages/s over the send window;
- lost (acked ok, never received by the other side within --grace seconds), duplicates,
  failed acks by error code, sends never acked;
- stalls: deliveries slower than 50 ms grouped by when they were sent, with their acks;
- the server's RSS and the CPU used by the server, PostgreSQL, and this generator.

Only 127.0.0.1 is ever targeted; the run is bounded by --duration and --grace and stops by itself.
Clocks: send and receive times are CLOCK_MONOTONIC, shared by all processes of one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import secrets
import statistics
import string
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402

B36 = string.digits + string.ascii_lowercase
SLOW_NS = 50_000_000  # a delivery slower than this goes into the stall report


def to_b36(n: int) -> str:
    out = []
    while True:
        n, r = divmod(n, 36)
        out.append(B36[r])
        if n == 0:
            return "".join(reversed(out))


# --------------------------------------------------------------------------------------------
# Worker process: owns some operators, their sessions and those sessions' users
# --------------------------------------------------------------------------------------------


class Sent:
    __slots__ = ("expected", "t_send", "ack_t", "ack_ok", "ack_code", "recv", "first_recv", "in_stats")

    def __init__(self, expected: tuple[str, int], t_send: int, in_stats: bool) -> None:
        self.expected = expected
        self.t_send = t_send
        self.ack_t = 0
        self.ack_ok: bool | None = None
        self.ack_code = ""
        self.recv = 0
        self.first_recv = 0
        self.in_stats = in_stats


async def worker_async(conn: Any, cfg: dict[str, Any]) -> None:
    url: str = cfg["url"]
    base_ns: int = cfg["base_ns"]
    tag: str = cfg["tag"]
    http = benchlib.new_http_session()
    sent: dict[str, Sent] = {}
    counters: Counter[str] = Counter()
    latencies_us: list[int] = []
    acked_unreceived = [0]  # acked ok, message:new not yet seen by the other side
    recv_times: list[int] = []
    ack_times: list[int] = []
    ack_lat_us: list[int] = []

    def on_new_for(label: tuple[str, int]) -> Any:
        def on_new(data: dict[str, Any]) -> None:
            now = time.monotonic_ns()
            cmid = data.get("client_msg_id") if isinstance(data, dict) else None
            item = sent.get(cmid) if cmid else None
            if item is None:
                counters["unexpected"] += 1
                return
            if item.expected != label:
                counters["wrong_receiver"] += 1
                return
            item.recv += 1
            if item.recv > 1:
                counters["duplicates"] += 1
                return
            item.first_recv = now
            recv_times.append(now)
            if item.ack_ok:
                acked_unreceived[0] -= 1
            body = data.get("body") or ""
            _, _, stamp = body.rpartition(" t=")
            try:
                t_embedded = base_ns + int(stamp.split()[0], 36) * 1000
            except (ValueError, IndexError):
                counters["unparsable_body"] += 1
                return
            if item.in_stats:
                latencies_us.append((now - t_embedded) // 1000)

        return on_new

    dropped: dict[tuple[str, int], int] = {}  # label -> when its socket was dropped (monotonic ns)

    def on_disconnect_for(label: tuple[str, int]) -> Any:
        def on_disconnect(reason: Any = None, *_: Any) -> None:
            counters["disconnects"] += 1
            counters[f"disconnect_reason:{reason}"] += 1
            dropped.setdefault(label, time.monotonic_ns())

        return on_disconnect

    ops: dict[int, Any] = {}
    for op_index in cfg["operators"]:
        ops[op_index] = benchlib.new_client(http)
        ops[op_index].on("message:new", on_new_for(("o", op_index)))
        ops[op_index].on("disconnect", on_disconnect_for(("o", op_index)))
    users: list[Any] = []
    for s_index, _session in enumerate(cfg["sessions"]):
        client = benchlib.new_client(http)
        client.on("message:new", on_new_for(("u", s_index)))
        client.on("disconnect", on_disconnect_for(("u", s_index)))
        users.append(client)

    t_connect = time.monotonic()
    # With several server processes, each chat's two sides are on different ones (a user on
    # process i mod N, its operator on the next): every message crosses the Redis queue.
    urls: list[str] = cfg["urls"]
    conn_results = await benchlib.gather_limited(
        [benchlib.connect_client(ops[i], urls[(i + 1) % len(urls)], cfg["op_tokens"][i]) for i in ops]
        + [benchlib.connect_client(users[k], urls[s["index"] % len(urls)], s["user_token"])
           for k, s in enumerate(cfg["sessions"])],
        cfg["connect_concurrency"])
    connect_errors = [repr(r) for r in conn_results if isinstance(r, BaseException)]
    connect_s = time.monotonic() - t_connect

    async def join(client: Any, session_id: str) -> bool:
        ack = await client.call("session:join", {"session_id": session_id, "after_seq": 0}, timeout=30)
        return bool(isinstance(ack, dict) and ack.get("ok"))

    joins = await benchlib.gather_limited(
        [join(users[k], s["id"]) for k, s in enumerate(cfg["sessions"])]
        + [join(ops[s["op"]], s["id"]) for s in cfg["sessions"]], cfg["connect_concurrency"])
    join_failures = sum(1 for j in joins if j is not True)

    conn.send(("ready", {"connected": sum(1 for c in [*ops.values(), *users] if c.connected),
                         "connect_errors": connect_errors[:5], "connect_error_count": len(connect_errors),
                         "join_failures": join_failures, "connect_s": connect_s}))
    loop = asyncio.get_running_loop()
    message = await loop.run_in_executor(None, conn.recv)
    if message[0] != "go":
        await _close_all([*ops.values(), *users], http)
        return
    start_ns: int = message[1]
    if cfg.get("client_gc_off"):
        # The generator's own collections pause its event loop: every send and receive of the
        # moment looks slow (a stall every ~2.5 s at 1,000 msgs/s). Not the server's doing.
        gc.collect()
        gc.freeze()
        gc.disable()
    duration: float = cfg["duration"]
    rate: float = cfg["rate"]
    warmup_ns = int(cfg["warmup"] * 1e9)
    total = int(duration * rate)
    period_ns = 1e9 / rate if rate > 0 else 0
    padding = cfg["padding"]
    # (session index, direction) in send order: each session alternates user -> operator -> user ...
    sessions = cfg["sessions"]
    turn = [0] * len(sessions)
    max_lag_ns = 0
    inflight_cap = cfg["max_inflight"]
    inflight = [0]  # sent, not yet acked

    def on_ack_for(item: Sent) -> Any:
        def on_ack(ack: Any = None, *_: Any) -> None:
            now = time.monotonic_ns()
            inflight[0] -= 1
            item.ack_t = now
            if isinstance(ack, dict) and ack.get("ok"):
                item.ack_ok = True
                ack_times.append(now)
                if item.recv == 0:
                    acked_unreceived[0] += 1
                if item.in_stats:
                    ack_lat_us.append((now - item.t_send) // 1000)
            else:
                item.ack_ok = False
                err = ack.get("error", {}) if isinstance(ack, dict) else {}
                item.ack_code = str(err.get("code") if isinstance(err, dict) else ack)
                counters[f"ack_error:{item.ack_code}"] += 1

        return on_ack

    await asyncio.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
    k = 0
    while k < total and sessions:
        now = time.monotonic_ns()
        due = min(total, int((now - start_ns) / period_ns) + 1)
        while k < due:
            scheduled = start_ns + int(k * period_ns)
            s_index = k % len(sessions)
            session = sessions[s_index]
            from_user = turn[s_index] % 2 == 0
            turn[s_index] += 1
            if inflight[0] >= inflight_cap:
                counters["skipped_inflight_cap"] += 1
                k += 1
                continue
            cmid = str(uuid.uuid4()) if cfg["uuid_ids"] else f"{tag}-{cfg['worker']}-{k}"
            t_send = time.monotonic_ns()
            lag = t_send - scheduled
            if lag > max_lag_ns:
                max_lag_ns = lag
            expected = ("o", session["op"]) if from_user else ("u", s_index)
            item = Sent(expected, t_send, t_send - start_ns >= warmup_ns)
            sent[cmid] = item
            body = f"bench {'user' if from_user else 'operator'} message{padding} t={to_b36((t_send - base_ns) // 1000)}"
            client = users[s_index] if from_user else ops[session["op"]]
            inflight[0] += 1
            try:
                await client.emit("message:send", {"session_id": session["id"], "client_msg_id": cmid, "body": body},
                                  callback=on_ack_for(item))
            except Exception as exc:  # noqa: BLE001 - a dead socket is a figure, not a crash
                counters[f"emit_error:{type(exc).__name__}"] += 1
                item.ack_ok = False
                item.ack_code = "emit_error"
                inflight[0] -= 1
            k += 1
        next_ns = start_ns + int(k * period_ns)
        await asyncio.sleep(max(0.0005, (next_ns - time.monotonic_ns()) / 1e9))
    send_end_ns = time.monotonic_ns()

    # Grace: wait for outstanding acks and deliveries until none is pending, or nothing more
    # arrived for cfg["grace"] seconds (a backlogged server still draining keeps us waiting),
    # at most cfg["grace_max"] seconds.
    hard_deadline = time.monotonic() + cfg["grace_max"]
    progress, last_progress = -1, time.monotonic()
    while time.monotonic() < hard_deadline:
        if inflight[0] + acked_unreceived[0] <= 0:
            break
        now_progress = len(recv_times) + len(ack_times)
        if now_progress != progress:
            progress, last_progress = now_progress, time.monotonic()
        elif time.monotonic() - last_progress > cfg["grace"]:
            break
        await asyncio.sleep(0.05)

    lost_examples: list[str] = []
    for cmid, it in sent.items():
        if it.ack_ok is None:
            counters["no_ack"] += 1
        elif it.ack_ok:
            counters["acked_ok"] += 1
            if it.recv == 0:
                if it.expected in dropped:
                    # The receiver's socket was dropped: the message is stored, and a client
                    # that reconnects gets it from session:join after_seq; not a live delivery.
                    counters["undelivered_receiver_dropped"] += 1
                else:
                    counters["lost"] += 1
                    if len(lost_examples) < 5:
                        lost_examples.append(cmid)
        else:
            counters["ack_failed"] += 1
    counters["sent"] = len(sent)
    counters["delivered"] = sum(1 for it in sent.values() if it.recv > 0)
    # The slow ones, for the stall report: (send time after start, delivery, ack) in µs. Sender
    # and receiver are in this process: one clock.
    slow = [((it.t_send - start_ns) // 1000, (it.first_recv - it.t_send) // 1000,
             (it.ack_t - it.t_send) // 1000 if it.ack_t else None)
            for it in sent.values() if it.in_stats and it.first_recv and it.first_recv - it.t_send > SLOW_NS]
    still_connected = sum(1 for c in [*ops.values(), *users] if c.connected)
    conn.send(("result", {
        "counters": dict(counters), "latencies_us": latencies_us, "ack_lat_us": ack_lat_us,
        "recv_times": recv_times, "ack_times": ack_times, "max_lag_ms": max_lag_ns / 1e6,
        "send_end_ns": send_end_ns, "lost_examples": lost_examples, "still_connected": still_connected,
        "dropped_at_ns": sorted(dropped.values()), "slow": slow,
    }))
    await _close_all([*ops.values(), *users], http)


async def _close_all(clients: list[Any], http: Any) -> None:
    await benchlib.gather_limited([c.disconnect() for c in clients if c.connected], 100)
    await http.close()


def worker_main(conn: Any, cfg: dict[str, Any]) -> None:
    benchlib.raise_nofile(cfg["nofile"])
    try:
        asyncio.run(worker_async(conn, cfg))
    except Exception as exc:  # noqa: BLE001 - report to the parent instead of dying silently
        import traceback

        conn.send(("error", "".join(traceback.format_exception(exc))))
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Parent: server, set-up over REST, workers, report
# --------------------------------------------------------------------------------------------


def setup_sessions(url: str, secret: str, n_sessions: int, n_ops: int, tag: str) -> tuple[list[dict[str, Any]], list[str]]:
    op_tokens = [benchlib.mint(secret, f"bench-op-{tag}-{i}", "operator", name=f"Operator {i}") for i in range(n_ops)]

    def create(i: int) -> dict[str, Any]:
        token = benchlib.mint(secret, f"bench-user-{tag}-{i}", "user", name=f"User {i}")
        status, body = benchlib.http_json("POST", f"{url}/v1/sessions", token=token, body={"category": "trading"})
        if status not in (200, 201):
            raise RuntimeError(f"POST /v1/sessions -> {status} {body}")
        op = i % n_ops
        status, claimed = benchlib.http_json("POST", f"{url}/v1/sessions/{body['id']}/claim", token=op_tokens[op])
        if status != 200:
            raise RuntimeError(f"claim -> {status} {claimed}")
        return {"id": body["id"], "user_token": token, "op": op, "index": i}

    with ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(create, range(n_sessions)))
    return sessions, op_tokens


def ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def summarize(args: argparse.Namespace, results: list[dict[str, Any]], start_ns: int, *, db_count: int | None,
              sampler: benchlib.Sampler, cpu: benchlib.CpuMeter, server_desc: str, ready: list[dict[str, Any]],
              n_sockets: int) -> dict[str, Any]:
    counters: Counter[str] = Counter()
    lat: list[int] = []
    ack_lat: list[int] = []
    recv_times: list[int] = []
    ack_times: list[int] = []
    lost_examples: list[str] = []
    for r in results:
        counters.update(r["counters"])
        lat += r["latencies_us"]
        ack_lat += r["ack_lat_us"]
        recv_times += r["recv_times"]
        ack_times += r["ack_times"]
        lost_examples += r["lost_examples"]
    lat.sort()
    ack_lat.sort()
    win_start = start_ns + int(args.warmup * 1e9)
    win_end = start_ns + int(args.duration * 1e9)
    window_s = max(1e-9, (win_end - win_start) / 1e9)
    delivered_in_window = sum(1 for t in recv_times if win_start <= t < win_end)
    acked_in_window = sum(1 for t in ack_times if win_start <= t < win_end)
    per_second = Counter(int((t - start_ns) // 1_000_000_000) for t in recv_times if win_start <= t < win_end)
    buckets = [per_second.get(s, 0) for s in range(int(args.warmup), int(args.duration))]
    last_recv = max(recv_times, default=start_ns)
    rss = [r for _, r in sampler.rss]
    summary = {
        "server": server_desc, "client_msg_id": args.client_msg_id, "sessions": args.sessions, "operators": args.operators, "sockets": n_sockets,
        "target_rate": args.rate, "duration_s": args.duration, "warmup_s": args.warmup, "procs": args.procs,
        "sent": counters["sent"], "acked_ok": counters["acked_ok"], "persisted_in_db": db_count,
        "ack_failed": counters["ack_failed"], "no_ack": counters["no_ack"],
        "ack_errors": {k.split(":", 1)[1]: v for k, v in counters.items() if k.startswith(("ack_error:", "emit_error:"))},
        "skipped_inflight_cap": counters["skipped_inflight_cap"],
        "delivered": counters["delivered"], "lost": counters["lost"], "duplicates": counters["duplicates"],
        "undelivered_receiver_dropped": counters["undelivered_receiver_dropped"],
        "disconnect_reasons": {k.split(":", 1)[1]: v for k, v in counters.items() if k.startswith("disconnect_reason:")},
        "first_drop_s": (min((t for r in results for t in r["dropped_at_ns"]), default=None) or start_ns) / 1e9
        - start_ns / 1e9 if any(r["dropped_at_ns"] for r in results) else None,
        "wrong_receiver": counters["wrong_receiver"], "unexpected": counters["unexpected"],
        "disconnects": counters["disconnects"],
        "acked_per_s": acked_in_window / window_s, "delivered_per_s": delivered_in_window / window_s,
        "delivered_per_s_min": min(buckets, default=0), "delivered_per_s_median": statistics.median(buckets) if buckets else 0,
        "drain_s_after_send": max(0.0, (last_recv - win_end) / 1e9),
        "lat_ms": {q: percentile_ms(lat, q) for q in (50, 95, 99)} | {"max": (lat[-1] / 1000) if lat else None, "n": len(lat)},
        "ack_ms": {q: percentile_ms(ack_lat, q) for q in (50, 95, 99)} | {"max": (ack_lat[-1] / 1000) if ack_lat else None},
        "generator_max_lag_ms": max((r["max_lag_ms"] for r in results), default=0.0),
        "rss_start": rss[0] if rss else None, "rss_peak": max(rss, default=None), "rss_end": rss[-1] if rss else None,
        "cpu": cpu.result, "lost_examples": lost_examples[:5],
        "still_connected": sum(r["still_connected"] for r in results),
        "connect_s": max((r["connect_s"] for r in ready), default=0.0),
        "stalls": stall_episodes(sorted(item for r in results for item in r["slow"])),
    }
    p99 = summary["lat_ms"][99]
    summary["meets_target"] = bool(
        summary["acked_per_s"] >= 1000 * 0.98 and p99 == p99 and p99 < 100 and summary["lost"] == 0
        and summary["no_ack"] == 0 and summary["ack_failed"] == 0 and summary["undelivered_receiver_dropped"] == 0
        and summary["disconnects"] == 0)
    return summary


def stall_episodes(slow: list[tuple[int, int, int | None]]) -> list[dict[str, Any]]:
    """Slow deliveries grouped by when they were sent (a gap of more than 200 ms starts a new
    episode), worst first: a process-wide stall shows as many messages in one episode, with
    slow acks too when the senders' own path stalled; scattered single slow deliveries
    are queueing or the receiving side."""
    episodes: list[dict[str, Any]] = []
    for t_us, lat_us, ack_us in slow:
        if not episodes or t_us - episodes[-1]["last_us"] > 200_000:
            episodes.append({"at_s": t_us / 1e6, "last_us": t_us, "n": 0, "max_ms": 0.0, "max_ack_ms": 0.0})
        episode = episodes[-1]
        episode["last_us"] = t_us
        episode["n"] += 1
        episode["max_ms"] = max(episode["max_ms"], lat_us / 1000)
        episode["max_ack_ms"] = max(episode["max_ack_ms"], (ack_us or 0) / 1000)
    for episode in episodes:
        episode["span_ms"] = (episode.pop("last_us") - episode["at_s"] * 1e6) / 1000
    return sorted(episodes, key=lambda e: -e["max_ms"])


def percentile_ms(sorted_us: list[int], q: float) -> float | None:
    return benchlib.percentile(sorted_us, q) / 1000 if sorted_us else None


def render(s: dict[str, Any]) -> str:
    def f(v: Any) -> str:
        return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))

    cpu = s["cpu"]
    wall = cpu.get("wall") or 1e-9
    ncpu = os.cpu_count() or 1
    lines = [
        f"server      {s['server']}",
        f"load        {s['sessions']} sessions, {s['operators']} operators = {s['sockets']} sockets over "
        f"{s['procs']} client process(es); target {s['target_rate']} msg/s for {s['duration_s']} s "
        f"(first {s['warmup_s']} s = warm-up, kept out of rates and latencies); client_msg_id: "
        f"{s.get('client_msg_id', 'counter')}",
        f"sent        {s['sent']}  acked ok {s['acked_ok']}  persisted in DB {f(s['persisted_in_db'])}  "
        f"failed acks {s['ack_failed']} {s['ack_errors'] or ''}  never acked {s['no_ack']}  "
        f"skipped (in-flight cap) {s['skipped_inflight_cap']}",
        f"delivered   {s['delivered']}  LOST {s['lost']}  duplicates {s['duplicates']}  wrong receiver "
        f"{s['wrong_receiver']}  unexpected {s['unexpected']}",
        f"sockets     disconnects {s['disconnects']} {s['disconnect_reasons'] or ''}"
        + (f" (first {s['first_drop_s']:.1f} s after start)" if s["first_drop_s"] is not None else "")
        + f"; still connected at end {s['still_connected']}/{s['sockets']}; undelivered because the receiver's "
        f"socket was dropped {s['undelivered_receiver_dropped']}",
        f"throughput  acked (persisted) {s['acked_per_s']:.1f}/s, delivered {s['delivered_per_s']:.1f}/s "
        f"(per-second min {s['delivered_per_s_min']}, median {s['delivered_per_s_median']}); "
        f"last delivery {s['drain_s_after_send']:.2f} s after the send window",
        f"latency     send -> message:new ms: p50 {f(s['lat_ms'][50])}  p95 {f(s['lat_ms'][95])}  "
        f"p99 {f(s['lat_ms'][99])}  max {f(s['lat_ms']['max'])}  (n={s['lat_ms']['n']})",
        f"ack         send -> ack ms: p50 {f(s['ack_ms'][50])}  p95 {f(s['ack_ms'][95])}  p99 {f(s['ack_ms'][99])}  "
        f"max {f(s['ack_ms']['max'])}",
        f"memory      server RSS start {benchlib.mib(s['rss_start'] or 0)}, peak {benchlib.mib(s['rss_peak'] or 0)}, "
        f"end {benchlib.mib(s['rss_end'] or 0)}",
        f"cpu         over the {wall:.1f} s send window: server {100 * cpu.get('server', 0) / wall:.0f}% of a core, "
        f"postgres {100 * cpu.get('postgres', 0) / wall:.0f}%, generator {100 * cpu.get('generator', 0) / wall:.0f}% "
        f"({cpu.get('generator', 0):.1f} CPU-s), everything else {100 * cpu.get('others', 0) / wall:.0f}%, "
        f"machine {100 * cpu.get('machine', 0) / wall / ncpu:.0f}% of {ncpu} cores; "
        f"generator max lag behind schedule {s['generator_max_lag_ms']:.1f} ms",
        f"target      >= 1000 persisted msg/s, p99 < 100 ms, 0 lost: {'MET' if s['meets_target'] else 'NOT MET'}"
        + ("" if s["target_rate"] >= 1000 else " (rate below 1000 by choice)"),
    ]
    if s["ack_errors"].get("rate_limited"):
        lines.append("note        rate_limited acks: the server's per-sender limits (SUPPORT_API_RATE_LIMIT_MESSAGES) "
                     "are below this load; --spawn raises them, a --url server needs them raised")
    if s.get("pg_connections_opened") is not None:
        lines.append(f"postgres    connections opened to the database during the run: {s['pg_connections_opened']}")
    if cpu.get("others", 0) / wall > 0.25:
        lines.append(f"WARNING     other processes used {100 * cpu['others'] / wall:.0f}% of a core during the run "
                     f"(measured processes scheduled: {s.get('priority')}); on 2 cores figures may be skewed")
    if s["stalls"]:
        worst = "; ".join(f"at {e['at_s']:.2f} s: {e['n']} over {e['span_ms']:.0f} ms, up to {e['max_ms']:.0f} ms "
                          f"(acks up to {e['max_ack_ms']:.0f})" for e in s["stalls"][:4])
        lines.append(f"stalls      deliveries over {SLOW_NS // 1_000_000} ms in {len(s['stalls'])} episode(s), "
                     f"{sum(e['n'] for e in s['stalls'])} messages; worst: {worst}")
    if s["lost_examples"]:
        lines.append(f"lost e.g.   {s['lost_examples']}")
    return "\n".join(lines)


def start_py_spy(out: str, pid: int | None, duration: float) -> Any:
    """Sample the server with py-spy for the send window (raw collapsed stacks, for bench/hotspots.py)."""
    import subprocess

    if not pid:
        raise SystemExit("--py-spy needs the server pid")
    return subprocess.Popen([str(benchlib.BIN / "py-spy"), "record", "--pid", str(pid), "--duration",
                             str(max(1, int(duration))), "--rate", "250", "--nonblocking", "--format", "raw",
                             "--output", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(args: argparse.Namespace) -> dict[str, Any]:
    n_sockets = args.sessions + args.operators
    nofile = benchlib.raise_nofile(n_sockets * 2 + 1024)
    tag = secrets.token_hex(3)
    server: benchlib.ServerProcess | None = None
    more: list[benchlib.ServerProcess] = []  # --server-procs beyond the first
    source: benchlib.Source | None = None
    if args.spawn:
        source = benchlib.Source(args.source_ref, args.source_dir)
        server = benchlib.ServerProcess(db=args.db, async_mode=args.async_mode, pg_admin_url=args.pg_admin_url,
                                        max_connections=args.max_connections, log_level=args.server_log_level,
                                        source=source.path, tcp_nodelay=args.server_tcp_nodelay,
                                        log_path=Path(args.server_log).resolve() if args.server_log else None,
                                        extra_env=benchlib.parse_env(args.server_env))
        if args.server_procs > 1:
            server.redis_url = args.redis_url
        try:
            server.start()
            # More processes of the same deployment: one database, one Redis message queue.
            for _ in range(args.server_procs - 1):
                more.append(benchlib.ServerProcess(
                    db=args.db, async_mode=args.async_mode, pg_admin_url=args.pg_admin_url,
                    max_connections=args.max_connections, log_level=args.server_log_level, source=source.path,
                    jwt_secret=server.jwt_secret, redis_url=args.redis_url,
                    shared_database_url=server.database_url, extra_env=benchlib.parse_env(args.server_env),
                    log_path=Path(f"{args.server_log}.{len(more) + 1}").resolve() if args.server_log else None))
                more[-1].start()
        finally:
            if server.proc is None:
                source.cleanup()
        url, secret, server_pid = server.url, server.jwt_secret, server.pid
        urls = [url, *(m.url for m in more)]
        server_desc = (f"spawned: {args.async_mode}, {args.db}, pid {server_pid}, {url}" + (f" + {len(more)} more process(es) on Redis" if more else "") + f"; code: {source.description}; "
                       f"scheduling: {args.priority}" + ("; TCP_NODELAY via bench/nodelay_serve.py"
                                                         if args.server_tcp_nodelay else ""))
    else:
        url, secret, server_pid = benchlib.attach_running(args.url, args.jwt_secret, args.server_pid)
        urls = [url]
        server_desc = f"running server at {url}, pid {server_pid}"
    procs: list[Any] = []
    try:
        benchlib.wait_health(url, 10)
        t0 = time.monotonic()
        if args.wait_quiet:
            benchlib.wait_quiet(args.wait_quiet)
        sessions, op_tokens = setup_sessions(url, secret, args.sessions, args.operators, tag)
        print(f"set-up: {len(sessions)} sessions opened and claimed by {len(op_tokens)} operators in "
              f"{time.monotonic() - t0:.1f} s", flush=True)
        ctx = mp.get_context("spawn")
        base_ns = time.monotonic_ns()
        n_procs = max(1, min(args.procs, args.operators))
        pipes = []
        for w in range(n_procs):
            my_ops = [i for i in range(args.operators) if i % n_procs == w]
            my_sessions = [s for s in sessions if s["op"] in my_ops]
            share = args.rate * len(my_sessions) / max(1, len(sessions))
            cfg = {"url": url, "urls": urls, "base_ns": base_ns, "tag": tag, "worker": w, "operators": my_ops,
                   "op_tokens": {i: op_tokens[i] for i in my_ops}, "sessions": my_sessions, "rate": share,
                   "duration": args.duration, "warmup": args.warmup, "grace": args.grace, "grace_max": args.grace_max,
                   "padding": " " + "x" * args.body_padding if args.body_padding else "",
                   "connect_concurrency": args.connect_concurrency, "max_inflight": args.max_inflight,
                   "nofile": nofile, "client_gc_off": args.client_gc == "off",
                   "uuid_ids": args.client_msg_id == "uuid"}
            parent_end, child_end = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(child_end, cfg), daemon=True)
            p.start()
            child_end.close()
            procs.append(p)
            pipes.append(parent_end)
        ready = []
        for pipe in pipes:
            if not pipe.poll(120):
                raise RuntimeError("a client process did not get ready in 120 s")
            kind, payload = pipe.recv()
            if kind != "ready":
                raise RuntimeError(f"client process failed: {payload}")
            ready.append(payload)
        connected = sum(r["connected"] for r in ready)
        print(f"connected {connected}/{n_sockets} sockets in {max(r['connect_s'] for r in ready):.1f} s; "
              f"join failures {sum(r['join_failures'] for r in ready)}; connect errors "
              f"{sum(r['connect_error_count'] for r in ready)} {[e for r in ready for e in r['connect_errors']][:3]}",
              flush=True)
        sampler = benchlib.Sampler(server_pid)
        sampler.start()
        if server is not None and server.pg_db:
            # The PostgreSQL backends serving our fresh database get the same priority.
            benchlib.prioritise_postgres(server.pg_db, args.priority)
        cpu = benchlib.CpuMeter(server_pid, [p.pid for p in procs], pg_dbname=server.pg_db if server else None,
                                more_servers=[m.pid for m in more])
        start_ns = time.monotonic_ns() + 500_000_000
        for pipe in pipes:
            pipe.send(("go", start_ns))
        time.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
        pg_sessions_start = server.pg_sessions() if server else None
        cpu.start()
        spy = start_py_spy(args.py_spy, server_pid, args.duration) if args.py_spy else None
        time.sleep(args.duration)
        cpu.stop()
        if spy is not None:
            spy.wait(60)
        results = []
        for pipe in pipes:
            if not pipe.poll(args.grace_max + 60):
                raise RuntimeError("a client process did not report in time")
            kind, payload = pipe.recv()
            if kind != "result":
                raise RuntimeError(f"client process failed: {payload}")
            results.append(payload)
        sampler.stop()
        pg_sessions_end = server.pg_sessions() if server else None
        db_count = server.count_messages() if server else None
        summary = summarize(args, results, start_ns, db_count=db_count, sampler=sampler, cpu=cpu,
                            server_desc=server_desc, ready=ready, n_sockets=n_sockets)
        summary["connected_before_run"] = connected
        summary["priority"] = args.priority
        if pg_sessions_start is not None and pg_sessions_end is not None:
            # The statistic is flushed lazily; counts the server's connections opened meanwhile (pool churn).
            summary["pg_connections_opened"] = pg_sessions_end - pg_sessions_start
        return summary
    except BaseException:
        if server is not None:
            tail = server.server_log_tail()
            if tail:
                print("--- server log tail ---\n" + tail, file=sys.stderr)
        raise
    finally:
        for p in procs:
            p.join(15 if sys.exc_info()[0] is None else 1)
            if p.is_alive():
                p.terminate()
        for extra in more:
            extra.stop()  # before the first: it drops the database they share
        if server is not None:
            server.stop()
        if source is not None:
            source.cleanup()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000 (127.0.0.1 only)")
    target.add_argument("--spawn", action="store_true", help="start a server on a fresh database, stop it after")
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite", help="with --spawn (default sqlite)")
    p.add_argument("--async-mode", choices=["eventlet", "gevent"], default="eventlet", help="with --spawn")
    p.add_argument("--server-procs", type=int, default=1,
                   help="with --spawn --db postgresql: this many server processes on one database and one Redis "
                        "(--redis-url); each chat's user and operator on different processes (default 1)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="with --server-procs > 1 (default %(default)s)")
    p.add_argument("--pg-admin-url", default=benchlib.DEFAULT_PG_ADMIN_URL,
                   help="with --spawn --db postgresql: where to CREATE/DROP the fresh database (default %(default)s)")
    p.add_argument("--source-ref", metavar="REF",
                   help="with --spawn: run a clean `git archive` snapshot of REF (e.g. HEAD) instead of the working tree")
    p.add_argument("--source-dir", metavar="DIR",
                   help="with --spawn: run the support_api package found in DIR (e.g. a patched copy, for experiments)")
    p.add_argument("--server-tcp-nodelay", action="store_true",
                   help="experiment, with --spawn: run the server via bench/nodelay_serve.py (TCP_NODELAY on)")
    p.add_argument("--max-connections", type=int, help="with --spawn: SUPPORT_API_MAX_CONNECTIONS for the server")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="with --spawn: extra environment for the server (repeatable). Spawned servers get "
                        "per-sender rate limits far above the benchmark's rates unless overridden here")
    p.add_argument("--server-log", metavar="FILE", help="with --spawn: keep the server's log in FILE")
    p.add_argument("--server-log-level", default="WARNING", help="with --spawn (default %(default)s)")
    p.add_argument("--jwt-secret", help="with --url: the server's HS256 secret (default $SUPPORT_API_JWT_SECRET)")
    p.add_argument("--server-pid", type=int, help="with --url: server pid for RSS/CPU (default: who listens on the port)")
    p.add_argument("--sessions", type=int, default=100, help="users, one session each (default %(default)s)")
    p.add_argument("--operators", type=int, default=10, help="operators; session i goes to operator i %% M (default %(default)s)")
    p.add_argument("--rate", type=float, default=200, help="aggregate target messages/s (default %(default)s)")
    p.add_argument("--duration", type=float, default=30, help="seconds of sending (default %(default)s)")
    p.add_argument("--warmup", type=float, default=2, help="first seconds kept out of rates and latencies (default %(default)s)")
    p.add_argument("--grace", type=float, default=10,
                   help="after sending, wait for late acks/deliveries until none arrives for this many seconds "
                        "(default %(default)s)")
    p.add_argument("--grace-max", type=float, default=120, help="... but at most this long (default %(default)s)")
    p.add_argument("--procs", type=int, default=2, help="client processes (default %(default)s)")
    p.add_argument("--client-msg-id", choices=["uuid", "counter"], default="uuid",
                   help="uuid: a random UUID per message, as the apps send (default); counter: '<run>-<worker>-<n>', "
                        "which the server screens with the whole guard (services/guard.screen_id), ~5 %% of its CPU")
    p.add_argument("--body-padding", type=int, default=40, help="extra body characters (default %(default)s)")
    p.add_argument("--connect-concurrency", type=int, default=50, help="concurrent connects per process")
    p.add_argument("--max-inflight", type=int, default=20000, help="per process: stop sending while more are unacked")
    p.add_argument("--py-spy", metavar="FILE", help="profile the server with py-spy during the send window (raw stacks)")
    p.add_argument("--priority", choices=["rr", "nice", "normal"], default="rr",
                   help="scheduling of this generator, the spawned server and its PostgreSQL backends: rr = SCHED_RR "
                        "real-time (default; root only, else nice), nice = niceness -10, normal. On a shared 2-core "
                        "machine, rr keeps other work from skewing the figures")
    p.add_argument("--wait-quiet", type=float, default=30, metavar="S",
                   help="first wait up to S seconds for the machine to be idle (default %(default)s; 0: don't)")
    p.add_argument("--client-gc", choices=["on", "off"], default="off",
                   help="the generator's garbage collector during the send window: off (default; its pauses "
                        "stalled every send and receive of the moment, and showed as server latency) or on")
    p.add_argument("--json", action="store_true", help="also print one line: RESULT {json summary}")
    p.add_argument("--shape", choices=["shared", "pairs"], default="shared",
                   help="shared: --sessions chats over --operators operators (default); pairs: each chat between one "
                        "user and its own operator (--operators = --sessions), ~64-character bodies, rate limits off "
                        "(with --spawn)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    benchlib.exit_on_sigterm()
    if args.server_procs > 1 and not (args.spawn and args.db == "postgresql"):
        raise SystemExit("--server-procs > 1 needs --spawn --db postgresql (the processes share one database)")
    args.priority = benchlib.apply_priority(args.priority)
    if args.shape == "pairs":
        # Issue 16's shape: 100 chats, each user with its own operator, both sides sending.
        args.operators = args.sessions
        args.body_padding = 30  # "bench user message" + padding + " t=…": about 64 characters
        args.server_env.append("SUPPORT_API_RATE_LIMITS=off")
    if args.sessions < 1 or args.operators < 1 or args.rate <= 0 or args.duration <= 0:
        raise SystemExit("--sessions, --operators, --rate and --duration must be positive")
    if args.duration > 3600 or args.sessions + args.operators > 20000:
        raise SystemExit("bounded: at most 3600 s and 20000 sockets")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {benchlib.machine()}\n# {benchlib.versions()}", flush=True)
    summary = run(args)
    print(render(summary), flush=True)
    if args.json:
        print("RESULT " + json.dumps(summary, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
