"""``python -m bench.import_original`` (``make bench-import``): issue 16's
"must show", that ``manage.py import_original`` moves 100,000 accounts and
1,000,000 messages from the original app's MySQL database in under 5
minutes, into SQLite and into PostgreSQL.

    make bench-import                                  # both databases, full size
    make bench-import DATABASE=postgres
    make bench-import BENCH_ARGS="--accounts 1000 --messages 10000"   # a smoke run

1. A private MariaDB server (tests/original/mariadb.py) gets the original's
   schema, filled on the server side (``INSERT ... SELECT`` over the sequence
   engine's ``seq_1_to_N``): 5 admins (admin1 ... admin5, rol 'admin') and
   users; users write to the team (``para_usuario = 'admin'``), admins reply
   to one user, ~3% of the rows user -> user (the importer skips them);
   texts of 20 to 300 characters from Spanish and English phrases; ``fecha``
   over a year, increasing with ``id``; thread sizes skewed (a few threads
   of thousands, most of a few). One bcryptjs-format hash ("$2a$08$...", of
   the password ``PASSWORD``) for every account: the importer copies hashes,
   it does not compute them. The fill is timed apart from the figure.
2. For each database, a fresh empty one, migrated (``manage.py migrate``,
   not timed), then ``manage.py import_original --database <mariadb url>
   --admins admin1,...,admin5 --no-progress`` run as a child process: its
   wall time, CPU and peak RSS (``os.wait4``). The outcome is checked with
   SQL counts against what the MariaDB rows say (accounts, messages, threads),
   so a broken import cannot pass on its speed. Then the same command again:
   the re-run must import nothing, and is timed too.
3. A table on stdout, and every figure in ``bench/results/import-<time>.json``
   (git-ignored, like the other raw results).

Nothing is pinned: the importer, MariaDB and PostgreSQL share the machine's
cores, as they would on a server during a migration. The CPU that other
processes used meanwhile is recorded ("others' CPU") since a busy machine
makes the figure slower than it is.
"""

import argparse
import contextlib
import hashlib
import json
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path

from bench import servers
from bench.__main__ import Progress, cpu_model, git_commit
from bench.report import RESULTS

sys.path.insert(0, str(servers.ROOT))
from bench.original_data import ADMINS, N_ADMINS, PASSWORD, fill
from tests.original.mariadb import running_mariadb

DATABASES = ("sqlite", "postgres")
DATABASE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
LIMIT_SECONDS = 300  # the bound
IMPORT_TIMEOUT_SECONDS = 3600
WORK = servers.VAR / "import"  # the PostgreSQL server's data (var/bench/import/pg)


class ImportPostgres:
    """bench/pg.py's private server, with its data in var/bench/import/pg (its
    own lock: a ``make bench`` may run beside this)."""

    def __init__(self, progress):
        from bench import pg

        WORK.mkdir(parents=True, exist_ok=True)
        WORK.chmod(0o755)  # under root the server runs as `postgres`
        self.server = pg.BenchPostgres.__new__(pg.BenchPostgres)
        self.server.core, self.server.progress = None, progress
        self.server.part = pg.Postgres(pg.Server(WORK, servers.free_port()))
        self.server.password = secrets.token_urlsafe(24)
        self.server.figures, self.server._copies, self.server._lock = {}, 0, None
        self.progress = progress
        self._lock = None

    def start(self) -> None:
        import fcntl

        from bench import pg

        self._lock = open(WORK / "pg.lock", "w")  # noqa: SIM115 (held until stop)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another run uses {self.server.part.data}") from None
        if pg.stop_server(self.server.part):
            self.progress.note("postgres: stopped a server left by an earlier run")
        pg.start_server(self.server.part, self.server.password)

    def stop(self) -> None:
        self.server.stop()
        if self._lock is not None:
            self._lock.close()


def new_database(kind: str, folder: Path, postgres) -> tuple[str, object]:
    """A fresh, empty target: (its DATABASE_URL, a handle to count with)."""
    if kind == "sqlite":
        path = folder / "import.sqlite3"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", path
    name = "import_bench"
    if postgres.server.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 (a constant)
    ):
        postgres.server.psql(f"DROP DATABASE {name} WITH (FORCE)")
    postgres.server.psql(f"CREATE DATABASE {name} OWNER chat")
    return postgres.server.url(name), name


