"""Password hashes made the original's way, by the real bcryptjs 2.4.3 (npm):
``bcrypt.hash(pass, 8)``, "$2a$08$...". The package is pinned by
package.json and package-lock.json beside this file and installed with
``npm ci`` into tests/original/node_modules the first time it is needed.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.node_packages import node_tool, npm_ci

HERE = Path(__file__).parent
NODE_MODULES = HERE / "node_modules"


WHY = "the import tests hash passwords with the original's bcryptjs, on Node"


def bcryptjs_hashes(passwords: list[str]) -> dict[str, str]:
    """Each of ``passwords`` hashed by bcryptjs, cost 8: password -> hash."""
    npm_ci(HERE, "bcryptjs", WHY)
    done = subprocess.run(
        [node_tool("node", WHY), str(HERE / "bcryptjs_hash.js")],
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
