"""Node and npm for the tests that run real JavaScript: the original's bcryptjs
(tests/original) and the `ws` client (tests/integration/live/node_ws_client).

Each directory pins its packages in package.json and package-lock.json and
gets them with ``npm ci`` the first time a test needs them.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

NPM_TIMEOUT_SECONDS = 300


def node_tool(name: str, why: str) -> str:
    """The path of ``node`` or ``npm``; fail the test, saying ``why``, without it."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {why} (apt-get install nodejs npm)")
    return found


def npm_ci(directory: Path, package: str, why: str) -> None:
    """``npm ci --prefix directory`` unless ``package`` is installed there already."""
    if (directory / "node_modules" / package / "package.json").exists():
        return
    done = subprocess.run(
        [
            node_tool("npm", why),
            "ci",
            "--prefix",
            str(directory),
            "--no-audit",
            "--no-fund",
        ],
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"npm ci --prefix {directory} failed:\n{done.stdout}\n{done.stderr}"
        )