def count(kind: str, handle, postgres) -> dict:
    sql = (
        "SELECT (SELECT COUNT(*) FROM accounts_user),"
        " (SELECT COUNT(*) FROM accounts_user WHERE role = 'admin'),"
        " (SELECT COUNT(*) FROM chat_message),"
        " (SELECT COUNT(*) FROM chat_thread),"
        " (SELECT COUNT(*) FROM chat_thread WHERE waiting_since IS NULL)"
    )
    if kind == "sqlite":
        with contextlib.closing(sqlite3.connect(handle)) as db:
            row = db.execute(sql).fetchone()
    else:
        with postgres.server.connect(handle) as db:
            row = db.execute(sql).fetchone()
    return dict(
        zip(
            ["accounts", "admins", "messages", "threads", "threads_not_waiting"],
            row,
            strict=True,
        )
    )


def database_size_mib(kind: str, handle, postgres) -> float:
    if kind == "sqlite":
        return round(
            sum(
                Path(f"{handle}{s}").stat().st_size
                for s in ("", "-wal")
                if Path(f"{handle}{s}").exists()
            )
            / 2**20
        )
    size = postgres.server.psql(f"SELECT pg_database_size('{handle}')").strip()
    return round(int(size) / 2**20)


# -- one command, measured --------------------------------------------------------


