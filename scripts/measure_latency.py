"""Send-to-delivery time of one message, on the in-memory layer and on Redis.

Runs daphne as production would (DEBUG off, SQLite persistence, auth on) on a
throwaway database, then sends 1,000 messages one at a time from users to an
admin and times each from the moment the frame is written until the admin's
socket receives it (the echo to the sender is timed too). Run: `make latency`.
"""

import asyncio
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 1000
WARMUP = 50
USERS = 60  # spread the sends so no socket reaches the 10/s rate limit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"process on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port} after {seconds} s")


def prepare(env: dict) -> dict[str, str]:
    """Migrate the throwaway database and return a token per account."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from accounts import tokens
    from accounts.models import Role, User

    call_command("migrate", verbosity=0)
    accounts = {"lat-admin": Role.ADMIN} | {
        f"lat-u{i}": Role.USER for i in range(USERS)
    }
    issued = {}
    for username, role in accounts.items():
        user = User.objects.create_user(username, password=None)
        user.role = role
        user.save()
        issued[username] = tokens.issue(user).token
    return issued


async def open_socket(port: int, token: str):
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/chat/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": f"token={token}"},
        max_size=2**20,
    )
    hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if hello.get("type") != "hello":
        sys.exit(f"expected hello, got {hello}")
    return ws


async def run_layer(
    port: int, issued: dict[str, str]
) -> tuple[list[float], list[float]]:
    admin = await open_socket(port, issued["lat-admin"])
    users = [await open_socket(port, issued[f"lat-u{i}"]) for i in range(USERS)]
    delivery, echo = [], []
    try:
        for n in range(WARMUP + MESSAGES):
            sender = users[n % USERS]
            client_id = f"m{n}"
            started = time.perf_counter()
            await sender.send(
                json.dumps(
                    {"type": "send", "text": f"hola {n}", "client_id": client_id}
                )
            )
            seen = json.loads(await asyncio.wait_for(admin.recv(), 10))
            delivered = time.perf_counter()
            mine = json.loads(await asyncio.wait_for(sender.recv(), 10))
            echoed = time.perf_counter()
            if seen.get("client_id") != client_id or mine.get("client_id") != client_id:
                sys.exit(f"unexpected frames: {seen} / {mine}")
            if n >= WARMUP:
                delivery.append((delivered - started) * 1000)
                echo.append((echoed - started) * 1000)
            # Keep each socket under its rate limit whatever the machine's speed.
            await asyncio.sleep(0.002)
    finally:
        for ws in [admin, *users]:
            await ws.close()
    return delivery, echo


def start_redis() -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit(
            "redis-server is missing: scripts/install-system-packages.sh redis-server"
        )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return process, f"redis://127.0.0.1:{port}/0"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="chat-latency-"))
    env = {
        "DJANGO_SETTINGS_MODULE": "chatproject.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "JWT_SECRET": secrets.token_urlsafe(40),
        "JWT_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{workdir / 'latency.sqlite3'}",
        "LOG_LEVEL": "WARNING",
    }
    issued = prepare(env)
    redis_process, redis_url = start_redis()
    rows = []
    try:
        for layer, extra in (("in-memory", {}), ("redis", {"REDIS_URL": redis_url})):
            port = free_port()
            daphne = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "daphne"),
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "chatproject.asgi:application",
                ],
                cwd=ROOT,
                env={**os.environ, **env, **extra},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_for_port(port, daphne)
                print(f"{layer}: sending {MESSAGES} messages ...", file=sys.stderr)
                delivery, echo = asyncio.run(run_layer(port, issued))
            finally:
                daphne.terminate()
                daphne.wait(timeout=10)
            rows.append((layer, delivery, echo))
    finally:
        redis_process.terminate()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nSend-to-delivery, {MESSAGES} messages one at a time")
    print("(daphne, DEBUG off, SQLite, auth on)\n")
    print(
        "| layer | to admin: median ms | p90 ms | p99 ms | echo to sender: median ms |"
    )
    print("|---|---:|---:|---:|---:|")
    for layer, delivery, echo in rows:
        cells = [
            statistics.median(delivery),
            percentile(delivery, 0.9),
            percentile(delivery, 0.99),
            statistics.median(echo),
        ]
        print(f"| {layer} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
