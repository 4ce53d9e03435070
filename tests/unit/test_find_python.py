"""scripts/find-python: prints the interpreter for `make`, and on stderr only
what someone should read."""

import subprocess
import sys
from pathlib import Path

from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "find-python"
PYENV_NOTICE = "pyenv: python3.13: command not found"


def fake(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def find_python(tmp_path: Path, **fakes: str) -> subprocess.CompletedProcess:
    for name, body in fakes.items():
        fake(tmp_path, name.replace("_", "."), body)
    # The fakes first, then the test run's own Python (3.11-3.13), then bash.
    path = f"{tmp_path}:{Path(sys.executable).parent}:/usr/bin:/bin"
    return subprocess.run(
        [str(SCRIPT)], env={"PATH": path}, capture_output=True, text=True, check=False
    )


def test_a_pyenv_shim_of_an_unselected_version_is_skipped_without_a_word(tmp_path):
    done = find_python(tmp_path, python3_13=f"echo '{PYENV_NOTICE}' >&2; exit 127")

    assert done.returncode == 0
    assert done.stdout.strip() and "python3.13" not in done.stdout
    assert done.stderr == ""


def test_an_interpreter_that_fails_otherwise_is_reported_and_skipped(tmp_path):
    done = find_python(tmp_path, python3_13="echo 'cannot load libpython' >&2; exit 3")

    assert done.returncode == 0
    assert "python3.13 failed (exit 3): cannot load libpython" in done.stderr
