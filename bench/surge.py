"""Incident surge: many users open chats in an affected category while a few operators work.

    .venv/bin/python bench/surge.py --db postgresql --users 1000 --duration 60 --operators 10

What it does, against a `support-api serve` it spawns on 127.0.0.1 (fresh database, dropped
after the run):
1. an admin declares an incident on `--category` (default `trading`);
2. `--operators` operators of that department connect a socket and go online (they take
   chats by auto-assignment, up to the server's capacity each); each answers a chat it was
   given and closes it `--work-seconds` later, so the queue moves all through the run;
3. `--users` users open a chat each (with a first message), spread evenly over
   `--duration` seconds; `--user-sockets` of them are connected before they open and
   count the `queue:updated` events they get (the fan-out the coalescing bounds);
4. afterwards it checks in the database that every chat was stored, linked to the incident,
   answered by the SYSTEM message (seq 2, right after the user's first message) and queued,
   and prints the latency of `POST /v1/sessions` (p50, p95, p99, max) and the fan-out;
5. with the operators stopped, it posts an update, resolves, and closes the linked chats still
   waiting, timing each call and checking that every open linked chat got the update and the
   recovery message and that close-linked closed every waiting one.

`--queue-interval-ms 0` runs the server with the old behaviour (a publish at every move) for
comparison. The machine is shared: run once, short, and read the figures as noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402


def token(secret: str, sub: str, role: str, *, departments: list[str] | None = None, locale: str = "ja") -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + 7200, "name": sub, "locale": locale}
    if departments:
        claims["departments"] = departments
    return jwt.encode(claims, secret, algorithm="HS256")


async def call(http: Any, method: str, url: str, tok: str, body: Any = None) -> tuple[int, Any, float]:
    started = time.perf_counter()
    async with http.request(method, url, json=body, headers={"Authorization": f"Bearer {tok}"}) as resp:
        data = await resp.json(content_type=None)
        return resp.status, data, time.perf_counter() - started


class Operator:
    def __init__(self, base: str, secret: str, category: str, index: int, work_seconds: float, http: Any) -> None:
        self.id = f"op-{index}-{uuid.uuid4().hex[:6]}"
        self.base, self.http, self.work = base, http, work_seconds
        self.token = token(secret, self.id, "operator", departments=[category])
        self.client = benchlib.new_client(http)
        self.handled: set[str] = set()
        self.closed = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.working = True
        self.client.on("session:updated", self._on_session)

    async def _on_session(self, data: dict[str, Any]) -> None:
        operator = data.get("operator") or {}
        if data.get("status") == "active" and operator.get("id") == self.id and data["id"] not in self.handled:
            self.handled.add(data["id"])
            self.tasks.append(asyncio.create_task(self._handle(data["id"])))

    async def _handle(self, session_id: str) -> None:
        await call(self.http, "POST", f"{self.base}/v1/sessions/{session_id}/messages", self.token,
                   {"body": "障害の件、確認しております。", "client_msg_id": uuid.uuid4().hex})
        await asyncio.sleep(self.work)
        if self.working:
            status, _, _ = await call(self.http, "POST", f"{self.base}/v1/sessions/{session_id}/close", self.token)
            self.closed += status == 200

    async def start(self) -> None:
        await benchlib.connect_client(self.client, self.base, self.token)
        status, body, _ = await call(self.http, "PUT", f"{self.base}/v1/operators/me/status", self.token,
                                     {"status": "online"})
        assert status == 200, body


async def keep_postgres_prioritised(server: benchlib.ServerProcess, priority: str) -> None:
    """The server's pool opens PostgreSQL connections as load grows: give each new backend the
    run's scheduling too (the server and this generator have it from the start)."""
    while server.pg_db:
        await asyncio.to_thread(benchlib.prioritise_postgres, server.pg_db, priority)
        await asyncio.sleep(2)


