"""Shared helpers of the benchmark scripts: a server process on 127.0.0.1, tokens, clients, figures.

Nothing here talks to any address but 127.0.0.1 (PostgreSQL included): `check_loopback`
refuses anything else before a single request is sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import psutil

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise SystemExit(f"refusing to target {url!r}: benchmarks run against 127.0.0.1 only")


def raise_nofile(wanted: int) -> int:
    """Raise this process's open-file limit (children inherit it); return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, wanted), hard) if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop the spawned server and drop its database."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def boost_priority(niceness: int) -> None:
    """Run this process (and the server and clients it starts, which inherit it) at `niceness`.

    On a 2-core machine shared with other work (a test suite running meanwhile), a negative
    niceness keeps the measured processes from being starved; it needs root, else it is skipped.
    """
    if niceness >= 0 or os.geteuid() == 0:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
        except OSError as exc:
            print(f"warning: could not set niceness {niceness}: {exc}", file=sys.stderr)


def set_realtime(priority: int = 10, pids: Iterable[int] = (0,)) -> bool:
    """SCHED_RR for these processes (0 = this one; children inherit it). Root only.

    Emulates a dedicated machine on a shared one: the measured server, its PostgreSQL backends
    and the clients preempt other work at once. The kernel still keeps 5 % of each core for
    ordinary tasks (sched_rt_runtime_us), and nothing here spins, so nothing is locked out.
    """
    ok = True
    for pid in pids:
        try:
            os.sched_setscheduler(pid, os.SCHED_RR, os.sched_param(priority))
        except (OSError, AttributeError) as exc:
            print(f"warning: SCHED_RR for pid {pid} refused: {exc}", file=sys.stderr)
            ok = False
    return ok


def apply_priority(mode: str) -> str:
    """--priority: 'rr' (real-time, default as root), 'nice' (-10) or 'normal'. Returns what applies."""
    if mode == "rr" and os.geteuid() == 0 and set_realtime():
        return "rr"
    if mode in ("rr", "nice"):
        boost_priority(-10)
        return "nice" if os.geteuid() == 0 else "normal"
    return "normal"


def prioritise_postgres(dbname: str, mode: str) -> None:
    procs = postgres_procs(dbname)
    if mode == "rr":
        set_realtime(pids=[p.pid for p in procs])
    elif mode == "nice":
        renice(procs, -10)


def renice(procs: Iterable[psutil.Process], niceness: int) -> None:
    for p in procs:
        try:
            p.nice(niceness)
        except psutil.Error:
            pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mint(secret: str, sub: str, role: str, *, name: str | None = None, ttl: int = 7200) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm="HS256")


