"""The console's shipped assets (issue 11): vendored libraries are byte-for-byte the npm
packages pinned in tests/browser/package-lock.json, pages carry the strict security headers, and
`support-api token --console` prints a sign-in URL with the token in the fragment."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from support_api import cli
from support_api.web import STATIC_DIR

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "tests" / "browser" / "node_modules"
VENDORED = {
    "socket.io-client": ("dist/socket.io.esm.min.js", "socket.io.esm.min.js"),
    "chart.js": ("dist/chart.umd.min.js", "chart.umd.min.js"),
}


@pytest.mark.parametrize("package", sorted(VENDORED))
def test_vendored_file_is_the_npm_package(package: str) -> None:
    source, target = VENDORED[package]
    installed = NODE_MODULES / package
    assert installed.is_dir(), f"run (cd tests/browser && npm ci) first: {installed} is missing"
    lock = json.loads((ROOT / "tests" / "browser" / "package-lock.json").read_text())
    locked = lock["packages"][f"node_modules/{package}"]["version"]
    assert json.loads((installed / "package.json").read_text())["version"] == locked
    assert (STATIC_DIR / "vendor" / target).read_bytes() == (installed / source).read_bytes(), (
        f"vendor/{target} differs from {package}@{locked}: cp {installed / source} {STATIC_DIR / 'vendor' / target}")


@pytest.mark.parametrize("path", ["/console/", "/console/stats", "/demo/", "/web/static/console.js"])
def test_pages_have_strict_headers(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    response.close()  # a static file is streamed from an open file
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    if path.endswith(("/", "stats")):
        html = response.get_data(as_text=True)
        # Only external same-origin scripts: no inline code, no other origin.
        assert re.findall(r"<script[^>]*>([^<]+)</script>", html) == []
        assert "http" not in html


def test_token_console_prints_a_url_with_the_token_in_the_fragment(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SUPPORT_API_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("SUPPORT_API_PORT", "8123")
    assert cli.main(["token", "op-1", "--role", "operator", "--departments", "funds", "--console"]) == 0
    url = capsys.readouterr().out.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:8123/console/#token=[\w-]+\.[\w-]+\.[\w-]+", url), url
    assert cli.main(["token", "u-1", "--console"]) == 0
    assert "/demo/#token=" in capsys.readouterr().out


def test_page_scripts_type_check() -> None:
    """The pages' ES modules, checked by tsc from their JSDoc types (tests/browser/tsconfig.json)."""
    tsc = NODE_MODULES / ".bin" / "tsc"
    assert tsc.exists(), "run (cd tests/browser && npm ci) first"
    result = subprocess.run([str(tsc), "-p", "tsconfig.json"], cwd=ROOT / "tests" / "browser", check=False,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