async def surge(args: argparse.Namespace, server: benchlib.ServerProcess) -> dict[str, Any]:
    base, secret = server.url, server.jwt_secret
    http = benchlib.new_http_session()
    keeper = asyncio.create_task(keep_postgres_prioritised(server, args.priority))
    admin = token(secret, "admin-bench", "admin")
    status, incident, _ = await call(http, "POST", f"{base}/v1/incidents", admin, {
        "title": {"ja": "取引システムの障害", "en": "Trading outage"}, "impact": "critical",
        "categories": [args.category], "body": {"ja": "調査中です。", "en": "We are investigating."}})
    assert status == 201, incident
    operators = [Operator(base, secret, args.category, i, args.work_seconds, http) for i in range(args.operators)]
    await asyncio.gather(*(op.start() for op in operators))

    users = [f"user-{i}-{uuid.uuid4().hex[:6]}" for i in range(args.users)]
    queue_events: dict[str, int] = {}
    listeners = []
    # Spread over the arrival order: early users are taken at once, later ones wait longest.
    step = args.users / args.user_sockets if args.user_sockets else 0
    for sub in [users[int(k * step)] for k in range(args.user_sockets)]:
        client = benchlib.new_client(http)
        queue_events[sub] = 0

        def counter(_data: Any, sub: str = sub) -> None:
            queue_events[sub] += 1

        client.on("queue:updated", counter)
        listeners.append((sub, client))
    await benchlib.gather_limited(
        (benchlib.connect_client(client, base, token(secret, sub, "user")) for sub, client in listeners), 50)

    latencies: list[float] = []
    failures: list[Any] = []

    async def open_chat(sub: str) -> None:
        try:
            code, body, took = await call(http, "POST", f"{base}/v1/sessions", token(secret, sub, "user"), {
                "category": args.category,
                "message": {"body": "注文が約定しません。どうなっていますか？", "client_msg_id": uuid.uuid4().hex}})
        except Exception as exc:  # noqa: BLE001 - counted, reported
            failures.append(repr(exc))
            return
        if code != 201:
            failures.append((code, body))
            return
        latencies.append(took)

    started = time.monotonic()
    tasks = []
    for i, sub in enumerate(users):
        delay = started + i * args.duration / args.users - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(open_chat(sub)))
    await asyncio.gather(*tasks)
    opened_in = time.monotonic() - started
    await asyncio.sleep(args.settle)
    for op in operators:
        op.working = False
    for _, client in listeners:
        await client.disconnect()
    for op in operators:
        await op.client.disconnect()
        for task in op.tasks:
            task.cancel()
    # Then the incident's timeline: one update posted into every open linked chat (and pushed),
    # the resolution, and close-linked, each timed (the operators have stopped closing chats).
    open_before = count_chats(server.database_url, args.category, "status <> 'closed'")
    waiting_before = count_chats(server.database_url, args.category, "status = 'waiting'")
    timeline: dict[str, Any] = {"open_linked_chats": open_before, "waiting_linked_chats": waiting_before}
    for step, method, path, body in (
            ("update", "POST", f"/v1/incidents/{incident['id']}/updates",
             {"status": "identified", "body": {"ja": "原因を特定しました。", "en": "We found the cause."}}),
            ("resolve", "POST", f"/v1/incidents/{incident['id']}/updates",
             {"status": "resolved", "body": {"ja": "復旧しました。", "en": "Service is back."}}),
            ("close_linked", "POST", f"/v1/incidents/{incident['id']}/close-linked", None)):
        code, data, took = await call(http, method, f"{base}{path}", admin, body)
        timeline[f"{step}_ms"] = round(took * 1000, 1)
        timeline[f"{step}_status"] = code
        if step == "close_linked":
            timeline["closed_by_close_linked"] = data.get("closed") if isinstance(data, dict) else None
    timeline["chats_told_of_update"] = count_chats(
        server.database_url, args.category,
        "EXISTS (SELECT 1 FROM messages m WHERE m.session_id = chat_sessions.id AND m.sender_type = 'system' "
        "AND m.body LIKE '%原因を特定しました%')")
    timeline["chats_told_of_recovery"] = count_chats(
        server.database_url, args.category,
        "EXISTS (SELECT 1 FROM messages m WHERE m.session_id = chat_sessions.id AND m.sender_type = 'system' "
        "AND m.body LIKE '%復旧しました%')")
    await http.close()
    keeper.cancel()

    latencies.sort()
    received = sorted(queue_events.values())
    return {
        "incident_id": incident["id"],
        "opened": len(latencies), "failures": failures[:5], "failed": len(failures),
        "open_window_seconds": round(opened_in, 1),
        "post_sessions_ms": {name: round(benchlib.percentile(latencies, q) * 1000, 1)
                             for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))}
        if latencies else {},
        "closed_by_operators": sum(op.closed for op in operators),
        "timeline": timeline,
        "queue_updated_per_listening_user": {"sockets": len(received), "total": sum(received),
                                             "median": received[len(received) // 2] if received else 0,
                                             "max": received[-1] if received else 0},
    }


