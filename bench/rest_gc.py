"""REST traffic and the garbage collector: what a stream of requests costs in whole-process pauses.

    .venv/bin/python bench/rest_gc.py --db postgresql --rate 300 --duration 20 [--source-ref REF]

Against a `support-api serve` it spawns on 127.0.0.1 (fresh database, dropped after the run;
`--source-ref` runs a clean snapshot of another commit, for a before/after in one session):
1. a user opens `--sessions` chats, each with a first message;
2. `--threads` clients with keep-alive connections send `--rate` requests per second in all,
   for `--duration` seconds, each request one of `--mix` in turn: `list` (GET /v1/sessions),
   `history` (GET a chat's messages), `invalid` (GET /v1/sessions?limit=abc: 422), `badtoken`
   (a malformed bearer token: 401, then 429 once the address is limited), `noroute`
   (GET /v1/nothing: 404);
3. prints the requests answered by status, their latency (p50, p99, max, ms), and from the
   server's own `support_api_gc_pause_seconds` (scraped before and after, metrics port) the
   collections of each generation during the run, their total pause and the largest pause's
   histogram bucket.

Objects a request leaves in reference cycles are freed only by a collection, and a
collection stops every chat of the process (bench/README.md, issue 16, third pass).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

KINDS = ("list", "history", "invalid", "badtoken", "noroute")


def gc_pauses(metrics_url: str) -> dict[str, dict[str, float]]:
    """Per generation: collections, seconds paused, and each bucket's cumulative count."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "support_api_gc_pause_seconds":
            continue
        for sample in family.samples:
            generation = out.setdefault(sample.labels["generation"], {})
            if sample.name.endswith("_count"):
                generation["count"] = sample.value
            elif sample.name.endswith("_sum"):
                generation["sum"] = sample.value
            elif sample.name.endswith("_bucket"):
                generation[f"le {sample.labels['le']}"] = sample.value
    return out


def pause_delta(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for generation, now in sorted(after.items()):
        then = before.get(generation, {})
        delta = {key: value - then.get(key, 0.0) for key, value in now.items()}
        buckets = sorted(((float(key[3:]), n) for key, n in delta.items() if key.startswith("le ")),
                         key=lambda pair: pair[0])
        # The largest pause lies in the first bucket that holds every collection of the run.
        largest = next((bound for bound, n in buckets if n >= delta.get("count", 0)), None)
        result[generation] = {"collections": int(delta.get("count", 0)),
                              "paused_ms": round(delta.get("sum", 0.0) * 1000, 1),
                              "largest_pause_at_most_ms": None if not delta.get("count") else
                              (None if largest is None or largest == float("inf") else largest * 1000)}
    return result


def drive(base: str, token: str, session_ids: list[str], kinds: list[str], rate: float, duration: float,
          threads: int) -> tuple[Counter[str], list[float]]:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.2
    interval = threads / rate  # each thread's own pace

    def worker(index: int) -> None:
        http = requests.Session()
        n = 0
        while True:
            due = start + index / rate + n * interval
            if due - start >= duration:
                break
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            kind = kinds[(index + n * threads) % len(kinds)]
            headers = {"Authorization": f"Bearer {'not-a-jwt' if kind == 'badtoken' else token}"}
            path = {"list": "/v1/sessions", "history": f"/v1/sessions/{session_ids[n % len(session_ids)]}/messages",
                    "invalid": "/v1/sessions?limit=abc", "badtoken": "/v1/sessions", "noroute": "/v1/nothing"}[kind]
            began = time.perf_counter()
            status = http.get(base + path, headers=headers, timeout=30).status_code
            took = time.perf_counter() - began
            with lock:
                statuses[f"{kind} {status}"] += 1
                latencies.append(took)
            n += 1
        http.close()

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return statuses, latencies


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    p.add_argument("--pg-admin-url", default=benchlib.DEFAULT_PG_ADMIN_URL)
    p.add_argument("--async-mode", choices=["eventlet", "gevent"], default="gevent")
    p.add_argument("--source-ref", metavar="REF", help="run a clean `git archive` snapshot of REF instead of the tree")
    p.add_argument("--source-dir", metavar="DIR", help="run the `support_api` package in DIR (a patched copy)")
    p.add_argument("--rate", type=float, default=300.0, help="requests per second in all (default %(default)s)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds (default %(default)s)")
    p.add_argument("--threads", type=int, default=16, help="client threads (default %(default)s)")
    p.add_argument("--sessions", type=int, default=10, help="chats of the user (default %(default)s)")
    p.add_argument("--mix", default=",".join(KINDS), help="request kinds, in turn (default %(default)s)")
    p.add_argument("--json", action="store_true", help="also print one line: RESULT {json}")
    args = p.parse_args(argv)
    kinds = [kind for kind in args.mix.split(",") if kind]
    if not kinds or set(kinds) - set(KINDS):
        p.error(f"--mix takes {', '.join(KINDS)}")
    benchlib.exit_on_sigterm()
    benchlib.check_loopback(args.pg_admin_url)
    source = benchlib.Source(args.source_ref, args.source_dir)
    metrics_port = benchlib.free_port()
    # The bad tokens are answered 401 until the address's auth-failure limit, then 429: both errors.
    extra = {"SUPPORT_API_METRICS_PORT": str(metrics_port)}
    try:
        with benchlib.ServerProcess(db=args.db, async_mode=args.async_mode, pg_admin_url=args.pg_admin_url,
                                    extra_env=extra, source=source.path) as server:
            token = benchlib.mint(server.jwt_secret, "rest-gc-user", "user", name="Rest")
            session_ids = []
            for n in range(args.sessions):
                status, body = benchlib.http_json("POST", server.url + "/v1/sessions", token=token, body={
                    "category": "funds", "message": {"body": f"出金が遅れています {n}", "client_msg_id": f"open-{n}"}})
                if status != 201:
                    raise SystemExit(f"could not open a chat: {status} {body}")
                session_ids.append(body["id"])
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            drive(server.url, token, session_ids, kinds, args.rate, 2.0, args.threads)  # warm-up
            before = gc_pauses(metrics_url)
            began = time.monotonic()
            statuses, latencies = drive(server.url, token, session_ids, kinds, args.rate, args.duration, args.threads)
            elapsed = time.monotonic() - began
            after = gc_pauses(metrics_url)
    finally:
        source.cleanup()
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else 0.0

    result = {"source": source.description, "db": args.db, "async_mode": args.async_mode, "mix": kinds,
              "target_rate": args.rate, "answered": len(latencies), "rate": round(len(latencies) / elapsed, 1),
              "statuses": dict(sorted(statuses.items())),
              "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": round(latencies[-1] * 1000, 1)},
              "gc": pause_delta(before, after)}
    print(f"{result['source']}: {result['answered']} requests in {elapsed:.1f} s ({result['rate']}/s), "
          f"latency p50 {pct(0.5)} ms, p99 {pct(0.99)} ms, max {result['latency_ms']['max']} ms")
    print("  statuses: " + ", ".join(f"{key}: {n}" for key, n in result["statuses"].items()))
    for generation, figures in result["gc"].items():
        print(f"  gc generation {generation}: {figures['collections']} collections, {figures['paused_ms']} ms paused, "
              f"largest ≤ {figures['largest_pause_at_most_ms']} ms")
    if args.json:
        print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
