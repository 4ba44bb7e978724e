"""Summarise a py-spy raw profile (`load.py --py-spy FILE`): where the server's time goes.

    .venv/bin/python bench/hotspots.py FILE [--top 25]

Prints (as % of all samples): idle time in the event hub, time per area (our code, SQLAlchemy,
the DB driver, Socket.IO/Engine.IO, Flask, marshmallow, JSON, websocket I/O), the functions of
`support_api` by inclusive time, and the top leaf frames (self time).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")

IDLE_LEAVES = ("epolls.py", "poll.py", "hub.py:wait", "gevent/hub.py", "_gevent_cgreenlet", "selectors.py")
AREAS = [
    ("support_api (own code, self)", ("support_api/",)),
    ("sqlalchemy", ("sqlalchemy/",)),
    ("sqlite3 / psycopg driver", ("sqlite3/", "psycopg/", "psycopg_binary", "psycopg_pool")),
    ("socketio / engineio", ("socketio/", "engineio/")),
    ("flask / werkzeug", ("flask/", "werkzeug/", "flask_socketio/")),
    ("marshmallow", ("marshmallow/",)),
    ("json", ("json/",)),
    ("websocket I/O", ("simple_websocket/", "wsproto/", "eventlet/websocket.py", "h11/")),
    ("eventlet / gevent runtime", ("eventlet/", "gevent/", "greenlet")),
    ("jwt / crypto", ("jwt/", "cryptography/")),
    ("logging", ("logging/",)),
]


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks.append((stack.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    return f"{m['func']} ({m['file']})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    stacks = parse(args.file)
    total = sum(c for _, c in stacks)
    if not total:
        print("no samples")
        return 1
    idle = sum(c for frames, c in stacks if any(k in frames[-1] for k in IDLE_LEAVES))
    busy = total - idle
    print(f"{total} samples; idle in the hub's poll {100 * idle / total:.1f}%, busy {100 * busy / total:.1f}%")

    area_self: Counter[str] = Counter()
    for frames, c in stacks:
        if any(k in frames[-1] for k in IDLE_LEAVES):
            continue
        leaf = frames[-1]
        for name, keys in AREAS:
            if any(k in leaf for k in keys):
                area_self[name] += c
                break
        else:
            area_self["other (stdlib, C calls)"] += c
    print("\nself time by area (% of busy samples):")
    for name, c in area_self.most_common():
        print(f"  {100 * c / busy:5.1f}%  {name}")

    inclusive: Counter[str] = Counter()
    for frames, c in stacks:
        seen = set()
        for f in frames:
            if "support_api/" in f:
                key = short(f)
                key = re.sub(r":\d+\)$", ")", key)
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += c
    print(f"\nsupport_api functions, inclusive (% of busy samples), top {args.top}:")
    for key, c in inclusive.most_common(args.top):
        print(f"  {100 * c / busy:5.1f}%  {key}")

    # Library calls made directly from our code: which of our lines pay for what.
    by_line: Counter[str] = Counter()
    for frames, c in stacks:
        seen = set()
        for i, f in enumerate(frames):
            if "support_api/" in f and i + 1 < len(frames) and "support_api/" not in frames[i + 1]:
                key = f"{short(f)} -> {short(frames[i + 1])}"
                if key not in seen:
                    seen.add(key)
                    by_line[key] += c
    print(f"\nour line -> the library call it makes, inclusive (% of busy), top {args.top}:")
    for key, c in by_line.most_common(args.top):
        print(f"  {100 * c / busy:5.1f}%  {key}")

    leaves: Counter[str] = Counter()
    for frames, c in stacks:
        if not any(k in frames[-1] for k in IDLE_LEAVES):
            leaves[short(frames[-1])] += c
    print(f"\ntop self-time frames (% of busy), top {args.top}:")
    for key, c in leaves.most_common(args.top):
        print(f"  {100 * c / busy:5.1f}%  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