def http_json(method: str, url: str, *, token: str | None = None, body: Any = None,
              timeout: float = 10.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def wait_health(base_url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering /v1/health")
        try:
            status, body = http_json("GET", f"{base_url}/v1/health", timeout=2)
            if status == 200:
                return
            last = (status, body)
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"server at {base_url} did not become healthy in {timeout}s: {last}")


# --------------------------------------------------------------------------------------------
# A server process on a fresh database
# --------------------------------------------------------------------------------------------


BENCH_LIMITS = {
    "SUPPORT_API_RATE_LIMIT_MESSAGES": "1000000/minute",
    "SUPPORT_API_RATE_LIMIT_SESSIONS": "1000000/hour",
    # issue 10's per-socket event limits: a benchmark sender is not a flood
    "SUPPORT_API_RATE_LIMIT_EVENTS": "1000000/minute",
    "SUPPORT_API_SOCKET_FLOOD_LIMIT": "1000000/minute",
    # every benchmark socket comes from 127.0.0.1 and connects at once
    "SUPPORT_API_MAX_PENDING_PER_IP": "100000",
}


def parse_env(pairs: Iterable[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--server-env wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


@dataclass
class ServerProcess:
    """`support-api serve` on 127.0.0.1 with a fresh SQLite file or PostgreSQL database.

    Used as a context manager: start() on enter, stop() + cleanup on exit, whatever happens.
    """

    db: str = "sqlite"
    async_mode: str = "eventlet"
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL
    max_connections: int | None = None
    log_level: str = "WARNING"
    extra_env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    # A directory holding a `support_api` package (e.g. a `git archive` snapshot) to run instead
    # of the installed working tree; None runs the working tree.
    source: Path | None = None
    # Experiment: run through bench/nodelay_serve.py (TCP_NODELAY on the listening socket).
    tcp_nodelay: bool = False
    # Experiment: the server's soft RLIMIT_NOFILE (None: inherit ours).
    nofile: int | None = None
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    # Several processes of one deployment (load.py --server-procs): the message queue they
    # share, and the database the first one created (the others neither create nor drop it).
    redis_url: str | None = None
    shared_database_url: str | None = None

    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    var_dir: Path | None = None
    pg_db: str | None = None
    database_url: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "SUPPORT_API_VAR_DIR": str(self.var_dir),
            "SUPPORT_API_ASYNC_MODE": self.async_mode,
            "SUPPORT_API_JWT_SECRET": self.jwt_secret,
            "SUPPORT_API_LOG_LEVEL": self.log_level,
            "SUPPORT_API_DATABASE_URL": self.database_url,
        })
        env.pop("SUPPORT_API_REDIS_URL", None)
        if self.redis_url:
            check_loopback(self.redis_url)
            env["SUPPORT_API_REDIS_URL"] = self.redis_url
        # The per-sender limits (60 messages/minute by default) are for abuse, not capacity:
        # keep the limiter in the measured path but far above what one benchmark client sends.
        env.update(BENCH_LIMITS)
        if self.max_connections is not None:
            env["SUPPORT_API_MAX_CONNECTIONS"] = str(self.max_connections)
        if self.source is not None:
            env["PYTHONPATH"] = str(self.source)
        env.update(self.extra_env)
        return env

    def _command(self, *args: str) -> list[str]:
        if self.tcp_nodelay and args[0] == "serve":
            return [sys.executable, str(Path(__file__).resolve().parent / "nodelay_serve.py"), *args]
        if self.source is not None:
            return [sys.executable, "-m", "support_api.cli", *args]
        return [str(BIN / "support-api"), *args]

    def _pg_admin(self, sql: str) -> None:
        import psycopg

        check_loopback(self.pg_admin_url)
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def start(self) -> "ServerProcess":
        try:
            return self._start()
        except BaseException:
            tail = self.server_log_tail()
            if tail:
                print("--- server log tail ---\n" + tail, file=sys.stderr)
            self.stop()
            raise

    def _start(self) -> "ServerProcess":
        self.var_dir = Path(tempfile.mkdtemp(prefix="support_api_bench_"))
        if self.shared_database_url:
            self.database_url = self.shared_database_url
        elif self.db == "sqlite":
            self.database_url = f"sqlite:///{self.var_dir / 'support_api.db'}"
        elif self.db == "postgresql":
            self.pg_db = f"bench_{secrets.token_hex(4)}"
            self._pg_admin(f'CREATE DATABASE "{self.pg_db}"')
            admin = urllib.parse.urlsplit(self.pg_admin_url)
            self.database_url = f"postgresql+psycopg://{admin.netloc}/{self.pg_db}"
        else:
            raise ValueError(f"unknown db {self.db!r}")
        env = self._env()
        if not self.shared_database_url:
            subprocess.run(self._command("db", "upgrade"), env=env, check=True, cwd=self.source or REPO,
                           stdout=subprocess.DEVNULL)
        self.port = free_port()
        log = open(self.log_path or (self.var_dir / "server.log"), "ab")  # noqa: SIM115 - closed by the child's exit
        nofile = self.nofile

        def limit_files() -> None:
            if nofile is not None:
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

        self.proc = subprocess.Popen(self._command("serve", "--host", "127.0.0.1", "--port", str(self.port)),
                                     env=env, cwd=self.source or REPO, stdout=log, stderr=subprocess.STDOUT,
                                     preexec_fn=limit_files if nofile is not None else None)
        log.close()
        wait_health(self.url, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.pg_db:
            try:
                self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                print(f"warning: could not drop {self.pg_db}: {exc}", file=sys.stderr)
            self.pg_db = None
        if self.var_dir and self.var_dir.exists():
            shutil.rmtree(self.var_dir, ignore_errors=True)

    def server_log_tail(self, lines: int = 30) -> str:
        path = self.log_path or (self.var_dir / "server.log" if self.var_dir else None)
        if not path or not Path(path).exists():
            return ""
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])

    def pg_sessions(self) -> int | None:
        """Connections ever opened to this run's PostgreSQL database (pg_stat_database.sessions, PG 14+)."""
        if not self.pg_db:
            return None
        import psycopg

        try:
            with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (self.pg_db,)).fetchone()
            return int(row[0]) if row and row[0] is not None else None
        except Exception:  # noqa: BLE001 - a missing statistic is not a failed run
            return None

    def count_messages(self) -> int | None:
        """Messages persisted in the database (read directly, after the run)."""
        from sqlalchemy import create_engine, text

        if not self.database_url:
            return None
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM messages")).scalar_one())
        finally:
            engine.dispose()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Source:
    """The server code a benchmark runs: the working tree, or a `git archive` snapshot of a ref.

    A snapshot keeps a long benchmark matrix on one fixed version while the tree is being edited.
    """

    def __init__(self, ref: str | None, directory: str | None = None) -> None:
        self.ref = ref
        self.path: Path | None = None
        self._owned = bool(ref)
        if directory:
            self.path = Path(directory).resolve()
            self.description = f"directory {self.path}"
        elif ref:
            commit = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=REPO, check=True,
                                    capture_output=True, text=True).stdout.strip()
            self.path = Path(tempfile.mkdtemp(prefix="support_api_src_"))
            archive = subprocess.run(["git", "archive", commit], cwd=REPO, check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(self.path)], input=archive, check=True)
            self.description = f"git {commit[:10]} ({ref}, clean snapshot)"
        else:
            head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=REPO, capture_output=True,
                                  text=True).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--", "support_api", "migrations"], cwd=REPO,
                                   capture_output=True, text=True).stdout.strip()
            self.description = f"working tree at git {head}" + (" + uncommitted changes" if dirty else "")

    def cleanup(self) -> None:
        if self.path is not None and self._owned:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None


