"""Server processes for the tests: start one, wait until its port accepts
connections (or fail with the tail of its log), stop it."""

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10
LOG_TAIL_CHARS = 4000


def log_tail(log_path: Path | None) -> str:
    """The end of a server's log, to read in a failure message."""
    if log_path is None:
        return ""
    return ":\n" + log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]


def stop_server(process: subprocess.Popen) -> None:
    """Terminate ``process``; kill it if it has not exited in time."""
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def wait_until_listening(
    process: subprocess.Popen,
    port: int,
    *,
    name: str,
    log_path: Path | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
) -> None:
    """Return once loopback ``port`` accepts a connection. Fail the test, with
    the tail of ``log_path``, if ``process`` exits first or ``timeout`` seconds
    pass (it is then stopped)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"{name} exited with {process.returncode} before listening"
                + log_tail(log_path)
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                stop_server(process)
                pytest.fail(
                    f"{name} did not listen on port {port} within {timeout:g} s"
                    + log_tail(log_path)
                )
            time.sleep(0.1)


def start_server(
    argv: list[str],
    *,
    port: int,
    log_path: Path | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
    **popen_options,
) -> subprocess.Popen:
    """Start ``argv`` (its output to ``log_path``, or nowhere) and return it once
    it listens on ``port``; see :func:`wait_until_listening`."""
    if log_path is None:
        process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **popen_options
        )
    else:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, **popen_options
            )
    wait_until_listening(
        process, port, name=Path(argv[0]).name, log_path=log_path, timeout=timeout
    )
    return process


@contextmanager
def running_server(argv: list[str], **options) -> Iterator[subprocess.Popen]:
    """:func:`start_server`, stopped on exit."""
    process = start_server(argv, **options)
    try:
        yield process
    finally:
        stop_server(process)
