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


@pytest.mark.parametrize("short", ["j" * 31, "ñ" * 15 + "j"])
def test_a_jwt_secret_shorter_than_32_bytes_stops_start_up(short):
    """ "ñ" is two bytes in UTF-8: 15 of them and a "j" make 31 bytes."""
    result = run_check({"DEBUG": "0", "SECRET_KEY": "s" * 50, "JWT_SECRET": short})
    assert result.returncode != 0
    assert "JWT_SECRET must be at least 32 bytes" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("secret", ["j" * 32, "ñ" * 16])
def test_a_jwt_secret_of_32_bytes_is_accepted(secret):
    result = run_check({"DEBUG": "0", "SECRET_KEY": "s" * 50, "JWT_SECRET": secret})
    assert result.returncode == 0, result.stderr


def test_a_short_jwt_secret_is_allowed_in_development():
    result = run_check({"DEBUG": "1", "SECRET_KEY": "s" * 50, "JWT_SECRET": "dev"})
    assert result.returncode == 0, result.stderr
