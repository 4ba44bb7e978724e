"""Production topology under load: two `support-api serve` processes, a `support-api
push-worker`, Redis and the database behind the real nginx, run with deploy/nginx.conf itself
(only ports and paths rewritten).

Users and operators chat through nginx, each user on one process and their operator on the
other. Under load:
1. one process is killed -9: every acknowledged message is in the history; the clients that
   were on it reconnect through nginx (to the survivor) and resume with `session:join` +
   `after_seq`, retrying unacknowledged sends with the same `client_msg_id` (what the apps
   do), and end with no gap and no duplicate;
2. rolling restart, SIGTERM to each process in turn (each exits 0 and comes back): no
   acknowledged message lost, and nginx answers no 5xx meanwhile.

Apart from that, clients on the long-polling transport only: nginx's `support_api_lb` cookie
keeps every request of an Engine.IO session on the process that holds it, for several clients
on both processes at once, and they chat across processes (without the cookie, the same
requests are spread and refused).

nginx is Debian's package (scripts/test.sh installs it when missing); it runs in the
foreground (`daemon off`) from a temp directory, on a free port.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from prometheus_client.parser import text_string_to_metric_families

from support_api.lib.auth import Role
from tests.dbutil import backends, fresh_database
from tests.e2e.conftest import ServerProcess, free_port, server_env, uid, wait_until

REDIS_URL = os.environ.get("SUPPORT_API_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
PAIRS = 3  # chats, each between one user and its own operator
SEND_INTERVAL = 0.1  # per client: 2 x PAIRS x 10 = 60 msgs/s in all
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


# --- nginx ------------------------------------------------------------------------------


def nginx_config(tmp: Path, port: int, upstreams: list[int]) -> str:
    """deploy/nginx.conf with this test's listen port, upstream servers and writable paths."""
    text = NGINX_CONF.read_text()
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
    text, n = re.subn(r"# upstream-servers-begin.*?# upstream-servers-end", servers, text, flags=re.S)
    assert n == 1, "deploy/nginx.conf lost its upstream-servers markers"
    text, n = re.subn(r"listen 80;", f"listen 127.0.0.1:{port};", text)
    assert n == 1
    text = text.replace("access_log /var/log/nginx/access.log upstream;", f"access_log {tmp}/access.log upstream;")
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    # Temp files of a non-root, non-system run; and which process answered, for the test only.
    temps = "".join(f"    {name}_temp_path {tmp}/{name};\n" for name in
                    ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = text.replace("http {\n", "http {\n" + temps, 1)
    # (add_header is inherited only by levels with none of their own: put it beside the cookie's.)
    text, n = re.subn(r"(\n(\s*)add_header Set-Cookie [^\n]*\n)", r"\1\2add_header X-Upstream $upstream_addr always;\n",
                      text)
    assert n == 1
    return text


@contextmanager
def run_nginx(tmp: Path, upstreams: list[int]) -> Iterator[tuple[str, Path]]:
    if not os.path.exists(NGINX):
        pytest.fail("nginx is not installed: apt-get install -y nginx (scripts/test.sh does it)", pytrace=False)
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_config(tmp, port, upstreams))
    log = open(tmp / "nginx.out", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf),
                             "-g", f"daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log info;"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or _answers(url), timeout=15, what="nginx")
        assert proc.poll() is None, (tmp / "nginx.out").read_text() + (tmp / "error.log").read_text()
        yield url, tmp / "access.log"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/v1/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def statuses(access_log: Path, start: int = 0) -> list[tuple[int, str]]:
    lines = access_log.read_bytes()[start:].decode().splitlines()
    out = []
    for line in lines:
        match = re.search(r'" (\d{3}) ', line)
        if match:
            out.append((int(match.group(1)), line))
    return out


# --- the processes ----------------------------------------------------------------------


