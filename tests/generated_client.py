"""Generate the Python client a mobile or backend team would, from openapi.yaml, with the
generator and configuration docs/api-clients.md names, and import it.

`generate(dest)` runs openapi-python-client (the version pinned in the `test` extra) into `dest`
and returns its output; `load(dest)` imports the generated package.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "openapi.yaml"
CONFIG = ROOT / "tests" / "codegen" / "openapi-python-client.yaml"
PACKAGE = "support_api_client"


def generator() -> str:
    found = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    if found is None:
        raise AssertionError("openapi-python-client is not installed: pip install -e '.[test]'")
    return found


def generate(dest: Path) -> str:
    """Generate the client into dest/support_api_client; the generator's whole output."""
    dest.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [generator(), "generate", "--path", str(SPEC), "--config", str(CONFIG), "--meta", "none",
         "--output-path", str(dest / PACKAGE), "--overwrite"],
        capture_output=True, text=True, timeout=120, check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise AssertionError(f"openapi-python-client failed ({result.returncode}):\n{output}")
    return output


def load(dest: Path) -> ModuleType:
    """Import the generated package (from dest) under its own name."""
    if str(dest) not in sys.path:
        sys.path.insert(0, str(dest))
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    return importlib.import_module(PACKAGE)
