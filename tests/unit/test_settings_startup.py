"""Start-up refuses to run in production without its secrets, naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "JWT_SECRET", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "JWT_SECRET"])
def test_a_missing_secret_stops_start_up_with_its_name(missing):
    present = {"SECRET_KEY": "s" * 50, "JWT_SECRET": "j" * 50}
    present.pop(missing)
    result = run_check({"DEBUG": "0", **present})
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "DEBUG": "0",
            "SECRET_KEY": "k" * 20 + "-production-secret-key-with-entropy-0123456789",
            "JWT_SECRET": "j" * 64,
            "ALLOWED_HOSTS": "chat.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