class Cluster:
    def __init__(self, url: str, var_dir: Path) -> None:
        self.secret = secrets.token_urlsafe(32)
        self.var_dir = var_dir
        self.ports = [free_port(), free_port()]
        self.metrics_ports = [free_port(), free_port()]
        self.url = url
        self.procs: list[ServerProcess | None] = [None, None]
        self.worker: subprocess.Popen[bytes] | None = None

    def env(self, index: int) -> dict[str, str]:
        # gevent: the runtime deploy/compose.yaml and the systemd unit run (docs/production.md).
        extra = {
            "SUPPORT_API_PUSH_EMBEDDED": "false", "SUPPORT_API_PROXY_COUNT": "1",
            "SUPPORT_API_RATE_LIMIT_MESSAGES": "100000/minute", "SUPPORT_API_RATE_LIMITS": "off",
            "SUPPORT_API_METRICS_PORT": str(self.metrics_ports[index]),
            "SUPPORT_API_SHUTDOWN_GRACE_SECONDS": "15"}
        return server_env(self.url, self.var_dir, jwt_secret=self.secret, redis_url=REDIS_URL, async_mode="gevent",
                          extra_env=extra)

    def start(self, index: int) -> ServerProcess:
        n = sum(1 for _ in self.var_dir.glob(f"server-{self.ports[index]}*.log"))
        proc = ServerProcess(self.env(index), self.var_dir / f"server-{self.ports[index]}-{n}.log", self.ports[index])
        self.procs[index] = proc
        proc.wait_ready()
        return proc

    def start_worker(self) -> None:
        env = self.env(0)
        env.pop("SUPPORT_API_METRICS_PORT")
        self.worker_log = open(self.var_dir / "push-worker.log", "wb")  # noqa: SIM115
        self.worker = subprocess.Popen([sys.executable, "-m", "support_api.cli", "push-worker"], env=env,
                                       stdout=self.worker_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def sockets_on(self, index: int) -> float:
        text = requests.get(f"http://127.0.0.1:{self.metrics_ports[index]}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "support_api_socket_connections":
                    return sample.value
        raise AssertionError("no support_api_socket_connections")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc is not None:
                proc.stop()
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(10)
            self.worker_log.close()


# --- a chat client that behaves like the apps -------------------------------------------


class ChatClient:
    """One side of a chat through nginx: sends on a clock, keeps every message it sees by seq,
    reconnects when its connection drops and resumes with `session:join` + `after_seq`,
    retrying sends that got no ack with the same client_msg_id. Unlike the apps it does not
    fill a gap in `message:new` from history: a client that stays connected must get every
    message live, including one whose process was killed between commit and emit (its
    sender's retry delivers it again)."""

    def __init__(self, name: str, base_url: str, token: str, session_id: str, lb_cookie: str) -> None:
        self.name = name
        self.base_url = base_url
        self.token = token
        self.session_id = session_id
        self.http = requests.Session()
        self.http.cookies.set("support_api_lb", lb_cookie)
        self.lock = threading.Lock()
        self.seen: dict[int, str] = {}  # seq -> message id
        self.conflicts: list[str] = []  # one seq seen with two different message ids
        self.acked: dict[str, int] = {}  # client_msg_id -> seq
        self.pending: list[str] = []  # sent, no ack yet: retried after a reconnect
        self.failed_acks: list[Any] = []
        self.reconnects = 0
        self.n = 0
        self.stop = threading.Event()
        self.paused = threading.Event()
        self.client = self._new_client()
        self._ws: Any = None

    def _new_client(self) -> socketio.Client:
        client = socketio.Client(reconnection=False, http_session=self.http, request_timeout=10)
        client.on("message:new", self._on_message)
        return client

    def _on_message(self, data: dict[str, Any]) -> None:
        if data.get("session_id") == self.session_id:
            self._keep([data])

    def _keep(self, messages: list[dict[str, Any]]) -> None:
        with self.lock:
            for message in messages:
                known = self.seen.setdefault(message["seq"], message["id"])
                if known != message["id"]:
                    self.conflicts.append(f"seq {message['seq']}: {known} and {message['id']}")

    def contiguous(self) -> int:
        with self.lock:
            seq = 0
            while seq + 1 in self.seen:
                seq += 1
            return seq

    def connect(self) -> None:
        """Connect and (re)join from the last seq held without a gap."""
        self.client.connect(self.base_url, auth={"token": self.token}, transports=["websocket"], wait_timeout=10)
        self._ws = self.client.eio.ws  # shut by hand: a transport dropped by the server stays open
        while True:
            ack = self.client.call("session:join", {"session_id": self.session_id, "after_seq": self.contiguous(),
                                                    "limit": 200}, timeout=10)
            assert ack["ok"] is True, ack
            self._keep(ack["messages"])
            if not ack["has_more"]:
                return

    def reconnect(self, deadline: float, *, even_if_stopped: bool = False) -> None:
        self.reconnects += 1
        while even_if_stopped or not self.stop.is_set():
            try:
                self.client.eio.disconnect(abort=True)
            except Exception:  # noqa: BLE001 - a half-open client; a new one replaces it
                pass
            self._shut_ws()
            self.client = self._new_client()
            try:
                self.connect()
                return
            except Exception:  # noqa: BLE001 - the balancer may have nothing up for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _retry_pending(self) -> bool:
        """Retry the sends that got no ack, in order, with their client_msg_id; whether all
        were acked now."""
        while self.pending and self.client.connected:
            if not self._send(self.pending[0]):
                return False
            self.pending.pop(0)
        return not self.pending

    def flush_pending(self, deadline: float) -> None:
        """Retry every send that got no ack, as an app does once back, until all are acked."""
        while not self._retry_pending():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: still no ack for {self.pending}")
            if not self.client.connected:
                self.reconnect(deadline, even_if_stopped=True)
            else:
                time.sleep(0.2)

    def _send(self, cmid: str) -> bool:
        try:
            ack = self.client.call("message:send", {"session_id": self.session_id, "body": f"{self.name} {cmid}",
                                                    "client_msg_id": cmid}, timeout=5)
        except Exception:  # noqa: BLE001 - dropped or timed out: no ack, retry later
            return False
        if ack.get("ok"):
            with self.lock:
                self.acked[cmid] = ack["message"]["seq"]
            self._keep([ack["message"]])  # a sender's own socket gets its message in the ack only
            return True
        if ack.get("error", {}).get("code") == "overloaded":
            return False
        self.failed_acks.append(ack)
        return True

    def run(self) -> None:
        while not self.stop.is_set():
            if self.paused.is_set():
                time.sleep(0.05)
                continue
            if not self.client.connected:
                self.reconnect(time.monotonic() + 30)
                continue
            # Retry what got no ack first, with the same client_msg_id.
            if not self._retry_pending():
                continue
            self.n += 1
            cmid = f"{self.name}-{self.n}"
            if not self._send(cmid):
                self.pending.append(cmid)
            time.sleep(SEND_INTERVAL)

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001
            pass
        self.client.eio.disconnect(abort=True)
        self._shut_ws()
        self.http.close()

    def _shut_ws(self) -> None:
        if self._ws is not None:
            self._ws.shutdown()  # close() is a no-op once the connection is gone
            self._ws = None


def cookie_for(nginx_url: str, port: int) -> str:
    """A balancer cookie that nginx's consistent hash maps to the process on `port`."""
    for _ in range(200):
        cookie = secrets.token_hex(8)
        response = requests.get(f"{nginx_url}/v1/health", cookies={"support_api_lb": cookie}, timeout=5)
        assert response.status_code == 200
        if response.headers["X-Upstream"].endswith(f":{port}"):
            return cookie
    raise AssertionError(f"no cookie maps to port {port}")


def open_claimed_chat(nginx_url: str, user_token: str, op_token: str) -> str:
    """A `funds` chat opened by the user and claimed by the operator, both over REST through
    nginx; its session id."""
    opened = requests.post(f"{nginx_url}/v1/sessions", json={"category": "funds"},
                           headers={"Authorization": f"Bearer {user_token}"}, timeout=10)
    assert opened.status_code == 201, opened.text
    session_id: str = opened.json()["id"]
    claimed = requests.post(f"{nginx_url}/v1/sessions/{session_id}/claim",
                            headers={"Authorization": f"Bearer {op_token}"}, timeout=10)
    assert claimed.status_code == 200, claimed.text
    return session_id


def history(base_url: str, token: str, session_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    with requests.Session() as http:
        while True:
            response = http.get(f"{base_url}/v1/sessions/{session_id}/messages",
                                params={"after_seq": items[-1]["seq"] if items else 0, "limit": 100},
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            if not page["has_more"]:
                return items


@contextmanager
def cluster_behind_nginx(tmp_path: Path, *, worker: bool = True) -> Iterator[tuple[Cluster, str, Path]]:
    """Two server processes (and the push worker) on a fresh database, behind nginx: yields the
    cluster, nginx's URL and its access log."""
    backend = backends()[-1]  # PostgreSQL whenever the run has it (CI does)
    with fresh_database(backend) as db_url:
        cluster = Cluster(db_url, tmp_path / "var")
        cluster.var_dir.mkdir()
        try:
            cluster.start(0)
            cluster.start(1)
            if worker:
                cluster.start_worker()
            with run_nginx(tmp_path / "nginx", cluster.ports) as (nginx_url, access_log):
                yield cluster, nginx_url, access_log
            if worker:
                assert cluster.worker is not None and cluster.worker.poll() is None, "the push worker died"
        finally:
            cluster.stop_all()


def test_kill_and_rolling_restart_behind_nginx(tmp_path: Path) -> None:
    with cluster_behind_nginx(tmp_path) as (cluster, nginx_url, access_log):
        _scenario(cluster, nginx_url, access_log)


def _scenario(cluster: Cluster, nginx_url: str, access_log: Path) -> None:
    a_port, b_port = cluster.ports
    on_a, on_b = cookie_for(nginx_url, a_port), cookie_for(nginx_url, b_port)
    probe = cluster.procs[0]
    assert probe is not None
    clients: list[ChatClient] = []
    chats: list[tuple[str, str]] = []  # (session id, user token)
    for i in range(PAIRS):
        user_id, op_id = uid("nx-user"), uid("nx-op")
        user_token = probe.token(user_id, Role.USER, name=f"User {i}")
        op_token = probe.token(op_id, Role.OPERATOR, name=f"Op {i}", departments=["funds"])
        # REST through nginx too: open the chat (user) and claim it (operator).
        session_id = open_claimed_chat(nginx_url, user_token, op_token)
        # Each user on one process, their operator on the other.
        user_cookie, op_cookie = (on_a, on_b) if i % 2 == 0 else (on_b, on_a)
        clients.append(ChatClient(f"u{i}", nginx_url, user_token, session_id, user_cookie))
        clients.append(ChatClient(f"o{i}", nginx_url, op_token, session_id, op_cookie))
        chats.append((session_id, user_token))
    for client in clients:
        client.connect()
    # The cookie decided the process: PAIRS sockets on each.
    assert (cluster.sockets_on(0), cluster.sockets_on(1)) == (PAIRS, PAIRS)

    threads = [threading.Thread(target=c.run, name=c.name) for c in clients]
    for thread in threads:
        thread.start()
    try:
        # 1. kill -9 process A under load.
        time.sleep(3)
        before_kill = sum(len(c.acked) for c in clients)
        a = cluster.procs[0]
        assert a is not None
        a.proc.kill()
        a.proc.wait(10)
        # Its clients come back through nginx, to B (the only process up), and keep chatting.
        wait_until(lambda: sum(c.reconnects for c in clients) >= PAIRS and all(c.client.connected for c in clients),
                   timeout=30, what="the clients of the killed process to reconnect")
        assert all(c.reconnects >= 1 for c in clients if c.http.cookies.get("support_api_lb") == on_a)
        assert cluster.sockets_on(1) == 2 * PAIRS
        time.sleep(2)
        assert sum(len(c.acked) for c in clients) > before_kill + 10, "the chats did not go on after the kill"
        a._log.close()
        cluster.start(0)
        _check_all_delivered(clients, chats, nginx_url)

        # 2. Rolling restart under load: SIGTERM each process in turn; it drains and exits 0.
        log_start = access_log.stat().st_size
        for index in (1, 0):
            time.sleep(2)
            proc = cluster.procs[index]
            assert proc is not None
            acked_before = sum(len(c.acked) for c in clients)
            proc.proc.send_signal(signal.SIGTERM)
            assert proc.proc.wait(20) == 0, proc.log_text()
            proc._log.close()
            assert "drained cleanly" in proc.log_text()
            cluster.start(index)
            time.sleep(2)
            assert sum(len(c.acked) for c in clients) > acked_before + 10, "the chats stalled in the restart"
        time.sleep(1)
    finally:
        for client in clients:
            client.stop.set()
        for thread in threads:
            thread.join(40)
    try:
        bad = [line for status, line in statuses(access_log, log_start) if status >= 500]
        assert not bad, "nginx answered 5xx during the rolling restart:\n" + "\n".join(bad[:10])
        # The load stopped right after the last restart, when a client of the restarted process
        # may still have been on its way back, or waiting for the ack of a send the drain cut
        # off. An app resumes when it comes back (session:join with after_seq) and retries what
        # got no ack: so does each client here, once, before the final count. The live path
        # alone was checked above, after the kill.
        for client in clients:
            client.reconnect(time.monotonic() + 30, even_if_stopped=True)
        for client in clients:
            client.flush_pending(time.monotonic() + 30)
        _check_all_delivered(clients, chats, nginx_url)
        for client in clients:
            assert not client.failed_acks, (client.name, client.failed_acks[:3])
    finally:
        for client in clients:
            client.close()


def _check_all_delivered(clients: list[ChatClient], chats: list[tuple[str, str]], nginx_url: str) -> None:
    """Every acked message is stored once; each client, resumed, holds the history with no gap
    and no duplicate."""
    acked_by_client = {}
    for client in clients:
        with client.lock:
            acked_by_client[client.name] = dict(client.acked)
    for session_id, user_token in chats:
        stored = history(nginx_url, user_token, session_id)
        seqs = [m["seq"] for m in stored]
        assert seqs == list(range(1, len(stored) + 1)), "a gap or a repeat in the stored seqs"
        by_cmid: dict[str, int] = {}
        for message in stored:
            if message["client_msg_id"]:
                assert message["client_msg_id"] not in by_cmid, f"stored twice: {message['client_msg_id']}"
                by_cmid[message["client_msg_id"]] = message["seq"]
        ids = {m["seq"]: m["id"] for m in stored}
        for client in (c for c in clients if c.session_id == session_id):
            for cmid, seq in acked_by_client[client.name].items():
                assert by_cmid.get(cmid) == seq, f"{client.name}: acked {cmid} (seq {seq}) not stored as such"
            last = len(stored)
            # Both sides receive everything, live or on resume: wait for the tail to arrive.
            wait_until(lambda: client.contiguous() >= last, timeout=20,
                       what=f"{client.name} to hold seq 1..{last} (holds 1..{client.contiguous()})")
            with client.lock:
                assert not client.conflicts, client.conflicts[:3]
                assert all(client.seen[seq] == ids[seq] for seq in range(1, last + 1))


# --- long-polling clients ---------------------------------------------------------------

POLLING_USERS = 6  # at least; more if the first ones all landed on one process


class PollingClient:
    """A Socket.IO client on the long-polling transport only, as an app behind a proxy that
    blocks websockets: every packet is its own HTTP request through nginx, and each must reach
    the process that holds the Engine.IO session. It keeps cookies as the apps do (python-socketio
    keeps them in its requests.Session; `lb_cookie` presets the balancer's)."""

    def __init__(self, name: str, base_url: str, token: str, lb_cookie: str | None = None) -> None:
        self.name = name
        self.http = requests.Session()  # starts empty: nginx's first answer sets support_api_lb
        if lb_cookie:
            self.http.cookies.set("support_api_lb", lb_cookie)
        self.client = socketio.Client(reconnection=False, http_session=self.http, request_timeout=10)
        self.cond = threading.Condition()
        self.bodies: list[str] = []
        self.disconnects = 0
        self.client.on("message:new", self._on_message)
        self.client.on("disconnect", self._on_disconnect)
        self.client.connect(base_url, auth={"token": token}, transports=["polling"], wait_timeout=10)
        assert self.client.transport() == "polling"
        self.eio_sid: str = self.client.eio.sid

    def _on_message(self, data: dict[str, Any]) -> None:
        with self.cond:
            self.bodies.append(data["body"])
            self.cond.notify_all()

    def _on_disconnect(self, *_: Any) -> None:
        with self.cond:
            self.disconnects += 1
            self.cond.notify_all()

    def join(self, session_id: str) -> None:
        ack = self.client.call("session:join", {"session_id": session_id, "after_seq": 0}, timeout=10)
        assert ack["ok"] is True, (self.name, ack)

    def send(self, session_id: str, body: str) -> None:
        ack = self.client.call("message:send", {"session_id": session_id, "body": body,
                                                "client_msg_id": uid("poll")}, timeout=10)
        assert ack["ok"] is True, (self.name, ack)

    def wait_for_body(self, body: str) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: body in self.bodies or self.disconnects > 0, 10), \
                f"{self.name}: no message:new {body!r} within 10 s (got {self.bodies})"
        assert self.disconnects == 0, f"{self.name} was disconnected"

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.eio.disconnect(abort=True)
            self.http.close()


def polling_requests(access_log: Path, eio_sid: str) -> list[tuple[int, str]]:
    """(status, upstream) of every request nginx logged for one Engine.IO session."""
    out = []
    for status, line in statuses(access_log):
        if f"sid={eio_sid}&" in line or f"sid={eio_sid} " in line:
            upstream = re.search(r" upstream=(\S+)", line)
            assert upstream is not None, line
            out.append((status, upstream.group(1)))
    return out


def upstream_of(access_log: Path, eio_sid: str) -> str:
    wait_until(lambda: bool(polling_requests(access_log, eio_sid)), timeout=5, what=f"nginx to log {eio_sid}")
    return polling_requests(access_log, eio_sid)[0][1]


def test_polling_clients_stay_on_one_process_behind_nginx(tmp_path: Path) -> None:
    """Long-polling through nginx: a client with no cookie gets `support_api_lb` on its first
    answer, keeps it, and every request of its Engine.IO session reaches the process that holds
    the session (any other process would answer 400 "Invalid session" and the client would
    drop). Several clients at once, on both processes, chat with an operator on the other one.
    Without the cookie, the same session's requests are spread and refused."""
    with cluster_behind_nginx(tmp_path, worker=False) as (cluster, nginx_url, access_log):
        probe = cluster.procs[0]
        assert probe is not None
        upstream_port = {f"127.0.0.1:{port}": port for port in cluster.ports}
        cookie_to = {port: cookie_for(nginx_url, port) for port in cluster.ports}
        clients: list[PollingClient] = []
        try:
            # Users connect first, each with an empty cookie jar (a fresh app install): nginx picks
            # a process at random. Until both processes have some (certain after a few).
            users: list[tuple[PollingClient, str, str]] = []  # (client, user id, upstream)
            while len(users) < POLLING_USERS or len({u[2] for u in users}) < 2:
                assert len(users) < 24, f"every user landed on one process: {[u[2] for u in users]}"
                user_id = uid("poll-user")
                token = probe.token(user_id, Role.USER, name=f"User {len(users)}")
                client = PollingClient(f"u{len(users)}", nginx_url, token)
                clients.append(client)
                assert client.http.cookies.get("support_api_lb"), "nginx set no balancer cookie"
                users.append((client, token, upstream_of(access_log, client.eio_sid)))

            # Each user's chat, opened and claimed through nginx (REST) before any operator is
            # online (an online operator would take waiting chats itself).
            chats: list[tuple[PollingClient, str, str, str]] = []  # (user client, session, op token, op port)
            for i, (user, token, upstream) in enumerate(users):
                op_token = probe.token(uid("poll-op"), Role.OPERATOR, name=f"Op {i}", departments=["funds"])
                session_id = open_claimed_chat(nginx_url, token, op_token)
                other = next(p for p in cluster.ports if p != upstream_port[upstream])
                chats.append((user, session_id, op_token, other))

            # Each operator polls too, pinned by cookie to the process its user is not on.
            pairs = []
            for i, (user, session_id, op_token, other) in enumerate(chats):
                op = PollingClient(f"o{i}", nginx_url, op_token, lb_cookie=cookie_to[other])
                clients.append(op)
                assert upstream_port[upstream_of(access_log, op.eio_sid)] == other
                user.join(session_id)
                op.join(session_id)
                pairs.append((user, op, session_id))

            # Everyone chats at once: the message and the reply cross processes through Redis.
            def converse(user: PollingClient, op: PollingClient, session_id: str) -> None:
                user.send(session_id, f"hello from {user.name}")
                op.wait_for_body(f"hello from {user.name}")
                op.send(session_id, f"reply to {user.name}")
                user.wait_for_body(f"reply to {user.name}")

            errors: list[BaseException] = []

            def run(pair: tuple[PollingClient, PollingClient, str]) -> None:
                try:
                    converse(*pair)
                except BaseException as exc:  # noqa: BLE001 - raised on the test's thread below
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(pair,)) for pair in pairs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            if errors:
                raise errors[0]

            # Every request of every session reached one process, and none was refused.
            for client in clients:
                assert client.client.connected and client.disconnects == 0, f"{client.name} dropped"
                seen = polling_requests(access_log, client.eio_sid)
                assert len(seen) >= 4, (client.name, seen)  # connect, join, send, the polls between
                assert {upstream for _, upstream in seen} == {seen[0][1]}, (client.name, seen)
                assert all(status == 200 for status, _ in seen), (client.name, seen)
            assert {upstream_port[u[2]] for u in users} == set(cluster.ports)
        finally:
            for client in clients:
                client.close()

        # The control: without the cookie, one session's requests are spread over both processes,
        # and the one that does not hold it refuses them.
        handshake = requests.get(f"{nginx_url}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=5)
        assert handshake.status_code == 200, handshake.text
        sid = json.loads(handshake.text[1:])["sid"]
        holder = handshake.headers["X-Upstream"]
        answers = []
        for _ in range(24):
            pong = requests.post(f"{nginx_url}/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid},
                                 data="3", timeout=5)  # an Engine.IO pong: harmless to the session
            answers.append((pong.headers["X-Upstream"], pong.status_code))
        assert all((status == 200) == (upstream == holder) for upstream, status in answers), answers
        assert {upstream for upstream, _ in answers} == set(upstream_port), answers
