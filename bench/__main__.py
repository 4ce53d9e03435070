"""``python -m bench`` (``make bench``): ours, and optionally the original, measured.

    make bench                                  # all scenarios, ours on daphne
    make bench COMPARE=original                 # the same against the Node original too
    make bench SCENARIOS=fanout,idle SERVER=uvicorn
    make bench SERVER=daphne,uvicorn COMPARE=original BENCH_ARGS=--quick
    make bench SCENARIOS=history,inbox DATABASE=sqlite,postgres SERVER=uvicorn

The server gets core 0 (``taskset -c 0``), this process -- the load
generator -- core 1, and nothing leaves the loopback interface. Every load is
bounded in count and time. See bench/scenarios.py for what each scenario does.
"""

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime
from importlib import metadata

from bench import drivers, report, scenarios, servers

ALL_SCENARIOS = ["handshake", "fanout", "capacity", "idle", "history", "inbox"]
# The scenarios on the history data set: the only ones --database postgres runs.
DATA_SET_SCENARIOS = ("history", "inbox")
DATABASES = ("sqlite", "postgres")
# Steps of 15 % from 200 users (1,600 msg/s) up: capacity known within 7 %
# once the refined step between the last pass and the first failure is run.
DEFAULT_LADDER = (
    "10,25,50,100,200,230,265,305,350,400,460,530,610,700,800,920,1060,1220,1400,1600"
)


