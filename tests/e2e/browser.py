"""A headless Chromium for end-to-end tests, driven through tests/browser/driver.mjs (npm
playwright-core with Debian's /usr/bin/chromium): one JSON command per line, bounded waits.

`scripts/test.sh` installs `chromium` and the npm packages; when either is missing here the
tests fail with the command that fixes it (never skip)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DRIVER_DIR = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ANSWER_TIMEOUT = 60.0


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does it)"
    if shutil.which("node") is None:
        return "node is missing: apt-get install -y nodejs npm"
    if not (DRIVER_DIR / "node_modules" / "playwright-core").is_dir():
        return f"npm packages are missing: (cd {DRIVER_DIR} && npm ci)"
    return None


class BrowserError(AssertionError):
    pass


class Browser:
    """One Chromium process; pages are named (`page="console"`), each in its own context."""

    def __init__(self) -> None:
        reason = missing()
        if reason:
            raise BrowserError(reason)
        self.proc = subprocess.Popen(["node", str(DRIVER_DIR / "driver.mjs")], cwd=DRIVER_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stderr: list[str] = []
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for thread in self._threads:
            thread.start()
        self._next = 0
        self._answer(0)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self._answers.put(json.loads(line))
            except json.JSONDecodeError:
                self._stderr.append(line)
        self._answers.put({"id": -1, "ok": False, "error": "the driver exited"})

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def _answer(self, wanted: int) -> Any:
        try:
            answer = self._answers.get(timeout=ANSWER_TIMEOUT)
        except queue.Empty:
            raise BrowserError(f"no answer from the browser driver in {ANSWER_TIMEOUT}s; stderr: {''.join(self._stderr)[-2000:]}") from None
        if not answer["ok"]:
            raise BrowserError(f"{answer['error']}\nstderr: {''.join(self._stderr)[-2000:]}")
        assert answer["id"] == wanted, answer
        return answer["result"]

    def __call__(self, op: str, **command: Any) -> Any:
        self._next += 1
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": self._next, "op": op, **command}) + "\n")
        self.proc.stdin.flush()
        return self._answer(self._next)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for thread in self._threads:  # they end at EOF, once the driver has exited
            thread.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
