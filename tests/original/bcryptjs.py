"""Password hashes made the original's way, by the real bcryptjs 2.4.3 (npm):
``bcrypt.hash(pass, 8)``, "$2a$08$...". The package is pinned by
package.json and package-lock.json beside this file and installed with
``npm ci`` into tests/original/node_modules the first time it is needed.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NODE_MODULES = HERE / "node_modules"
NPM_TIMEOUT_SECONDS = 300


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: the import tests hash passwords with the "
            "original's bcryptjs, on Node (apt-get install nodejs npm)."
        )
    return found


def install_bcryptjs() -> None:
    """``npm ci --prefix tests/original`` unless bcryptjs is there already."""
    if (NODE_MODULES / "bcryptjs" / "package.json").exists():
        return
    done = subprocess.run(
        [_tool("npm"), "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci --prefix {HERE} failed:\n{done.stdout}\n{done.stderr}")


def bcryptjs_hashes(passwords: list[str]) -> dict[str, str]:
    """Each of ``passwords`` hashed by bcryptjs, cost 8: password -> hash."""
    install_bcryptjs()
    done = subprocess.run(
        [_tool("node"), str(HERE / "bcryptjs_hash.js")],
        input=json.dumps(passwords),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"bcryptjs_hash.js failed:\n{done.stderr}")
    hashes = json.loads(done.stdout)
    assert len(hashes) == len(passwords)
    assert all(h.startswith("$2a$08$") and len(h) == 60 for h in hashes), hashes
    return dict(zip(passwords, hashes, strict=True))
