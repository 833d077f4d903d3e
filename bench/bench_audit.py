"""Benchmark `tasking audit verify`: walking the audit hash chain over N rows.

Run from the repository root:

    .venv/bin/python bench/bench_audit.py [--rows 10000000] [--db sqlite|postgres]

A fresh database (a SQLite file in a temporary directory, or a throwaway
PostgreSQL server from tests/support), migrated, then N fictional audit rows
with a valid chain written straight through the driver (as record_event would
chain them, without the ORM), then one full walk with `audit.verify` (the code
behind `tasking audit verify`), timed. Prints rows/s for the load and the walk;
the goal is a 10M-row walk under 60 s. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `tests.support.postgres` imports when run as a script

from sqlalchemy import Engine  # noqa: E402

from tasking.db import make_engine  # noqa: E402
from tasking.migrate import upgrade  # noqa: E402
from tasking.services import audit  # noqa: E402

ACTIONS = (
    ("consultation", "case.view", "case"),
    ("consultation", "request.view", "case"),
    ("alteration", "case.transition", "case"),
    ("alteration", "assessment.update", "case"),
    ("collection", "request.submit", "case"),
    ("disclosure", "requests.export", "unit"),
)
AGENT = "Mozilla/5.0 (X11; Linux x86_64; fictional) Gecko/20100101 Firefox/128.0"
COLUMNS = (
    "seq, at, actor_id, category, action, entity_type, entity_id, reason_code, reason,"
    " detail, origin, address, user_agent, credential, prev_hash, row_hash"
)


def load(engine: Engine, rows: int, batch: int) -> float:
    """Write `rows` chained audit rows through the raw driver; seconds taken."""
    started = time.perf_counter()
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO audit_event ({COLUMNS}) VALUES ({', '.join([mark] * 16)})"
    base = datetime(2026, 1, 1, tzinfo=UTC)
    prev = audit.GENESIS
    seq = 0
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        while seq < rows:
            chunk = []
            for _ in range(min(batch, rows - seq)):
                seq += 1
                category, action, entity_type = ACTIONS[seq % len(ACTIONS)]
                at = base + timedelta(microseconds=seq * 7_919_003)
                values = [
                    str(seq), audit.as_text(at), "", category, action,
                    entity_type, str(seq % 50_000 + 1), "", "", "{}", "web",
                    f"10.0.{seq % 200}.{seq % 250}", AGENT, f"session:{seq % 99_991:08x}",
                ]  # fmt: skip
                row_hash = hashlib.sha256(
                    f"{prev}\x1e{audit.canonical(values)}".encode()
                ).hexdigest()
                stored = at.strftime(audit.DATETIME_TEXT) if sqlite else at
                chunk.append(
                    (
                        seq, stored, None, category, action, entity_type, seq % 50_000 + 1,
                        "", "", "{}", "web", values[11], AGENT, values[13], prev, row_hash,
                    )
                )  # fmt: skip
                prev = row_hash
            cursor.executemany(sql, chunk)
            print(f"  loaded {seq:,} rows", file=sys.stderr, end="\r")
        cursor.close()
        conn.exec_driver_sql(
            f"UPDATE audit_chain_head SET seq = {seq}, row_hash = '{prev}' WHERE id = 1"
        )
    print(file=sys.stderr)
    return time.perf_counter() - started


def settle(engine: Engine) -> None:
    """After a bulk load, PostgreSQL's first read of each page writes it again (hint
    bits); a vacuum does that now, as autovacuum would have long before a real walk."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) audit_event")


def walker_cpu() -> float:
    """CPU seconds of this process and its finished children (the walk's workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def server_clock(engine: Engine) -> Callable[[], float]:
    """CPU seconds of the PostgreSQL server on this machine (postmaster and every backend,
    ended ones included), as a function; 0 for SQLite (it runs inside the walker)."""
    if engine.dialect.name != "postgresql":
        return lambda: 0.0
    try:
        import psutil

        with engine.connect() as conn:
            data = Path(str(conn.exec_driver_sql("SHOW data_directory").scalar()))
        postmaster = psutil.Process(int((data / "postmaster.pid").read_text().split()[0]))
    except Exception as exc:  # a remote server, or no permission: no figure
        print(f"  (database server CPU not measured: {exc})", file=sys.stderr)
        return lambda: 0.0

    def total() -> float:
        times = postmaster.cpu_times()
        used = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children():
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                used += child_times.user + child_times.system
        return used

    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--batch", type=int, default=100_000, help="rows per read batch")
    parser.add_argument(
        "--workers", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2],
        help="walk once with each number of processes, e.g. 1,2 (the default)",
    )  # fmt: skip
    parser.add_argument(
        "--url", default=None,
        help="an existing database to use (kept): loaded once, reused while it has --rows rows",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        server = None
        if args.url:
            url = args.url
        elif args.db == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'audit.db'}"
        else:
            from tests.support.postgres import ThrowawayPostgres

            server = ThrowawayPostgres.from_env().start()
            url = server.create_database("bench_audit", replace=True)
        engine = make_engine(url)
        try:
            upgrade(engine)
            with engine.connect() as conn:
                present = audit.chain_head(conn)[0]
            if present == 0:
                # The actor_id column is left empty: the bench org has no users to point at.
                loaded = load(engine, args.rows, 100_000)
                print(f"load: {args.rows:,} chained rows in {loaded:.1f} s"
                      f" ({args.rows / loaded:,.0f} rows/s)")  # fmt: skip
            elif present != args.rows:
                sys.exit(f"{url} holds {present:,} audit rows, not --rows {args.rows:,}")
                settle(engine)
            server_cpu = server_clock(engine)
            for workers in args.workers:
                walkers, database = walker_cpu(), server_cpu()
                started = time.perf_counter()
                with engine.connect() as conn:
                    verdict = audit.verify(conn, batch=args.batch, workers=workers)
                seconds = time.perf_counter() - started
                walkers, database = walker_cpu() - walkers, server_cpu() - database
                assert verdict.ok, verdict.problem
                assert verdict.rows == args.rows
                per_million = 1_000_000 / verdict.rows
                print(
                    f"audit verify ({engine.dialect.name}, {workers} worker(s)):"
                    f" {verdict.rows:,} rows in {seconds:.1f} s ="
                    f" {verdict.rows / seconds:,.0f} rows/s; 10M rows would take"
                    f" {10_000_000 / (verdict.rows / seconds):.0f} s"
                    f" [{platform.python_implementation()} {platform.python_version()},"
                    f" {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}]"
                )
                print(
                    f"  CPU per 1M rows: walker {walkers * per_million:.2f} s"
                    + (f", database server {database * per_million:.2f} s" if database else "")
                    + f"; 10M rows on {os.cpu_count()} idle CPUs would take at least"
                    f" {(walkers + database) * 10 * per_million / (os.cpu_count() or 1):.0f} s"
                )
        finally:
            engine.dispose()
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