def cpu_busy_seconds() -> float:
    """CPU time every core spent running anything (or stolen), so far."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / servers.CLK_TCK


def pid_cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process and of its children it reaped."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / servers.CLK_TCK


def run_measured(argv, env, log: Path, database_cpu, profile: Path | None) -> dict:
    """Run ``argv``; its wall time, CPU and peak RSS (``wait4``), the CPU the
    databases and the rest of the machine used meanwhile, its output."""
    busy0, db0 = cpu_busy_seconds(), database_cpu()
    with log.open("wb") as out:
        started = time.monotonic()
        child = subprocess.Popen(
            argv, cwd=servers.ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        spy = None
        if profile is not None:
            spy = subprocess.Popen(
                [str(servers.BIN / "py-spy"), "record", "--pid", str(child.pid),
                 "--rate", "100", "--nonblocking", "--idle", "--format", "raw",
                 "--output", str(profile)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = started + IMPORT_TIMEOUT_SECONDS
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    if spy is not None:
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.terminate()
            spy.wait(timeout=10)
    cpu = usage.ru_utime + usage.ru_stime
    database = database_cpu() - db0
    output = log.read_text(errors="replace")
    return {
        "exit": child.returncode,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "user_s": round(usage.ru_utime, 2),
        "system_s": round(usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "database_cpu_s": round(database, 2),
        # Everything else on the machine: other people's tests, mostly.
        "others_cpu_s": round(max(0.0, cpu_busy_seconds() - busy0 - cpu - database), 2),
        "output": output,
    }


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def bench_database(kind, args, source, expected, env, folder, postgres, progress):
    url, handle = new_database(kind, folder, postgres)
    env = {**env, "DATABASE_URL": url}
    started = time.monotonic()
    progress.note(f"{kind}: migrating a fresh database")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=servers.ROOT, env=env, check=True, timeout=600,
    )  # fmt: skip
    result: dict = {"migrate_s": round(time.monotonic() - started, 1)}
    before = count(kind, handle, postgres)
    command = [
        sys.executable, "manage.py", "import_original", "--database", source.url,
        "--admins", ",".join(ADMINS), "--no-progress",
    ]  # fmt: skip
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    result["command"] = " ".join(command[1:]).replace(source.url, "mysql://...")
    mariadb_pid = _pid(folder / "mariadb" / "pid")

    def database_cpu() -> float:
        own = postgres.server.cpu_seconds() if kind == "postgres" else 0.0
        return own + pid_cpu_seconds(mariadb_pid)

    for run in ("import", "rerun"):
        progress.note(f"{kind}: manage.py import_original ({run})")
        profile = args.profile / f"{kind}-{run}.txt" if args.profile else None
        measured = run_measured(
            command, env, folder / f"{kind}-{run}.log", database_cpu, profile
        )
        measured["counts"] = count(kind, handle, postgres)
        result[run] = measured
        print(f"\n--- {kind}, {run}: exit {measured['exit']}, "
              f"{measured['wall_s']:.1f} s ---\n{tail(measured['output'])}\n",
              flush=True)  # fmt: skip
        if measured["exit"] != 0:
            break
    result["database_mib"] = database_size_mib(kind, handle, postgres)
    result["checks"] = check(before, result, expected)
    result["pass"] = (
        not result["checks"] and result["import"]["wall_s"] < args.limit_seconds
    )
    if kind == "postgres" and not args.keep:
        postgres.server.psql(f"DROP DATABASE IF EXISTS {handle} WITH (FORCE)")
    return result


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def check(before: dict, result: dict, expected: dict) -> list[str]:
    """What is wrong with the outcome ([] if nothing)."""
    problems = []
    if before["accounts"] or before["messages"] or before["threads"]:
        problems.append(f"the migrated database was not empty: {before}")
    for run in ("import", "rerun"):
        if run not in result:
            problems.append(f"{run}: not run")
            continue
        if result[run]["exit"] != 0:
            problems.append(f"{run}: exit code {result[run]['exit']}")
        if "Took" not in result[run]["output"]:
            problems.append(f"{run}: no 'Took' line in its report")
    got = result.get("import", {}).get("counts")
    if got:
        if got["accounts"] != expected["source_accounts"]:
            problems.append(
                f"accounts: {got['accounts']:,}, "
                f"expected {expected['source_accounts']:,}"
            )
        if got["admins"] != N_ADMINS:
            problems.append(f"admins: {got['admins']}, expected {N_ADMINS}")
        if got["messages"] != expected["expected_messages"]:
            problems.append(
                f"messages: {got['messages']:,}, expected "
                f"{expected['expected_messages']:,}"
            )
        # A thread for each user with a message, or for every user.
        low, high = expected["expected_threads"], expected["source_accounts"] - N_ADMINS
        if not low <= got["threads"] <= high:
            problems.append(
                f"threads: {got['threads']:,}, expected {low:,} (users with a "
                f"message) to {high:,} (all users)"
            )
        # The desk's rule: no customer waits where the team spoke last.
        if got["threads_not_waiting"] != expected["threads_ending_with_team_reply"]:
            problems.append(
                f"threads not waiting: {got['threads_not_waiting']:,}, expected "
                f"{expected['threads_ending_with_team_reply']:,} "
                "(threads whose newest message is the team's)"
            )
    again = result.get("rerun", {}).get("counts")
    if got and again and again != got:
        problems.append(f"the re-run changed the counts: {got} -> {again}")
    return problems


# -- the report ------------------------------------------------------------------------


def table(results) -> str:
    rows = [
        "| database | accounts | messages | threads | import s | re-run s | "
        "peak RSS MiB | importer CPU s | databases' CPU s | others' CPU s | "
        f"< {results['params']['limit_seconds']} s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for kind, r in results["databases"].items():
        if "error" in r:
            rows.append(f"| {DATABASE_NAMES[kind]} | error: {r['error']} |")
            continue
        imp, again = r.get("import", {}), r.get("rerun", {})
        counts = imp.get("counts", {})
        verdict = "PASS" if r["pass"] else "FAIL"
        rss = max(imp.get("peak_rss_mib", 0), again.get("peak_rss_mib", 0))
        rows.append(
            f"| {DATABASE_NAMES[kind]} | {counts.get('accounts', 0):,} | "
            f"{counts.get('messages', 0):,} | {counts.get('threads', 0):,} | "
            f"{imp.get('wall_s', float('nan')):.1f} | "
            f"{again.get('wall_s', float('nan')):.1f} | {rss:.0f} | "
            f"{imp.get('cpu_s', float('nan')):.1f} | "
            f"{imp.get('database_cpu_s', float('nan')):.1f} | "
            f"{imp.get('others_cpu_s', float('nan')):.1f} | {verdict} |"
        )
    return "\n".join(rows)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m bench.import_original", description=__doc__.split("\n")[0]
    )
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument(
        "--database",
        default="sqlite,postgres",
        help="sqlite, postgres or sqlite,postgres (in that order)",
    )
    p.add_argument("--batch-size", type=int, help="passed to import_original")
    p.add_argument("--limit-seconds", type=float, default=LIMIT_SECONDS)
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="py-spy samples the importer, idle stacks included (wall "
                   "time: waits on the databases show), into "
                   "DIR/<database>-<run>.txt (collapsed stacks); the figures are "
                   "then not for quoting")  # fmt: skip
    p.add_argument("--keep", action="store_true",
                   help="keep the work folder (MariaDB, SQLite file, logs) and the "
                   "PostgreSQL database; say where")  # fmt: skip
    args = p.parse_args(argv)
    args.databases = [d.strip() for d in args.database.split(",") if d.strip()]
    unknown = set(args.databases) - set(DATABASES)
    if unknown or not args.databases:
        p.error(f"--database: one or more of {', '.join(DATABASES)}")
    return args


def importer_digest() -> str:
    """A digest of the importer's code (legacy/), to tell runs of different
    versions apart (and a run during which it changed)."""
    digest = hashlib.sha256()
    for path in sorted((servers.ROOT / "legacy").rglob("*.py")):
        digest.update(path.relative_to(servers.ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def main(argv=None) -> int:
    args = parse_args(argv)
    progress = Progress()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    started = datetime.now()
    env = {
        **servers.BASE_ENV,
        **servers.django_env(Path("/nonexistent")),  # DATABASE_URL set per target
        "LOG_LEVEL": "WARNING",
    }
    import bcrypt

    password_hash = bcrypt.hashpw(
        PASSWORD.encode(), bcrypt.gensalt(8, prefix=b"2a")
    ).decode()
    results = {
        "meta": {
            "command": "python -m bench.import_original "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "started": started.strftime("%Y-%m-%d %H:%M:%S"),
            "commit": git_commit(),
            "importer": importer_digest(),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "load_average_before": os.getloadavg(),
            "python": platform.python_version(),
            "versions": {
                pkg: metadata.version(pkg)
                for pkg in ("Django", "PyMySQL", "psycopg")
                if _installed(pkg)
            },
        },
        "params": {
            "accounts": args.accounts,
            "messages": args.messages,
            "databases": args.databases,
            "batch_size": args.batch_size,
            "limit_seconds": args.limit_seconds,
            "admins": ADMINS,
            "profiled": bool(args.profile),
        },
        "source": {},
        "databases": {},
    }
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    postgres = None
    try:
        (folder / "mariadb").mkdir()
        progress.note(f"mariadb: starting a private server in {folder / 'mariadb'}")
        with running_mariadb(folder / "mariadb") as source:
            results["meta"]["versions"]["MariaDB"] = source.sql(
                "SELECT VERSION()"
            ).splitlines()[-1]
            progress.note(
                f"mariadb: filling {args.accounts:,} accounts, "
                f"{args.messages:,} messages (INSERT ... SELECT over seq_1_to_N)"
            )
            results["source"] = fill(
                source, args.accounts, args.messages, password_hash
            )
            s = results["source"]
            progress.note(
                f"mariadb: filled in {s['fill_s']:.1f} s "
                f"(accounts {s['accounts_s']:.1f} s, "
                f"messages {s['messages_s']:.1f} s, {s['source_mib']} MiB), "
                f"counted in {s['counted_s']:.1f} s: "
                f"{s['expected_messages']:,} importable messages in "
                f"{s['expected_threads']:,} threads, "
                f"{s['threads_ending_with_team_reply']:,} ending with a team reply; "
                f"texts {s['text_min_chars']}-{s['text_max_chars']} chars "
                f"(mean {s['text_avg_chars']}); largest thread {s['largest_thread']:,}"
            )
            if "postgres" in args.databases:
                postgres = ImportPostgres(progress)
                progress.note("postgres: starting (initdb the first time)")
                postgres.start()
                results["meta"]["versions"]["PostgreSQL"] = postgres.server.psql(
                    "SHOW server_version"
                ).strip()
            for kind in args.databases:
                try:
                    results["databases"][kind] = bench_database(
                        kind, args, source, s, env, folder, postgres, progress
                    )
                except (subprocess.SubprocessError, OSError) as err:
                    results["databases"][kind] = {"error": str(err)}
                for problem in results["databases"][kind].get("checks", []):
                    progress.note(f"{kind}: FAIL: {problem}")
    finally:
        if postgres is not None:
            postgres.stop()
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    results["meta"]["load_average_after"] = os.getloadavg()
    if importer_digest() != results["meta"]["importer"]:
        results["meta"]["importer_changed_during_run"] = importer_digest()
        print("note: legacy/ changed during the run: the figures mix versions",
              file=sys.stderr)  # fmt: skip
    results["meta"]["duration_s"] = round((datetime.now() - started).total_seconds())
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = (
        results["meta"]["started"].replace(":", "").replace("-", "").replace(" ", "-")
    )
    raw = RESULTS / f"import-{stamp}.json"
    raw.write_text(json.dumps(results, indent=2, default=str))
    s = results["source"]
    print(
        f"\nimport_original: {s.get('source_accounts', 0):,} accounts, "
        f"{s.get('source_messages', 0):,} messages in MariaDB "
        f"(filled in {s.get('fill_s', 0):.0f} s, not counted)\n"
    )
    print(table(results))
    print(f"\nwritten: {raw}", file=sys.stderr)
    ok = results["databases"] and all(
        r.get("pass") for r in results["databases"].values()
    )
    return 0 if ok else 1


def _installed(pkg: str) -> bool:
    try:
        metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
