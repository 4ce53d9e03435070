"""``python -m bench.explain``: the SQL of each inbox request, timed, with its plans.

    .venv/bin/python -m bench.explain                      # SQLite, every inbox case
    .venv/bin/python -m bench.explain --database postgres q_common q_accent
    .venv/bin/python -m bench.explain --all all            # every statement's plan

Runs each request of the inbox scenario (bench/scenarios.py ``inbox_cases``)
in this process through Django's test client, as the first bench admin, on
the data set a ``make bench`` run left: a copy of the cached SQLite file, or
``bench_history`` in the private PostgreSQL server (started here, stopped
after). Prints every statement with its time and, for those slower than
``--slow`` ms (or all with ``--all``), its plan: ``EXPLAIN QUERY PLAN`` on
SQLite, ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL. Unpinned, with no
care for other processes: the times say which statement costs, not how much.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import servers


def _cached_sqlite() -> Path:
    found = sorted(servers.VAR.glob("history-*.sqlite3"), key=os.path.getmtime)
    if not found:
        raise SystemExit("no history data set in var/bench: run make bench first")
    return found[-1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__)
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--slow", type=float, default=5.0, help="plans of statements ≥ ms")
    p.add_argument("--all", action="store_true", help="plans of every statement")
    p.add_argument(
        "--runs", type=int, default=3, help="runs per request (the last shown)"
    )
    p.add_argument("cases", nargs="*", help="keys of inbox cases (default: all)")
    args = p.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="chat-explain-"))
    postgres = None
    env = servers.django_env(workdir)
    try:
        if args.database == "sqlite":
            db = workdir / "history.sqlite3"
            shutil.copyfile(_cached_sqlite(), db)
            env["DATABASE_URL"] = f"sqlite:///{db}"
        else:
            from bench import pg
            from bench.__main__ import Progress

            postgres = pg.BenchPostgres(core=0, progress=Progress())
            postgres.start()
            if not postgres.kept():
                raise SystemExit(
                    "no bench_history in var/bench/pg: run make bench DATABASE=postgres"
                )
            env["DATABASE_URL"] = postgres.url(pg.DATABASE)
        os.environ.update(env)
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        sys.path.insert(0, str(servers.ROOT))
        import django

        django.setup()
        run(args)
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def run(args) -> None:
    from django.db import connection
    from django.test import Client

    from accounts import tokens
    from accounts.models import User
    from bench.scenarios import inbox_cases

    admin = User.objects.get(username=servers.ADMINS[0])
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies["token"] = tokens.issue(admin).token
    cases = inbox_cases(admin.username)
    for key in args.cases or list(cases):
        path, what = cases[key]
        for _ in range(args.runs):
            statements = []

            def capture(execute, sql, params, many, context, statements=statements):
                started = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    ms = (time.perf_counter() - started) * 1000
                    statements.append((ms, sql, params))

            started = time.perf_counter()
            with connection.execute_wrapper(capture):
                response = client.get(path)
            total = (time.perf_counter() - started) * 1000
        print(
            f"\n=== {key}: {path} ({what}) HTTP {response.status_code}, {total:.1f} ms"
        )
        rerun = 0.0
        for _, sql, params in statements:
            # Timed again with every row fetched: the wrapper times execute()
            # only, and SQLite does most of a query's work while rows are fetched.
            with connection.cursor() as cursor:
                began = time.perf_counter()
                cursor.execute(sql, params)
                rows = len(cursor.fetchall())
                ms = (time.perf_counter() - began) * 1000
            rerun += ms
            slow = args.all or ms >= args.slow
            text = " ".join(sql.split())
            if not slow and len(text) > 160:
                text = text[:160] + " ..."
            print(f"\n-- {ms:.1f} ms, {rows} rows: {text}")
            if slow:
                print(f"   params {list(params or [])!r:.400}")
                for line in plan(connection, sql, params):
                    print(f"   | {line}")
        print(f"\n   statements {rerun:.1f} ms of {total:.1f} ms")


def plan(connection, sql, params) -> list[str]:
    if connection.vendor == "postgresql":
        explain = "EXPLAIN (ANALYZE, BUFFERS) "
    else:
        explain = "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(explain + sql, params)
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        return [row[0] for row in rows]
    # SQLite: (id, parent, notused, detail) as a tree.
    depth = {0: -1}
    out = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        out.append("  " * depth[node] + detail)
    return out


if __name__ == "__main__":
    sys.exit(main())
