"""The scenarios: handshake, fanout, capacity, idle, history, inbox.

Each takes a started server and a driver, runs a bounded load (every loop has
a count and a deadline), and returns a dict of plain numbers for the report.
Times are taken with ``time.perf_counter`` in this one process, so a
timestamp written into a message by the sender can be compared with the
clock of the socket that receives it.
"""

import asyncio
import gc
import json
import os
import random
import resource
import signal
import subprocess
import time
from dataclasses import dataclass, field

from bench import dataset, servers
from bench.servers import user_name

LATENCY_LIMIT_MS = 50.0
# A core this busy over a step is saturated: queues, not the work, set p99.
BUSY = 0.85


def gen_cpu_seconds() -> float:
    """CPU used so far by this process (the load generator)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# BENCH_PROFILE=<dir>: py-spy samples the server over every measured window
# (non-blocking, on the generator's core) into <dir>/<pid>-<n>.txt, collapsed
# stacks for `sort`, flamegraph.pl or speedscope. It perturbs the figures a
# little: profile runs are for finding costs, not for quoting.
PROFILE_DIR = os.environ.get("BENCH_PROFILE")
_profiles = [0]


def _start_profiler(server, client_core: int):
    if not PROFILE_DIR:
        return None
    os.makedirs(PROFILE_DIR, exist_ok=True)
    _profiles[0] += 1
    out = os.path.join(PROFILE_DIR, f"{server.pid}-{_profiles[0]}.txt")
    argv = ["taskset", "-c", str(client_core), str(servers.BIN / "py-spy")]
    argv += ["record", "--nonblocking", "--rate", "500", "--format", "raw"]
    argv += ["--threads"] if os.environ.get("BENCH_PROFILE_THREADS") else []
    argv += ["--idle"] if os.environ.get("BENCH_PROFILE_IDLE") else []
    # Only the thread holding the GIL: Python CPU, without threads that wait.
    argv += ["--gil"] if os.environ.get("BENCH_PROFILE_GIL") else []
    argv += ["--output", out, "--pid", str(server.pid)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Window:
    """CPU of the server, of this process and of each whole core over a time window."""

    def __init__(self, server, client_core: int):
        self.server = server
        self.client_core = client_core
        self.profiler = _start_profiler(server, client_core)
        self.t0 = time.perf_counter()
        self.server0 = server.cpu_seconds()
        self.gen0 = gen_cpu_seconds()
        self.score0 = servers.core_busy_seconds(server.core)
        self.ccore0 = servers.core_busy_seconds(client_core)

    def close(self) -> dict:
        wall = time.perf_counter() - self.t0
        if self.profiler is not None:
            self.profiler.send_signal(signal.SIGINT)
            self.profiler.wait(timeout=30)
        server = self.server.cpu_seconds() - self.server0
        gen = gen_cpu_seconds() - self.gen0
        score = servers.core_busy_seconds(self.server.core) - self.score0
        ccore = servers.core_busy_seconds(self.client_core) - self.ccore0
        return {
            "wall": wall,
            "server_cpu": server,
            "gen_cpu": gen,
            "server_cpu_util": server / wall,
            "gen_cpu_util": gen / wall,
            # Busy time on each core that was neither the server nor the
            # generator: other processes, interrupts, hypervisor steal.
            "other_on_server_core": max(0.0, score - server) / wall,
            "other_on_client_core": max(0.0, ccore - gen) / wall,
        }


# Other processes on a shared machine: a measurement waits (bounded) until
# they leave the watched cores nearly idle, and is taken again (at most RETRIES
# times) when they used more than DISTURBED of one meanwhile. Watched: the
# server's core, and the generator's unless it runs SCHED_FIFO.
QUIET = 0.10
DISTURBED = 0.15
RETRIES = 2
QUIET_WAIT_BUDGET_S = 180.0
RETRY_BUDGET = 10  # measurements taken again, in the whole run
_quiet_waited = [0.0]
_retries_left = [RETRY_BUDGET]
# Set when this process (the generator) runs SCHED_FIFO: other processes then
# only use its core while it waits, so only the server's core is watched.
GENERATOR_RT = False


def _others(w: dict) -> float:
    if GENERATOR_RT:
        return w["other_on_server_core"]
    return max(w["other_on_server_core"], w["other_on_client_core"])


async def wait_quiet(server, progress, label, wait_s: float = 20.0) -> float:
    """Wait until others use < QUIET of the watched cores; return their last share."""
    started = time.monotonic()
    other = 0.0
    while _quiet_waited[0] + (time.monotonic() - started) < QUIET_WAIT_BUDGET_S:
        window = Window(server, client_core())
        await asyncio.sleep(0.5)
        w = window.close()
        other = _others(w)
        if other < QUIET or time.monotonic() - started > wait_s:
            break
        progress.update(
            f"{label}: waiting for other processes to quieten ({other:.0%} of a core)"
        )
    _quiet_waited[0] += time.monotonic() - started
    return other


def disturbed(w: dict) -> bool:
    """Whether to measure again: other processes were busy on a watched core
    (and the run's budget of repeated measurements is not spent)."""
    if _others(w) <= DISTURBED or _retries_left[0] <= 0:
        return False
    _retries_left[0] -= 1
    return True


def client_core() -> int:
    cores = os.sched_getaffinity(0)
    return min(cores) if len(cores) == 1 else -1


def percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def quiet_gc() -> None:
    """Collect now and keep the collector out of the timed part (it pauses the loop)."""
    gc.collect()
    gc.freeze()
    gc.disable()


def loud_gc() -> None:
    gc.enable()
    gc.unfreeze()


# -- opening many sockets ------------------------------------------------------------


@dataclass
class Opened:
    conns: list = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""


async def open_many(driver, names, concurrency, progress, label, deadline_s=300.0):
    """Open one socket per name, ``concurrency`` in flight; each timed until ready."""
    out = Opened()
    names = list(names)
    it = iter(enumerate(names))
    deadline = time.monotonic() + deadline_s

    async def worker():
        for _i, name in it:
            if time.monotonic() > deadline:
                out.errors += 1
                out.first_error = out.first_error or "deadline passed"
                continue
            started = time.perf_counter()
            try:
                conn = await driver.connect(name)
            except Exception as err:  # noqa: BLE001 - counted and reported
                out.errors += 1
                out.first_error = out.first_error or f"{type(err).__name__}: {err}"
                continue
            out.latencies_ms.append((time.perf_counter() - started) * 1000)
            out.conns.append(conn)
            progress.update(f"{label}: {len(out.conns)}/{len(names)} open")

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return out


async def warm_up(driver, server, progress, label, n=20):
    """A few sockets first, so lazy imports and first-use caches are not measured."""
    opened = await open_many(
        driver, [user_name(i) for i in range(n)], 5, progress, label
    )
    if opened.errors:
        raise servers.ServerFailed(f"{label}: warm-up failed: {opened.first_error}")
    await driver.close(opened.conns)
    await asyncio.sleep(0.2)
    server.settle()


# -- handshake -------------------------------------------------------------------------


async def handshake(server, driver, progress, *, n: int, concurrency: int) -> dict:
    label = "handshake"
    await warm_up(driver, server, progress, label)
    for attempt in range(1, RETRIES + 2):
        await wait_quiet(server, progress, label)
        result = await _handshake(server, driver, progress, label, n, concurrency)
        result["attempts"] = attempt
        if attempt > RETRIES or not disturbed(result):
            return result
        progress.note(f"  {label}: disturbed by other processes, measuring again")
        await asyncio.sleep(0.5)
        server.settle()


async def _handshake(server, driver, progress, label, n, concurrency) -> dict:
    names = [user_name(i) for i in range(n)]
    quiet_gc()
    window = Window(server, client_core())
    opened = await open_many(driver, names, concurrency, progress, label)
    w = window.close()
    loud_gc()
    progress.update(f"{label}: closing {len(opened.conns)} sockets")
    await driver.close(opened.conns)
    lat = sorted(opened.latencies_ms)
    ok = len(opened.conns)
    return {
        "sockets": n,
        "in_flight": concurrency,
        "opened": ok,
        "errors": opened.errors,
        "first_error": opened.first_error,
        "connects_per_s": ok / w["wall"],
        "p50_ms": percentile(lat, 0.50),
        "p99_ms": percentile(lat, 0.99),
        "server_cpu_ms_per_connect": w["server_cpu"] * 1000 / ok if ok else None,
        "server_cpu_util": w["server_cpu_util"],
        "gen_cpu_util": w["gen_cpu_util"],
        "other_on_server_core": w["other_on_server_core"],
        "other_on_client_core": w["other_on_client_core"],
    }


# -- fan-out load ----------------------------------------------------------------------


class Tally:
    """Counts every delivery of one load step against what each socket should get.

    A message from user ``s`` carries the marker ``~B<step>.<s>.<seq>.<µs>~``
    and is expected exactly once at each admin socket and, when the server
    echoes (``echo``), at the sender's socket: a byte per (receiver, sender,
    seq) counts arrivals, so losses (0) and duplicates (>1) are both found.
    """

    def __init__(
        self, step: int, n_admins: int, n_users: int, capacity: int, echo: bool
    ):
        self.step = step
        self.echo = echo
        self.admin_got = [
            [bytearray(capacity) for _ in range(n_users)] for _ in range(n_admins)
        ]
        self.self_got = [bytearray(capacity) for _ in range(n_users)]
        self.first_measured = [1 << 62] * n_users
        self.latencies_us: list[int] = []
        self.received = 0  # every chat message that arrived (each of a batch)
        self.first_arrivals = 0  # those that were the first copy at their socket
        self.stale = 0  # from an earlier step
        self.misdelivered = 0  # at a socket that should not get it
        self.malformed = 0

    def _parse(self, payload: bytes):
        i = payload.find(b"~B")
        j = payload.find(b"~", i + 2)
        if i < 0 or j < 0:
            return None
        parts = payload[i + 2 : j].split(b".")
        if len(parts) != 4:
            return None
        return int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3])

    def _count(self, arr: bytearray, s: int, seq: int, sent_us: int) -> None:
        v = arr[seq]
        if v == 0:
            self.first_arrivals += 1
            if seq >= self.first_measured[s]:
                self.latencies_us.append(time.perf_counter_ns() // 1000 - sent_us)
        if v < 255:
            arr[seq] = v + 1

    def on_admin(self, conn, payload: bytes) -> None:
        self.received += 1
        m = self._parse(payload)
        if m is None:
            self.malformed += 1
            return
        step, s, seq, sent_us = m
        if step != self.step:
            self.stale += 1
            return
        self._count(self.admin_got[conn.index][s], s, seq, sent_us)

    def on_user(self, conn, payload: bytes) -> None:
        self.received += 1
        m = self._parse(payload)
        if m is None:
            self.malformed += 1
            return
        step, s, seq, sent_us = m
        if step != self.step:
            self.stale += 1
            return
        if s != conn.index or not self.echo:
            self.misdelivered += 1
            return
        self._count(self.self_got[s], s, seq, sent_us)

    def check(self, sent: list[int]) -> tuple[int, int]:
        """(lost, duplicated) deliveries, over every expected (socket, message)."""
        lost = dup = 0
        receivers = [*self.admin_got, *([self.self_got] if self.echo else [])]
        for arrs in receivers:
            for s, n in enumerate(sent):
                got = arrs[s][:n]
                zeros = got.count(0)
                lost += zeros
                dup += sum(got) - (n - zeros)
        return lost, dup


_step_ids = iter(range(1, 1_000_000))


async def run_load(
    server,
    driver,
    admins,
    users,
    progress,
    label,
    *,
    rate: float,
    warmup: float,
    duration: float,
    drain: float = 5.0,
    slots: int = 25,
) -> dict:
    """Every user sends ``rate`` messages/s for ``warmup + duration`` s; all counted.

    Senders are spread evenly over ``slots`` ticks of each 1/rate period, one
    timer for all of them. Latency, CPU and rates are taken over ``duration``
    (after ``warmup``); deliveries are checked for every message sent.
    """
    n_users = len(users)
    period = 1.0 / rate
    tick = period / slots
    total_ticks = round((warmup + duration) / tick)
    measure_tick = round(warmup / tick)
    capacity = int((warmup + duration) * rate * 1.5) + 64
    tally = Tally(next(_step_ids), len(admins), n_users, capacity, driver.echo)
    for a, conn in enumerate(admins):
        conn.index = a
        conn.on_chat = tally.on_admin
        conn.other = 0
    for s, conn in enumerate(users):
        conn.index = s
        conn.on_chat = tally.on_user
        conn.other = 0
    by_slot = [users[k::slots] for k in range(slots)]
    sent = [0] * n_users
    step = tally.step
    offered = n_users * rate

    quiet_gc()
    start = time.perf_counter() + 0.05
    window = None
    lags: list[float] = []
    next_progress = 0.0
    for k in range(total_ticks + 1):
        delay = start + k * tick - time.perf_counter()
        await asyncio.sleep(delay if delay > 0 else 0)
        if k > measure_tick:  # how late the generator's loop serves its timer
            lags.append(time.perf_counter() - (start + k * tick))
        if k == measure_tick:
            tally.first_measured = list(sent)
            window = Window(server, client_core())
            sent0, recv0 = sum(sent), tally.received
        if k == total_ticks:
            w = window.close()
            sent1, recv1 = sum(sent), tally.received
            break
        for conn in by_slot[k % slots]:
            s = conn.index
            q = sent[s]
            sent[s] = q + 1
            conn.send_chat(f"hi ~B{step}.{s}.{q}.{time.perf_counter_ns() // 1000}~")
        now = time.perf_counter()
        if now >= next_progress:
            next_progress = now + 0.5
            progress.update(
                f"{label}: U={n_users} {offered:,.0f} msg/s offered, "
                f"t={now - start:4.1f}/{warmup + duration:.0f}s, "
                f"{tally.received:,} messages in"
            )
    per_message = len(admins) + (1 if driver.echo else 0)
    expected = sum(sent) * per_message
    deadline = time.perf_counter() + drain
    while tally.first_arrivals < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
        progress.update(
            f"{label}: U={n_users} draining, "
            f"{tally.first_arrivals:,}/{expected:,} delivered"
        )
    drained_s = drain - max(0.0, deadline - time.perf_counter())
    loud_gc()

    lost, dup = tally.check(sent)
    wall = w["wall"]
    msgs = sent1 - sent0
    lat = sorted(tally.latencies_us)
    closed = sum(
        1 for c in [*admins, *users] if c.ws is not None and c.ws.closed.done()
    )
    others = [c for c in [*admins, *users] if c.other]
    errors = sum(c.other for c in others)
    p99 = percentile(lat, 0.99)
    lags.sort()
    lag_p99_ms = percentile(lags, 0.99) * 1000 if lags else None
    sent_rate = msgs / wall
    gen_util = w["gen_cpu_util"]
    server_util = w["server_cpu_util"]
    reasons = []
    if p99 is None or p99 / 1000 > LATENCY_LIMIT_MS:
        reasons.append(f"p99 > {LATENCY_LIMIT_MS:.0f} ms")
    if lost or dup or tally.misdelivered or closed:
        reasons.append("lost/duplicated/closed")
    if errors:
        reasons.append("error frames")
    if sent_rate < 0.95 * offered:
        reasons.append("generator behind schedule")
    return {
        "users": n_users,
        "admins": len(admins),
        "offered_msgs_per_s": offered,
        "sent_msgs_per_s": sent_rate,
        "deliveries_per_s": (recv1 - recv0) / wall,
        "frames_per_message": per_message,
        "messages": sum(sent),
        "expected_deliveries": expected,
        "lost": lost,
        "duplicates": dup,
        "misdelivered": tally.misdelivered,
        "stale": tally.stale,
        "malformed": tally.malformed,
        "error_frames": errors,
        "error_sample": others[0].last_other.decode(errors="replace") if others else "",
        "closed_sockets": closed,
        "drain_s": drained_s,
        "p50_ms": percentile(lat, 0.50) / 1000 if lat else None,
        "p90_ms": percentile(lat, 0.90) / 1000 if lat else None,
        "p99_ms": p99 / 1000 if lat else None,
        "max_ms": lat[-1] / 1000 if lat else None,
        "latency_samples": len(lat),
        "server_cpu_us_per_msg": w["server_cpu"] * 1e6 / msgs if msgs else None,
        "server_cpu_util": server_util,
        "gen_cpu_util": gen_util,
        # The generator's own timer lateness: when high, its loop is congested
        # and the latencies it measures include its own queueing.
        "gen_lag_p99_ms": lag_p99_ms,
        "other_on_server_core": w["other_on_server_core"],
        "other_on_client_core": w["other_on_client_core"],
        "window_s": wall,
        "passed": not reasons,
        "failed_because": ", ".join(reasons),
    }


async def measured_load(server, driver, admins, users, progress, label, **kw) -> dict:
    """``run_load`` on a quiet machine, again when other processes disturbed it."""
    for attempt in range(1, RETRIES + 2):
        await wait_quiet(server, progress, label)
        step = await run_load(server, driver, admins, users, progress, label, **kw)
        step["attempts"] = attempt
        if attempt > RETRIES or not disturbed(step):
            return step
        progress.note(
            f"  {label} U={len(users)}: other processes used "
            f"{step['other_on_server_core']:.0%} / {step['other_on_client_core']:.0%} "
            "of the server / generator cores, measuring again"
        )
        server.settle()


async def _open_admins(driver, progress, label):
    opened = await open_many(driver, servers.ADMINS, 5, progress, label)
    if opened.errors:
        raise servers.ServerFailed(
            f"{label}: admins could not connect: {opened.first_error}"
        )
    return opened.conns


async def _open_users(driver, users, first, last, progress, label):
    opened = await open_many(
        driver, [user_name(i) for i in range(first, last)], 50, progress, label
    )
    if opened.errors:
        raise servers.ServerFailed(
            f"{label}: {opened.errors} users could not connect: {opened.first_error}"
        )
    users.extend(opened.conns)


async def fanout(
    server, driver, progress, *, users: int, rate: float, warmup: float, duration: float
) -> dict:
    label = "fanout"
    await warm_up(driver, server, progress, label)
    admins = await _open_admins(driver, progress, label)
    conns: list = []
    try:
        await _open_users(driver, conns, 0, users, progress, label)
        await asyncio.sleep(0.3)
        server.settle()
        return await measured_load(
            server,
            driver,
            admins,
            conns,
            progress,
            label,
            rate=rate,
            warmup=warmup,
            duration=duration,
        )
    finally:
        progress.update(f"{label}: closing sockets")
        await driver.close([*admins, *conns])


async def _capacity_step(server, driver, admins, users, progress, **kw) -> dict:
    label = "capacity"
    await asyncio.sleep(0.3)
    server.settle()
    step = await measured_load(server, driver, admins, users, progress, label, **kw)
    progress.note(
        f"  {label} U={len(users)}: {step['sent_msgs_per_s']:,.0f} msg/s, "
        f"p99 {_fmt(step['p99_ms'])} ms, server {step['server_cpu_util']:.0%} "
        f"gen {step['gen_cpu_util']:.0%}, lost {step['lost']}"
        + ("" if step["passed"] else f"  -> fails: {step['failed_because']}")
    )
    return step


async def capacity(
    server,
    driver,
    progress,
    *,
    ladder: list[int],
    refine: bool = True,
    **kw,
) -> dict:
    """The fan-out load stepped up until p99 passes 50 ms or anything is lost.

    ``kw``: ``rate``, ``warmup``, ``duration`` of each step (see ``run_load``).
    """
    label = "capacity"
    await warm_up(driver, server, progress, label)
    admins = await _open_admins(driver, progress, label)
    conns: list = []
    steps = []
    try:
        for n in ladder:
            await _open_users(driver, conns, len(conns), n, progress, f"{label} U={n}")
            step = await _capacity_step(server, driver, admins, conns, progress, **kw)
            steps.append(step)
            if not step["passed"] or not server.alive():
                break
        # One step between the last pass and the first failure, so that the
        # capacity is known within ~1.4x rather than 2x.
        failed = steps[-1] if steps and not steps[-1]["passed"] else None
        last_pass = steps[-2] if failed and len(steps) > 1 else None
        if refine and last_pass and server.alive():
            n = round((last_pass["users"] * failed["users"]) ** 0.5)
            if last_pass["users"] < n < failed["users"]:
                server.settle()
                step = await _capacity_step(
                    server, driver, admins, conns[:n], progress, **kw
                )
                step["refined"] = True
                steps.append(step)
    finally:
        progress.update(f"{label}: closing sockets")
        await driver.close([*admins, *conns])
    passed = [s for s in steps if s["passed"]]
    best = max(passed, key=lambda s: s["sent_msgs_per_s"]) if passed else None
    # The lowest load that failed (the refined step, when it failed too).
    failed = min(
        (s for s in steps if not s["passed"]),
        key=lambda s: s["offered_msgs_per_s"],
        default=None,
    )
    if failed is None:
        limit = "not reached: the ladder ended first"
    elif failed["gen_cpu_util"] >= BUSY or "generator" in failed["failed_because"]:
        limit = f"load generator (its core {failed['gen_cpu_util']:.0%} busy)"
    elif failed["server_cpu_util"] >= BUSY:
        limit = (
            f"server (its core {failed['server_cpu_util']:.0%} busy, "
            f"the generator's {failed['gen_cpu_util']:.0%})"
        )
    else:
        lag = failed["gen_lag_p99_ms"]
        limit = (
            f"{failed['failed_because']} with neither core saturated (server "
            f"{failed['server_cpu_util']:.0%}, generator {failed['gen_cpu_util']:.0%}"
            + ("" if lag is None else f", generator timer lag p99 {lag:.1f} ms")
            + ")"
        )
    if failed is not None and failed["other_on_server_core"] > 0.1:
        limit += (
            f"; other processes used {failed['other_on_server_core']:.0%} "
            "of the server's core meanwhile"
        )
    return {
        "steps": steps,
        "capacity_msgs_per_s": best["sent_msgs_per_s"] if best else 0.0,
        "capacity_users": best["users"] if best else 0,
        "at_capacity": best,
        "first_failure": failed,
        "limit": limit,
    }


def _fmt(v):
    return "-" if v is None else f"{v:.1f}"


# -- idle ------------------------------------------------------------------------------


async def idle(
    server, driver, progress, *, sockets: int, n_users: int, settle_s: float = 3.0
) -> dict:
    label = "idle"
    await warm_up(driver, server, progress, label)
    await asyncio.sleep(1.0)
    rss0 = server.rss_kib()
    names = [user_name(i % n_users) for i in range(sockets)]
    opened = await open_many(driver, names, 50, progress, label)
    try:
        await asyncio.sleep(settle_s)
        server.settle()
        rss1 = server.rss_kib()
    finally:
        progress.update(f"{label}: closing {len(opened.conns)} sockets")
        await driver.close(opened.conns)
    ok = len(opened.conns)
    return {
        "sockets": ok,
        "errors": opened.errors,
        "first_error": opened.first_error,
        "rss_before_kib": rss0,
        "rss_after_kib": rss1,
        "kib_per_socket": (rss1 - rss0) / ok if ok else None,
    }


# -- history and inbox: HTTP on the history data set ----------------------------------


async def _http_cases(
    server,
    progress,
    cases: dict,
    *,
    scenario: str,
    seconds: float,
    concurrency: int,
    sequential: int,
    check,
) -> dict:
    """For each case ``key: (label, make)``, ``make()`` giving (path, headers):
    p50/p99 one request at a time (``sequential`` of them, at most ``seconds``),
    then req/s with ``concurrency`` in flight for ``seconds``. ``check(key,
    label, body)`` vets the first answer and returns figures to keep."""
    import aiohttp

    base = f"http://127.0.0.1:{server.port}"
    out = {}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def get(make) -> tuple[float, bytes]:
            path, headers = make()
            started = time.perf_counter()
            async with session.get(base + path, headers=headers) as response:
                body = await response.read()
                if response.status != 200:
                    raise servers.ServerFailed(
                        f"{path}: HTTP {response.status} {body[:200]!r}"
                    )
            return (time.perf_counter() - started) * 1000, body

        async def timed(make, in_flight: int, count: int, until: float) -> list:
            """Latencies of ``count`` requests (at most until ``until``), ``in_flight``
            at a time."""
            done: list[float] = []

            async def worker():
                while len(done) < count and time.perf_counter() < until:
                    done.append((await get(make))[0])

            await asyncio.gather(*(worker() for _ in range(in_flight)))
            return sorted(done)

        for key, (label, make) in cases.items():
            _, body = await get(make)
            kept = check(key, label, json.loads(body))
            await timed(make, 1, 20, time.perf_counter() + 10)  # warm-up
            server.settle()
            # Latency: one request at a time.
            for attempt in range(1, RETRIES + 2):
                await wait_quiet(server, progress, f"{scenario} {key}")
                progress.update(
                    f"{scenario} {key}: {sequential} requests, one at a time"
                )
                window = Window(server, client_core())
                lat = await timed(make, 1, sequential, time.perf_counter() + seconds)
                w = window.close()
                if attempt > RETRIES or not disturbed(w):
                    break
                progress.note(
                    f"  {scenario} {key}: disturbed by other processes, measuring again"
                )
            # Throughput: ``concurrency`` requests in flight for ``seconds``.
            progress.update(f"{scenario} {key}: {concurrency} requests in flight")
            cpu0, t0 = server.cpu_seconds(), time.perf_counter()
            loaded = await timed(make, concurrency, 10**9, t0 + seconds)
            wall = time.perf_counter() - t0
            cpu = server.cpu_seconds() - cpu0
            out[key] = {
                "label": label,
                "p50_ms": percentile(lat, 0.5),
                "p99_ms": percentile(lat, 0.99),
                "max_ms": lat[-1] if lat else None,
                "requests_sequential": len(lat),
                "req_per_s": len(loaded) / wall,
                "loaded_in_flight": concurrency,
                "loaded_p50_ms": percentile(loaded, 0.5),
                "loaded_p99_ms": percentile(loaded, 0.99),
                "server_cpu_ms_per_req": cpu * 1000 / len(loaded) if loaded else None,
                "server_cpu_util": cpu / wall,
                "attempts": attempt,
                "other_on_server_core": w["other_on_server_core"],
                "other_on_client_core": w["other_on_client_core"],
                **(kept or {}),
            }
            progress.note(
                f"  {scenario} {key}: p50 {out[key]['p50_ms']:.1f} / "
                f"p99 {out[key]['p99_ms']:.1f} ms (one at a time), "
                f"{out[key]['req_per_s']:.0f} req/s ({concurrency} in flight)"
            )
    return out


async def history(
    server, tokens, progress, *, seconds: float, concurrency: int, sequential: int
) -> dict:
    """History pages over HTTP on the history data set (ours only)."""
    admin_cookie = {"Cookie": f"token={tokens[servers.ADMINS[0]]}"}
    rng = random.Random(7)

    def thread_page():
        t = rng.randrange(servers.HISTORY_THREADS)
        return f"/api/messages?with={user_name(t)}&limit=50", admin_cookie

    def older_page():
        t = rng.randrange(servers.HISTORY_THREADS)
        ids = servers.history_thread_ids(t)
        before = ids[rng.randrange(60, len(ids))]
        return (
            f"/api/messages?with={user_name(t)}&before={before}&limit=50",
            admin_cookie,
        )

    def own_page():
        t = rng.randrange(servers.HISTORY_THREADS)
        return "/api/messages/mine?limit=50", {
            "Cookie": f"token={tokens[user_name(t)]}"
        }

    cases = {
        "thread": ("GET /api/messages?with=USER&limit=50 (admin)", thread_page),
        "older": ("same, an older page (&before=ID)", older_page),
        "mine": ("GET /api/messages/mine?limit=50 (user)", own_page),
    }

    def check(key, label, page):
        if len(page["messages"]) != 50 or not page["has_more"]:
            raise servers.ServerFailed(f"{label}: unexpected page {page!r:.300}")

    return await _http_cases(
        server,
        progress,
        cases,
        scenario="history",
        seconds=seconds,
        concurrency=concurrency,
        sequential=sequential,
        check=check,
    )


def inbox_cases(admin: str) -> dict[str, tuple[str, str]]:
    """The inbox scenario's requests: key -> (path, what it is)."""
    cases = {
        "all": ("/api/conversations", "first page, no filter"),
        "open": ("/api/conversations?status=open", "open"),
        "mine": (
            f"/api/conversations?assignee={admin}&status=open",
            "one admin's open conversations",
        ),
        "unassigned": ("/api/conversations?assignee=none&status=open", "unassigned"),
        "waiting": (
            "/api/conversations?needs_reply=1&status=open&order=waiting",
            "needs reply, longest waiting first",
        ),
        "resolved": ("/api/conversations?status=resolved", "resolved"),
    }
    for key, (query, what) in dataset.SEARCHES.items():
        cases[key] = (f"/api/conversations?q={query.replace(' ', '+')}", what)
    return cases


async def inbox(
    server,
    tokens,
    progress,
    *,
    seconds: float,
    concurrency: int,
    sequential: int,
    only: list[str] | None = None,
) -> dict:
    """The admins' inbox over HTTP on the history data set (ours only): the
    first page of each filter, and searches."""
    admin = servers.ADMINS[0]
    headers = {"Cookie": f"token={tokens[admin]}"}
    described = inbox_cases(admin)
    cases = {
        key: (path, lambda path=path: (path, headers))
        for key, (path, _) in described.items()
        if not only or key in only
    }
    if only and set(only) - set(described):
        raise ValueError(f"unknown inbox cases {sorted(set(only) - set(described))}")

    def check(key, label, page):
        rows = page["conversations"]
        if key == "q_none" and rows:
            raise servers.ServerFailed(f"{label}: matched {len(rows)} conversations")
        if key != "q_none" and not rows:
            raise servers.ServerFailed(f"{label}: matched nothing")
        return {
            "what": described[key][1],
            "rows": len(rows),
            "has_more": page["has_more"],
        }

    return await _http_cases(
        server,
        progress,
        cases,
        scenario="inbox",
        seconds=seconds,
        concurrency=concurrency,
        sequential=sequential,
        check=check,
    )
