"""Send-to-delivery time, on the in-memory layer and on Redis (core and pub/sub).

Runs daphne as production would (DEBUG off, SQLite persistence, auth on) on a
throwaway database. First 1,000 messages one at a time from users to an
admin, each timed from the moment the frame is written until the admin's
socket receives it (the echo to the sender is timed too); then every user
sends 8 messages/s at once, for the delivery rate and latency under load.
With Redis the users sit on one daphne process and the admin on another,
so every delivery crosses processes. Run: `make latency`.
"""

import asyncio
import contextlib
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
RATE_PER_USER = 8
SUSTAIN_SECONDS = 5


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


async def sequential(user_port: int, admin_port: int, issued: dict[str, str]):
    """One message at a time: each timed from send until the admin has it."""
    admin = await open_socket(admin_port, issued["lat-admin"])
    users = [await open_socket(user_port, issued[f"lat-u{i}"]) for i in range(USERS)]
    delivery, echo = [], []
    try:
        for n in range(WARMUP + MESSAGES):
            sender = users[n % USERS]
            client_id = f"m{n}"
            frame = {"type": "send", "text": f"hola {n}", "client_id": client_id}
            started = time.perf_counter()
            await sender.send(json.dumps(frame))
            mine = json.loads(await asyncio.wait_for(sender.recv(), 10))
            echoed = time.perf_counter()
            seen = json.loads(await asyncio.wait_for(admin.recv(), 10))
            delivered = time.perf_counter()
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


async def sustained(user_port: int, admin_port: int, issued: dict[str, str]):
    """Every user sends 8 messages/s for a while; the admin's deliveries/s and p99."""
    admin = await open_socket(admin_port, issued["lat-admin"])
    users = [await open_socket(user_port, issued[f"lat-u{i}"]) for i in range(USERS)]
    latencies: list[float] = []
    expected = USERS * RATE_PER_USER * SUSTAIN_SECONDS

    async def send_from(ws):
        for _ in range(RATE_PER_USER * SUSTAIN_SECONDS):
            stamp = time.perf_counter()
            text = json.dumps({"type": "send", "text": "x", "client_id": f"{stamp}"})
            await ws.send(text)
            await asyncio.sleep(1 / RATE_PER_USER)

    async def drain_echoes(ws):
        with contextlib.suppress(TimeoutError):
            while True:
                await asyncio.wait_for(ws.recv(), 2)

    async def collect():
        while len(latencies) < expected:
            frame = json.loads(await asyncio.wait_for(admin.recv(), 5))
            latencies.append((time.perf_counter() - float(frame["client_id"])) * 1000)

    started = time.perf_counter()
    try:
        collector = asyncio.ensure_future(collect())
        await asyncio.gather(*(send_from(ws) for ws in users))
        await asyncio.wait_for(collector, 10)
        elapsed = time.perf_counter() - started
        await asyncio.gather(*(drain_echoes(ws) for ws in users))
    finally:
        for ws in [admin, *users]:
            await ws.close()
    return len(latencies) / elapsed, latencies


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


def start_daphne(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
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
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, daphne)
    return daphne, port


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
    setups = [
        ("in-memory, 1 process", {}, 1),
        ("redis core, 2 processes", {"REDIS_URL": redis_url, "REDIS_LAYER": "core"}, 2),
        (
            "redis pub/sub, 2 processes",
            {"REDIS_URL": redis_url, "REDIS_LAYER": "pubsub"},
            2,
        ),
    ]
    rows = []
    try:
        for name, extra, processes in setups:
            servers = [start_daphne({**env, **extra}) for _ in range(processes)]
            user_port, admin_port = servers[0][1], servers[-1][1]
            try:
                print(f"{name}: {MESSAGES} messages one at a time ...", file=sys.stderr)
                delivery, echo = asyncio.run(sequential(user_port, admin_port, issued))
                print(f"{name}: sustained load ...", file=sys.stderr)
                rate, loaded = asyncio.run(sustained(user_port, admin_port, issued))
            finally:
                for daphne, _ in servers:
                    daphne.terminate()
                    daphne.wait(timeout=10)
            rows.append((name, delivery, echo, rate, loaded))
    finally:
        redis_process.terminate()
        shutil.rmtree(workdir, ignore_errors=True)

    print("\nSend-to-delivery (daphne, DEBUG off, SQLite, auth on). With two")
    print("processes the users are on one and the admin on the other.\n")
    print(
        "| layer | one at a time: median ms | p99 ms | echo median ms "
        f"| {USERS} users x {RATE_PER_USER}/s: deliveries/s | p50 ms | p99 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, delivery, echo, rate, loaded in rows:
        cells = [
            f"{statistics.median(delivery):.2f}",
            f"{percentile(delivery, 0.99):.2f}",
            f"{statistics.median(echo):.2f}",
            f"{rate:.0f}",
            f"{statistics.median(loaded):.2f}",
            f"{percentile(loaded, 0.99):.2f}",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