class Progress:
    """One status line on stderr, rewritten in place; ``note`` leaves a line behind."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.prefix = ""
        self.started = time.monotonic()
        self._last = 0.0
        self._width = shutil.get_terminal_size((120, 20)).columns - 1

    def update(self, text: str) -> None:
        now = time.monotonic()
        if now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        line = f"[{now - self.started:5.0f}s] {self.prefix}{text}"
        if self.tty:
            self.stream.write("\r" + line[: self._width].ljust(self._width))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + " " * self._width + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last = 0.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n")[0]
    )
    p.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    p.add_argument(
        "--server", default="daphne", help="daphne, uvicorn, both (comma) or none"
    )
    p.add_argument(
        "--database",
        default="sqlite",
        help="sqlite, postgres or both (comma): the database of ours; postgres "
        "runs the history and inbox scenarios on a private PostgreSQL server",
    )
    p.add_argument(
        "--compare",
        default="",
        help="'original': also run the original Node app (bench/original-node)",
    )
    p.add_argument(
        "--sio-client",
        default="raw",
        choices=["raw", "python-socketio"],
        help="Socket.IO driver for the original (raw: bench/wsclient.py framing)",
    )
    p.add_argument(
        "--original-para",
        default="self",
        choices=["self", "admin"],
        help="'para' of users' messages to the original (self: 6 frames like ours)",
    )
    p.add_argument(
        "--quick", action="store_true", help="small numbers, for a smoke run"
    )
    p.add_argument("--handshake-n", type=int, default=1000)
    p.add_argument("--handshake-c", type=int, default=50)
    p.add_argument("--fanout-users", type=int, default=100)
    p.add_argument("--fanout-seconds", type=float, default=10.0)
    p.add_argument(
        "--rate", type=float, default=8.0, help="messages/s per user (limit: 10)"
    )
    p.add_argument("--ladder", default=DEFAULT_LADDER, help="users per capacity step")
    p.add_argument("--step-seconds", type=float, default=8.0)
    p.add_argument(
        "--no-refine",
        action="store_true",
        help="no extra capacity step between the last pass and the first failure",
    )
    p.add_argument("--warmup-seconds", type=float, default=1.5)
    p.add_argument("--idle-sockets", type=int, default=2000)
    p.add_argument("--history-seconds", type=float, default=5.0)
    p.add_argument("--history-concurrency", type=int, default=8)
    p.add_argument("--history-sequential", type=int, default=500)
    p.add_argument(
        "--inbox-cases",
        default="",
        help="only these inbox requests (keys, comma: all, open, mine, unassigned, "
        "waiting, resolved, q_rare, q_common, q_accent, q_name, q_two, q_none)",
    )
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument(
        "--sched",
        default="fifo",
        choices=["fifo", "nice", "none"],
        help="fifo (default, when permitted): the load generator runs SCHED_FIFO "
        "so other work on a shared machine cannot delay its reads; the servers "
        "always run SCHED_OTHER at --nice",
    )
    p.add_argument(
        "--nice",
        type=int,
        default=-20 if os.geteuid() == 0 else 0,
        help="niceness of this process and the servers it starts (inherited), "
        "so other work on a shared machine disturbs the measurement less",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    if args.quick:
        args.handshake_n = min(args.handshake_n, 200)
        args.fanout_users = min(args.fanout_users, 20)
        args.fanout_seconds = min(args.fanout_seconds, 3.0)
        args.ladder = "10,25,50"
        args.step_seconds = min(args.step_seconds, 3.0)
        args.warmup_seconds = min(args.warmup_seconds, 1.0)
        args.idle_sockets = min(args.idle_sockets, 300)
        args.history_seconds = min(args.history_seconds, 1.0)
        args.history_sequential = min(args.history_sequential, 100)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(ALL_SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios {sorted(unknown)}; choose from {ALL_SCENARIOS}")
    args.servers = [
        s.strip() for s in args.server.split(",") if s.strip() not in ("", "none")
    ]
    known = {
        f"{name}{mode}"
        for name in servers.UVICORN_WS_PROTOCOLS.keys() | {"daphne"}
        for mode in ("", "+coalesce")
    }
    if set(args.servers) - known:
        p.error(
            "--server: daphne, uvicorn (README's command: the project's own "
            "WebSocket protocol), uvicorn-wsproto and/or uvicorn-sansio "
            "(uvicorn's stock protocols), each optionally +coalesce "
            "(or none, with --compare original)"
        )
    args.inbox_cases = [c.strip() for c in args.inbox_cases.split(",") if c.strip()]
    args.databases = [d.strip() for d in args.database.split(",") if d.strip()]
    if not args.databases or set(args.databases) - set(DATABASES):
        p.error("--database: sqlite and/or postgres")
    if "postgres" in args.databases and not set(args.scenarios) & set(
        DATA_SET_SCENARIOS
    ):
        p.error("--database postgres: only the history and inbox scenarios run on it")
    if args.compare not in ("", "original"):
        p.error("--compare: 'original' is the only peer")
    args.ladder = [int(u) for u in args.ladder.split(",")]
    if args.rate >= 10:
        p.error("--rate must stay under the server's limit of 10 messages/s")
    return args


def pin_and_raise_limits(args, progress):
    cores = os.sched_getaffinity(0)
    if {
        args.server_core,
        args.client_core,
    } <= cores and args.server_core != args.client_core:
        os.sched_setaffinity(0, {args.client_core})
    else:
        progress.note(
            f"warning: cores {sorted(cores)}: cannot pin server and generator apart"
        )
    if args.nice and args.sched != "none":
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)
        except OSError as err:
            progress.note(f"warning: cannot set niceness {args.nice}: {err}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(args.idle_sockets, max(args.ladder), args.handshake_n) * 2 + 512
    if soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(hard, max(need, soft))
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < need:
            progress.note(f"warning: open-file limit {target} < {need} needed")


def realtime(args, progress) -> str:
    """SCHED_FIFO for the load generator (this process) only; say what each runs at.

    Other people's test runs on a shared 2-core machine otherwise delay the
    generator's reads and inflate every latency it measures. The servers are
    started with ``chrt --other`` (SCHED_FIFO distorts them, see servers.py)
    and inherit only the niceness. The kernel's RT throttling leaves other
    processes at least 5% of the generator's core.
    """
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    servers_at = f"servers SCHED_OTHER, niceness {nice}"
    if args.sched != "fifo":
        return f"generator SCHED_OTHER, {servers_at}"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (OSError, AttributeError) as err:
        progress.note(f"warning: SCHED_FIFO not permitted ({err})")
        return f"generator SCHED_OTHER, {servers_at}"
    scenarios.GENERATOR_RT = True
    return f"generator SCHED_FIFO 1, {servers_at}"


def make_driver(target, port, args):
    if target.kind == "ours":
        return drivers.OursDriver(port, target.tokens, coalesce=target.coalesce)
    cls = (
        drivers.PySocketIODriver
        if args.sio_client == "python-socketio"
        else drivers.SioDriver
    )
    return cls(port, target.tokens, para=args.original_para)


async def run_scenario(name, target, args, n_users, progress, workdir):
    if name in DATA_SET_SCENARIOS:
        if target.kind == "original":
            return {"na": "n/a"}
        server = target.start(database=args.history_db)
    elif target.database != "sqlite":
        return {"na": "n/a (SQLite only)"}
    else:
        server = target.start()
    try:
        if name in DATA_SET_SCENARIOS:
            only = {"only": args.inbox_cases} if name == "inbox" else {}
            return await getattr(scenarios, name)(
                server,
                target.tokens,
                progress,
                seconds=args.history_seconds,
                concurrency=args.history_concurrency,
                sequential=args.history_sequential,
                **only,
            )
        driver = make_driver(target, server.port, args)
        if name == "handshake":
            return await scenarios.handshake(
                server,
                driver,
                progress,
                n=args.handshake_n,
                concurrency=args.handshake_c,
            )
        if name == "fanout":
            return await scenarios.fanout(
                server,
                driver,
                progress,
                users=args.fanout_users,
                rate=args.rate,
                warmup=args.warmup_seconds,
                duration=args.fanout_seconds,
            )
        if name == "capacity":
            return await scenarios.capacity(
                server,
                driver,
                progress,
                ladder=args.ladder,
                refine=not args.no_refine,
                rate=args.rate,
                warmup=args.warmup_seconds,
                duration=args.step_seconds,
            )
        if name == "idle":
            return await scenarios.idle(
                server, driver, progress, sockets=args.idle_sockets, n_users=n_users
            )
        raise ValueError(name)
    finally:
        server.stop()


def summary(name, data) -> str:
    if "error" in data:
        return f"ERROR {data['error'][:300]}"
    if "na" in data:
        return "n/a"
    if name == "handshake":
        return (
            f"{data['connects_per_s']:.0f} connects/s, p99 {data['p99_ms']:.1f} ms, "
            f"{data['server_cpu_ms_per_connect']:.2f} ms CPU/connect, "
            f"errors {data['errors']}"
        )
    if name == "fanout":
        return (
            f"{data['sent_msgs_per_s']:.0f} msg/s, p50 {data['p50_ms']:.1f} / "
            f"p99 {data['p99_ms']:.1f} ms, "
            f"{data['server_cpu_us_per_msg']:.0f} µs CPU/msg, "
            f"lost {data['lost']} dup {data['duplicates']}"
            + ("" if data["passed"] else f" ({data['failed_because']})")
        )
    if name == "capacity":
        return (
            f"{data['capacity_msgs_per_s']:.0f} msg/s sustained; "
            f"limited by {data['limit']}"
        )
    if name == "idle":
        return f"{data['kib_per_socket']:.1f} KiB/socket ({data['sockets']} sockets)"
    if name in DATA_SET_SCENARIOS:
        return ", ".join(
            f"{k} p99 {v['p99_ms']:.1f} ms {v['req_per_s']:.0f} req/s"
            for k, v in data.items()
            if isinstance(v, dict)
        )
    return ""


async def run_all(args, targets, n_users, progress, workdir, results):
    for name in args.scenarios:
        results["scenarios"][name] = {}
        for target in targets:
            progress.prefix = f"{target.label} "
            started = time.monotonic()
            try:
                data = await run_scenario(
                    name, target, args, n_users, progress, workdir
                )
            except Exception as err:  # noqa: BLE001 - one failure must not end the run
                data = {"error": f"{type(err).__name__}: {err}"}
                traceback.print_exc(file=sys.stderr)
            if isinstance(data, dict) and "na" not in data:
                data["elapsed_s"] = time.monotonic() - started
            results["scenarios"][name][target.key] = data
            progress.prefix = ""
            progress.note(f"{name:9s} {target.label:18s} {summary(name, data)}")


def versions(with_original: bool) -> dict[str, str]:
    out = {"Python": platform.python_version()}
    for pkg in ("Django", "channels", "daphne", "uvicorn", "websockets"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    if with_original:
        out.update(servers.original_versions())
    return out


def git_commit() -> str:
    def git(*a):
        return subprocess.run(
            ["git", *a], cwd=servers.ROOT, capture_output=True, text=True
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (
        " (with uncommitted changes)" if git("status", "--porcelain") else ""
    )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


DATABASE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def prepare_data_set(args, env, targets, results, workdir, progress):
    """The history data set, on SQLite (cached by schema) and, when asked, in
    a private PostgreSQL server (kept between runs); that server, or None."""
    started = time.monotonic()
    args.history_db, key, cached = servers.history_database(workdir, progress)
    figures = servers.history_figures(args.history_db)
    sqlite_s = time.monotonic() - started
    if not cached:
        progress.note(
            f"data set: generated {servers.HISTORY_MESSAGES:,} messages in "
            f"{sqlite_s:.0f} s, cached as {args.history_db}"
        )
    data_set = results["meta"]["data_set"] = {
        "figures": figures,
        "sqlite": {"cached": cached, "built_s": figures.get("built_s")},
    }
    if "postgres" not in args.databases:
        return None
    from bench import pg

    postgres = pg.BenchPostgres(args.server_core, progress)
    try:
        started = time.monotonic()
        postgres.start()
        kept = postgres.history(args.history_db, key, env)
        postgres.pin()
    except BaseException:
        postgres.stop()
        raise
    if not kept:
        progress.note(
            f"data set: loaded into PostgreSQL in {time.monotonic() - started:.0f} s "
            f"({postgres.figures})"
        )
    data_set["postgres"] = {"cached": kept, **postgres.figures}
    results["notes"].append(
        "PostgreSQL: a private server (bench/pg.py) pinned to the server's core "
        f"{args.server_core}, so the application and its database share one core "
        "as with SQLite; the server CPU figures include the database's processes. "
        "Settings as installed (shared_buffers 128 MB); the application opens a "
        "connection per HTTP request (CONN_MAX_AGE=0, chatproject/settings.py), "
        "and that is measured too."
    )
    results["meta"]["versions"]["PostgreSQL"] = postgres.psql(
        "SHOW server_version"
    ).strip()
    for target in targets:
        if target.database == "postgres":
            target.postgres = postgres
    return postgres


def main(argv=None) -> int:
    args = parse_args(argv)
    progress = Progress()
    pin_and_raise_limits(args, progress)
    started = datetime.now()
    t0 = time.monotonic()
    workdir = servers.Path(tempfile.mkdtemp(prefix="chat-bench-"))
    postgres = None
    # A fixed number unless a scenario needs more: the cached history database
    # is keyed by its users too.
    n_users = max(
        max(args.ladder), args.idle_sockets, args.handshake_n, servers.MIN_USERS
    )
    try:
        progress.update(
            f"preparing: migrating a database, {n_users:,} users and their tokens"
        )
        env, tokens = servers.prepare_ours(workdir, n_users)
        with_db = args.databases != ["sqlite"]
        targets = [
            servers.Target(
                key=f"ours-{name}" + ("" if database == "sqlite" else f"-{database}"),
                label=f"ours ({name.replace('+', ', ')}"
                + (f", {DATABASE_NAMES[database]})" if with_db else ")"),
                kind="ours",
                server=name.split("+")[0],
                coalesce=name.endswith("+coalesce"),
                workdir=workdir,
                core=args.server_core,
                env=env,
                tokens=tokens,
                database=database,
            )
            for database in args.databases
            for name in args.servers
        ]
        if args.compare == "original":
            servers.prepare_original(progress)
            secret = secrets.token_urlsafe(40)
            original_tokens = {
                name: drivers.original_token(secret, name, f"Support {i}", "admin")
                for i, name in enumerate(servers.ADMINS)
            } | {
                servers.user_name(i): drivers.original_token(
                    secret, servers.user_name(i), f"User {i}", "user"
                )
                for i in range(n_users)
            }
            targets.append(
                servers.Target(
                    key="original",
                    label="original (node)",
                    kind="original",
                    server="node",
                    workdir=workdir,
                    core=args.server_core,
                    env={"JWT_SECRET": secret},
                    tokens=original_tokens,
                )
            )
        try:
            import uvloop

            loop_name = f"uvloop {uvloop.__version__}"
            runner = uvloop.run
        except ImportError:
            loop_name, runner = "asyncio", asyncio.run
        results = {
            "meta": {
                "command": "python -m bench "
                + " ".join(argv if argv is not None else sys.argv[1:]),
                "started": started.strftime("%Y-%m-%d %H:%M:%S"),
                "commit": git_commit(),
                "cpu": cpu_model(),
                "cores": os.cpu_count(),
                "server_core": args.server_core,
                "nice": os.getpriority(os.PRIO_PROCESS, 0),
                "scheduling": "",
                "client_core": args.client_core,
                "python": platform.python_version(),
                "loop": loop_name,
                "versions": versions(args.compare == "original"),
                "sio_client": args.sio_client,
                "original_para": args.original_para,
            },
            "params": {
                k: getattr(args, k)
                for k in (
                    "handshake_n",
                    "handshake_c",
                    "fanout_users",
                    "fanout_seconds",
                    "rate",
                    "ladder",
                    "step_seconds",
                    "warmup_seconds",
                    "idle_sockets",
                    "history_seconds",
                    "history_concurrency",
                    "history_sequential",
                    "databases",
                )
            },
            "targets": {
                t.key: {
                    "label": t.label,
                    "kind": t.kind,
                    "command": t.display_command(),
                    "database": t.database,
                }
                for t in targets
            },
            "scenarios": {},
            "notes": [],
        }
        if "history" in args.scenarios and args.compare == "original":
            results["notes"].append(
                "history: n/a for the original — server.js serves no message "
                "history over HTTP (its Express app has only /health; the original's "
                "REST routes are not part of the re-implementation), so there is "
                "nothing comparable to time."
            )
        if args.sio_client == "python-socketio":
            results["notes"].append(
                "The original was driven through python-socketio's AsyncClient "
                "(--sio-client python-socketio): the load generator costs more "
                "per frame."
            )
        args.history_db = None
        if set(args.scenarios) & set(DATA_SET_SCENARIOS):
            postgres = prepare_data_set(args, env, targets, results, workdir, progress)
        results["meta"]["scheduling"] = realtime(args, progress)
        runner(run_all(args, targets, n_users, progress, workdir, results))
        results["meta"]["duration_s"] = time.monotonic() - t0
        report.write(results)
        return 0
    finally:
        if postgres is not None:
            postgres.stop()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
