"""A fake FCM HTTP v1 server on 127.0.0.1, for driving the real firebase-admin library.

It answers the two calls firebase-admin makes: the OAuth token exchange of a service account
(`POST /token`, so the test credentials are an ordinary service-account JSON file whose
`token_uri` points here) and `POST /v1/projects/<project>/messages:send`. Every request is
recorded. Answers are scripted per target token: "ok", an FCM error code ("UNREGISTERED",
"SENDER_ID_MISMATCH", "QUOTA_EXCEEDED", "INVALID_ARGUMENT") or a bare HTTP status (500, 503).
Unscripted sends succeed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ACCESS_TOKEN = "fake-fcm-access-token"
PROJECT_ID = "demo-support-push"

# FCM error code → (HTTP status, google.rpc status), as the FCM v1 API answers them.
_ERRORS = {
    "UNREGISTERED": (404, "NOT_FOUND"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED"),
}
_STATUS_NAMES = {500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass(frozen=True)
class Send:
    """One recorded messages:send request and what the fake answered."""

    path: str
    headers: dict[str, str]  # names in lower case
    message: dict[str, Any]
    answer: str | int

    @property
    def target(self) -> str | None:
        target: str | None = self.message.get("fid") or self.message.get("token")
        return target

    @property
    def data(self) -> dict[str, str]:
        data: dict[str, str] = self.message.get("data", {})
        return data


@lru_cache(maxsize=1)
def _private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class FakeFcm:
    def __init__(self) -> None:
        self.sends: list[Send] = []
        self.token_requests = 0
        self.latency = 0.0  # seconds each send takes, to make concurrent workers overlap
        self._script: dict[str, deque[str | int]] = {}
        self._cond = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/token":
                    with fake._cond:
                        fake.token_requests += 1
                    self._json(200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"})
                elif self.path.endswith("/messages:send"):
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    status, body = fake._answer(self.path, headers, json.loads(raw))
                    self._json(status, body)
                else:
                    self._json(404, {"error": {"code": 404, "message": "no such path", "status": "NOT_FOUND"}})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            # Two workers send batches of 50 at once: the default backlog of 5 overflows, and a
            # reset connection may be retried by firebase-admin (urllib3), counting one send twice.
            request_queue_size = 512

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-fcm", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # --- the test's side -----------------------------------------------------------------

    def reset(self) -> None:
        with self._cond:
            self.sends.clear()
            self._script.clear()
            self.token_requests = 0
            self.latency = 0.0

    def script(self, token: str, *answers: str | int) -> None:
        """The next answers for sends to `token`, in order; afterwards sends succeed."""
        with self._cond:
            self._script.setdefault(token, deque()).extend(answers)

    def sent(self, token: str | None = None) -> list[Send]:
        """Sends FCM accepted (to `token`, or all)."""
        with self._cond:
            return [s for s in self.sends if s.answer == "ok" and (token is None or s.target == token)]

    def attempts(self, token: str) -> list[Send]:
        with self._cond:
            return [s for s in self.sends if s.target == token]

    def wait_for(self, count: int, token: str | None = None, timeout: float = 10.0) -> list[Send]:
        """At least `count` accepted sends (to `token`), or AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._accepted(token)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} FCM send(s), got {len(self._accepted(token))}: "
                                         f"{self.sends[-5:]}")
                self._cond.wait(left)
            return self._accepted(token)

    def _accepted(self, token: str | None) -> list[Send]:
        return [s for s in self.sends if s.answer == "ok" and (token is None or s.target == token)]

    def service_account(self, path: Path) -> Path:
        """Write a service-account JSON file whose token exchange goes to this server."""
        path.write_text(json.dumps({
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": "fake-key-1",
            "private_key": _private_key_pem(),
            "client_email": f"push@{PROJECT_ID}.iam.gserviceaccount.com",
            "client_id": "100000000000000000001",
            "token_uri": f"{self.url}/token",
        }))
        return path

    # --- the server's side ---------------------------------------------------------------

    def _answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.latency:
            time.sleep(self.latency)
        message = body.get("message", {})
        target = message.get("fid") or message.get("token") or ""
        with self._cond:
            queue = self._script.get(target)
            answer: str | int = queue.popleft() if queue else "ok"
            self.sends.append(Send(path, headers, message, answer))
            self._cond.notify_all()
            number = len(self.sends)
        if answer == "ok":
            return 200, {"name": f"projects/{PROJECT_ID}/messages/{number}"}
        if isinstance(answer, int):
            return answer, {"error": {"code": answer, "message": "fake failure", "status": _STATUS_NAMES.get(answer)}}
        status, rpc_status = _ERRORS[answer]
        return status, {"error": {"code": status, "message": f"fake {answer}", "status": rpc_status, "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": answer}]}}
