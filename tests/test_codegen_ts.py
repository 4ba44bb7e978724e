"""What a TypeScript team runs on openapi.yaml, with the pinned npm packages of tests/codegen:
`redocly lint` is clean, openapi-typescript generates types, and a strict usage file that reads
`details.retry_after` and `details.kind` compiles with `tsc --noEmit --strict`.

Needs node and npm; `npm ci` installs tests/codegen/node_modules from its lock file when it is
missing (scripts/test.sh does it up front).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CODEGEN = Path(__file__).resolve().parent / "codegen"


def _npm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    npm = shutil.which("npm")
    if npm is None:
        raise AssertionError("npm is required for the TypeScript contract checks (apt-get install nodejs npm)")
    return subprocess.run([npm, *args], cwd=CODEGEN, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed() -> None:
    if not (CODEGEN / "node_modules" / ".bin" / "tsc").exists():
        result = _npm("ci", "--no-audit", "--no-fund", timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr


def test_redocly_lint_is_clean(installed: None) -> None:
    result = _npm("run", "--silent", "lint", "--", "--format=summary")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower() and "error" not in output.lower().replace("0 errors", ""), output


def test_openapi_typescript_types_compile_strictly(installed: None) -> None:
    generated = _npm("run", "--silent", "types")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    schema = (CODEGEN / "build" / "schema.d.ts").read_text(encoding="utf-8")
    assert "RateLimitedDetails" in schema and "Record<string, never>" not in schema.split("RateLimitedDetails")[1][:400]
    compiled = _npm("run", "--silent", "typecheck")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_typecheck_fails_on_a_wrong_read(installed: None) -> None:
    """The check can fail: reading `retry_after` off a sensitive_content error is a type error."""
    generated = _npm("run", "--silent", "types")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    broken = CODEGEN / "build" / "broken.ts"
    broken.write_text(
        'import type { components } from "./schema";\n'
        'export function f(e: components["schemas"]["SensitiveContentError"]): number {\n'
        "  return e.details.retry_after;\n}\n", encoding="utf-8")
    try:
        tsc = CODEGEN / "node_modules" / ".bin" / "tsc"
        result = subprocess.run([str(tsc), "--noEmit", "--strict", "--skipLibCheck", str(broken)], cwd=CODEGEN,
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode != 0 and "retry_after" in result.stdout, result.stdout
    finally:
        broken.unlink()