def find_listener_pid(port: int) -> int | None:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


# --------------------------------------------------------------------------------------------
# Resource sampling
# --------------------------------------------------------------------------------------------


def attach_running(url: str, jwt_secret: str | None, server_pid: int | None) -> tuple[str, str, int | None]:
    """For `--url`: the server's base URL (loopback only), its HS256 secret and its pid."""
    url = url.rstrip("/")
    check_loopback(url)
    secret = jwt_secret or os.environ.get("SUPPORT_API_JWT_SECRET") or ""
    if not secret:
        raise SystemExit("--url needs --jwt-secret or SUPPORT_API_JWT_SECRET (the server's HS256 secret)")
    return url, secret, server_pid or find_listener_pid(urllib.parse.urlsplit(url).port or 80)


def cpu_seconds(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


def postgres_procs(dbname: str | None = None) -> list[psutil.Process]:
    """PostgreSQL processes: with `dbname`, only the backends serving that database (their
    process title names it), so other users of the same PostgreSQL server are not counted."""
    out = []
    for p in psutil.process_iter(["name", "cmdline"]):
        if not (p.info.get("name") or "").startswith("postgres"):
            continue
        if dbname is not None and f" {dbname} " not in " ".join(p.info.get("cmdline") or []) + " ":
            continue
        out.append(p)
    return out


def busy_cores(seconds: float = 2.0) -> float:
    """How many cores the whole machine kept busy over the next `seconds`."""
    t0 = psutil.cpu_times()
    time.sleep(seconds)
    t1 = psutil.cpu_times()
    busy = sum(getattr(t1, f) - getattr(t0, f) for f in ("user", "nice", "system", "irq", "softirq", "steal")
               if hasattr(t0, f))
    return busy / seconds


def wait_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Wait (at most `max_wait` s) until the machine is nearly idle before measuring; return
    the busy cores seen last. On a 2-core machine another test run would skew every figure."""
    deadline = time.monotonic() + max_wait
    busy = busy_cores()
    while busy > threshold and time.monotonic() < deadline:
        print(f"waiting for a quiet machine: {busy:.2f} cores busy", file=sys.stderr, flush=True)
        time.sleep(3)
        busy = busy_cores()
    return busy


class Sampler(threading.Thread):
    """Samples a server process's RSS (and fd count) every `interval` seconds in the background."""

    def __init__(self, pid: int | None, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid) if pid else None
        self.interval = interval
        self.rss: list[tuple[float, int]] = []
        self.fds: list[int] = []
        self._stop_event = threading.Event()

    def sample(self) -> None:
        if self.proc is None:
            return
        try:
            self.rss.append((time.monotonic(), self.proc.memory_info().rss))
            self.fds.append(self.proc.num_fds())
        except psutil.Error:
            pass

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(2)

    def peak_rss(self) -> int:
        return max((r for _, r in self.rss), default=0)


class CpuMeter:
    """CPU seconds used between start() and stop() by the server, the generator, postgres, and all."""

    def __init__(self, server_pid: int | None, generator_pids: Iterable[int], pg_dbname: str | None = None,
                 more_servers: Iterable[int] = ()) -> None:
        self.server = psutil.Process(server_pid) if server_pid else None
        self.more_servers = [psutil.Process(p) for p in more_servers]  # summed into "server"
        self.generator = [psutil.Process(p) for p in generator_pids] + [psutil.Process()]
        self.pg_dbname = pg_dbname
        self._pg = postgres_procs(pg_dbname) if pg_dbname else []
        self.t0 = 0.0
        self.result: dict[str, float] = {}

    def _snap(self) -> dict[str, float]:
        total = psutil.cpu_times()
        return {
            "wall": time.monotonic(),
            "server": (cpu_seconds(self.server) if self.server else 0.0)
            + sum(cpu_seconds(p) for p in self.more_servers),
            "generator": sum(cpu_seconds(p) for p in self.generator),
            "postgres": sum(cpu_seconds(p) for p in self._pg),
            "machine": total.user + total.system + getattr(total, "irq", 0) + getattr(total, "softirq", 0)
            + getattr(total, "nice", 0),
        }

    def start(self) -> None:
        self._start = self._snap()

    def stop(self) -> dict[str, float]:
        end = self._snap()
        self.result = {k: end[k] - self._start[k] for k in end}
        r = self.result
        # Whatever else ran on the machine meanwhile (other tests, the kernel's network work).
        r["others"] = max(0.0, r["machine"] - r["server"] - r["generator"] - r["postgres"])
        return self.result

    def describe(self) -> str:
        r = self.result
        wall = r["wall"] or 1e-9
        ncpu = psutil.cpu_count() or 1
        parts = [f"{name} {r[name]:.1f}s ({100 * r[name] / wall:.0f}% of one core)"
                 for name in ("server", "postgres", "generator", "others")]
        parts.append(f"whole machine {100 * r['machine'] / wall / ncpu:.0f}% of {ncpu} cores")
        return f"CPU over {wall:.1f}s: " + ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("support_api", "flask", "flask-socketio", "python-socketio", "python-engineio", "eventlet",
                 "gevent", "sqlalchemy", "psycopg", "simple-websocket", "aiohttp"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return f"python {sys.version.split()[0]}; " + ", ".join(out)


def machine() -> str:
    mem = psutil.virtual_memory().total
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{psutil.cpu_count()} cores ({model}), {mem / 2**30:.0f} GiB RAM, {os.uname().sysname} {os.uname().release}"


# --------------------------------------------------------------------------------------------
# Socket.IO clients (asyncio + aiohttp)
# --------------------------------------------------------------------------------------------


def new_http_session() -> Any:
    import aiohttp

    # limit=0: a websocket keeps its connection from the pool, so the default 100 would cap us.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=False))


def new_client(http_session: Any) -> Any:
    import socketio

    return socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=http_session,
                                request_timeout=30)


async def connect_client(client: Any, url: str, token: str, timeout: float = 30.0) -> None:
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=timeout)


async def gather_limited(coros: Iterable[Any], limit: int) -> list[Any]:
    """Run coroutines with at most `limit` at a time; exceptions are returned, not raised."""
    sem = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with sem:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros), return_exceptions=True)