def count_chats(database_url: str, category: str, condition: str) -> int:
    """Chats of the category matching a fixed SQL condition written in this file."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM chat_sessions WHERE category = :category "
                                         f"AND {condition}"), {"category": category}).scalar_one())
    finally:
        engine.dispose()


def verify(database_url: str, incident_id: str, category: str) -> dict[str, int]:
    """Every chat of the category: stored, linked, answered by SYSTEM at seq 2, and queued."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("""
                SELECT count(*),
                       sum(CASE WHEN s.incident_id = :incident THEN 1 ELSE 0 END),
                       sum(CASE WHEN s.queued_at IS NOT NULL THEN 1 ELSE 0 END),
                       sum(CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id AND m.seq = 2
                                             AND m.sender_type = 'system' AND m.body LIKE :title)
                                THEN 1 ELSE 0 END),
                       sum(CASE WHEN s.status = 'waiting' THEN 1 ELSE 0 END),
                       sum(CASE WHEN s.status = 'active' THEN 1 ELSE 0 END),
                       sum(CASE WHEN s.status = 'closed' THEN 1 ELSE 0 END)
                FROM chat_sessions s WHERE s.category = :category
            """), {"incident": incident_id, "category": category, "title": "%取引システムの障害%"}).one()
    finally:
        engine.dispose()
    keys = ("stored", "linked", "queued", "answered_by_system", "waiting_at_end", "active_at_end", "closed_at_end")
    return {key: int(value or 0) for key, value in zip(keys, row)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    p.add_argument("--pg-admin-url", default=benchlib.DEFAULT_PG_ADMIN_URL)
    p.add_argument("--async-mode", choices=["eventlet", "gevent"], default="eventlet")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--duration", type=float, default=60.0, help="seconds over which the users open their chats")
    p.add_argument("--operators", type=int, default=10)
    p.add_argument("--work-seconds", type=float, default=10.0, help="how long an operator keeps a chat before closing")
    p.add_argument("--user-sockets", type=int, default=200, help="users connected before they open (fan-out counted)")
    p.add_argument("--category", default="trading")
    p.add_argument("--queue-interval-ms", type=int, default=None,
                   help="SUPPORT_API_QUEUE_PUBLISH_INTERVAL_MS of the server (default: the server's, 1000)")
    p.add_argument("--settle", type=float, default=3.0, help="seconds to wait after the last open")
    p.add_argument("--priority", choices=["rr", "nice", "normal"], default="rr",
                   help="scheduling of this generator, the server and its PostgreSQL backends (bench/README.md, "
                        "'Shared machine'): rr = SCHED_RR as root")
    p.add_argument("--server-log", metavar="FILE", help="keep the server's log in FILE")
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = p.parse_args(argv)
    if args.user_sockets > args.users:
        p.error("--user-sockets cannot exceed --users")
    benchlib.exit_on_sigterm()
    args.priority = benchlib.apply_priority(args.priority)
    benchlib.raise_nofile(4 * (args.users + args.operators) + 256)
    benchlib.check_loopback(args.pg_admin_url)
    extra = {"SUPPORT_API_PUSH_BACKEND": "log"}
    if args.queue_interval_ms is not None:
        extra["SUPPORT_API_QUEUE_PUBLISH_INTERVAL_MS"] = str(args.queue_interval_ms)
    with benchlib.ServerProcess(db=args.db, async_mode=args.async_mode, pg_admin_url=args.pg_admin_url,
                                extra_env=extra, log_level="INFO" if args.server_log else "WARNING",
                                log_path=Path(args.server_log) if args.server_log else None) as server:
        if server.pg_db:
            benchlib.prioritise_postgres(server.pg_db, args.priority)
        result = asyncio.run(surge(args, server))
        result["database"] = verify(server.database_url, result["incident_id"], args.category)
    result["setup"] = {"db": args.db, "async_mode": args.async_mode, "users": args.users, "duration": args.duration,
                       "operators": args.operators, "work_seconds": args.work_seconds,
                       "user_sockets": args.user_sockets, "queue_interval_ms": args.queue_interval_ms,
                       "priority": args.priority}
    result["machine"] = benchlib.machine()
    db = result["database"]
    timeline = result["timeline"]
    ok = (not result["failed"] and db["stored"] == args.users and db["linked"] == args.users
          and db["queued"] == args.users and db["answered_by_system"] == args.users
          and timeline["chats_told_of_update"] == timeline["open_linked_chats"]
          and timeline["chats_told_of_recovery"] == timeline["open_linked_chats"]
          and timeline["closed_by_close_linked"] == timeline["waiting_linked_chats"])
    result["all_checks_passed"] = ok
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        print(f"POST /v1/sessions p99: {result['post_sessions_ms'].get('p99')} ms (target < 250 ms on PostgreSQL; "
              "shared, noisy machine)")
        print("checks:", "every chat stored, linked, answered and queued" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
