"""Benchmark the audit hash chain: `tasking audit verify` over N rows, and its cost on writes.

Run from the repository root:

    .venv/bin/python bench/bench_audit.py [--rows 10000000] [--db sqlite|postgres]
        [--workers 1,2] [--url URL] [--only walk|overhead]
        [--cases 100000] [--clients 8] [--seconds 15] [--rounds 2] [--workdir DIR]

1. The walk. A fresh database (a SQLite file in a temporary directory, or a
   throwaway PostgreSQL server from tests/support; or --url, an existing
   database kept and reused while it holds --rows rows), migrated, then N
   fictional audit rows with a valid chain written straight through the driver
   (as record_event would chain them, without the ORM), vacuumed on
   PostgreSQL, then one full walk with `audit.verify` (the code behind
   `tasking audit verify`) for each --workers count, timed. Prints rows/s and
   the CPU seconds a million rows took (the walker's processes and, on a local
   PostgreSQL, the server's), which depend less on what else the machine runs;
   the goal is a 10M-row walk under 60 s.
2. The overhead. gunicorn (2 sync workers) on 127.0.0.1 over a copy of a
   prepared SQLite database (bench_web's: the demo and --cases generated
   cases, kept in --workdir), a throwaway Redis, and --clients threads each
   submitting a request over the API (`POST /api/v1/requests`, as BCU North)
   and opening a case page (signed in as a bench coordinator), for --seconds;
   once with the service as it is (chain on) and once with
   `bench/audit_off_app.py` (the same app, the chaining step replaced by a
   plain insert: chain off), --rounds times alternating which goes first.
   Prints p50/p95/p99 server time (gunicorn's access log) of both and the p95
   ratio (the goal is at most 1.10), then the CPU one audit row costs in
   process with and without the chain, a figure the machine's load moves less.

Figures, not assertions; the machine's load is printed with them.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    sql = f"INSERT INTO audit_event ({COLUMNS}) VALUES ({', '.join([mark] * 16)})"  # noqa: S608 - bench SQL over the project's own tables
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
            if sqlite:
                cursor.executemany(sql, chunk)
            else:  # COPY: several times faster than row inserts
                with cursor.copy(f"COPY audit_event ({COLUMNS}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            print(f"  loaded {seq:,} rows", file=sys.stderr, end="\r")
        cursor.close()
        conn.exec_driver_sql(
            f"UPDATE audit_chain_head SET seq = {seq}, row_hash = '{prev}' WHERE id = 1"  # noqa: S608 - bench SQL over the project's own tables
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


# --- the chain's overhead on the pages and calls that write audit rows ----------------


def bench_inputs(path: Path, clients: int) -> dict[str, Any]:
    """A BCU officer's API token, a theme for requests, and case references to open."""
    from sqlmodel import col, select

    from tasking.db import session_scope
    from tasking.models import Case, Theme, User
    from tasking.services.tokens import create_token

    engine = make_engine(f"sqlite:///{path}")
    try:
        with session_scope(engine) as session:
            officer = session.exec(select(User).where(User.username == "bcu.north")).one()
            token = create_token(
                session=session, actor=None, owner_id=int(officer.id or 0), name="bench", days=1
            ).secret
            theme = session.exec(select(Theme.id).where(~col(Theme.is_local))).first()
            references = session.exec(
                select(Case.reference)
                .where(Case.marking == "OFFICIAL-SENSITIVE")
                .order_by(col(Case.id).desc())
                .limit(50 * clients)
            ).all()
    finally:
        engine.dispose()
    return {"token": token, "theme_id": theme, "references": list(references)}


def overhead_load(port: int, inputs: dict[str, Any], clients: int, seconds: float) -> list[int]:
    """`clients` threads, each signed in as a bench coordinator, alternately submitting a
    request over the API (as BCU North) and opening a case page, for `seconds`; the
    statuses that were not a success."""
    from bench_api import ASSESSMENT, call
    from bench_web import Browser

    browsers = []
    for i in range(clients):
        browser = Browser(port)
        browser.sign_in(f"bench-coordinator-{i}")
        browsers.append(browser)
    stop_at = time.monotonic() + seconds
    errors: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        rng = random.Random(n)
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            body = {
                "title": f"Bench request {n}-{i} (fictional)", "theme_id": inputs["theme_id"],
                "strands": ["Pursue"], "asset_type": "drones", "requested_hours": 8,
                "justification": "A fictional request made by the benchmark.",
                "assessment": ASSESSMENT,
            }  # fmt: skip
            status, _ms = call(port, "POST", "/api/v1/requests", inputs["token"], body)
            page, _text = browsers[n].request("GET", f"/cases/{rng.choice(inputs['references'])}")
            with lock:
                errors.extend(s for s in (status, page) if s not in (200, 201))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def fresh_copy(source: Path, target: Path) -> None:
    """A copy of a SQLite database: the source's log folded in first, and no log left
    from an earlier copy of the same name (SQLite would replay it onto the new file)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)


def drop_copy(target: Path) -> None:
    """Remove a copy made by fresh_copy, its logs too."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)


def row_cost(path: Path, rows: int = 2_000) -> dict[str, float]:
    """CPU milliseconds of one audit row in its own write transaction, in this process,
    with the chain and with the plain insert (in alternating blocks, on a copy)."""
    from bench.audit_plain import plain_insert
    from tasking.db import session_scope

    copy = path.with_name("row-cost.db")
    fresh_copy(path, copy)
    engine = make_engine(f"sqlite:///{copy}")
    chain = audit._chain
    spent = {"on": 0.0, "off": 0.0}
    try:
        for block in range(10):
            for variant, step in (("on", chain), ("off", plain_insert))[:: 1 - 2 * (block % 2)]:
                audit._chain = step
                started = time.process_time()
                for i in range(rows // 10):
                    with session_scope(engine) as session:
                        audit.record_event(
                            session=session, actor=None, category="alteration",
                            action="bench.row", entity_type="unit", entity_id=i,
                        )  # fmt: skip
                spent[variant] += time.process_time() - started
    finally:
        audit._chain = chain
        engine.dispose()
        drop_copy(copy)
    return {variant: seconds * 1000 / rows for variant, seconds in spent.items()}


def overhead(args: argparse.Namespace) -> None:
    """Submission and case-page server times with the chain on and off (a bench-only app)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_api import server_ms
    from bench_web import free_port, percentile, prepare_database, start_gunicorn, stop

    from tests.support.redis import ThrowawayRedis

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    prepared = work / f"board-{args.cases}.db"
    print(f"\noverhead: database {prepared} ({args.cases:,} generated cases)", flush=True)
    prepare_database(prepared, args.cases, args.clients)
    apps = {"on": "tasking.web.wsgi:app", "off": "bench.audit_off_app:app"}
    times: dict[str, dict[str, list[float]]] = {v: {"submit": [], "case": []} for v in apps}
    errors: dict[str, list[int]] = {v: [] for v in apps}
    redis = ThrowawayRedis().start()
    try:
        for round_ in range(args.rounds):
            for variant in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                copy = work / f"overhead-{variant}.db"
                fresh_copy(prepared, copy)
                inputs = bench_inputs(copy, args.clients)
                env = {
                    "DATABASE_URL": f"sqlite:///{copy}",
                    "REDIS_URL": redis.url,
                    "TASKING_INSTANCE": str(work / "instance"),
                    "TASKING_SECRET_KEY": "bench-secret-key-" + "x" * 32,
                    "TASKING_SECURE_COOKIES": "0",
                    "TASKING_LOGIN_LIMIT_USER": "1000 per minute",
                    "TASKING_LOGIN_LIMIT_ADDRESS": "1000 per minute",
                    "TASKING_API_RATE_LIMIT": "1000000 per minute",
                }
                log = work / f"gunicorn-{variant}.log"
                port = free_port()
                server = start_gunicorn(apps[variant], port, 2, env, log)
                access = log.with_suffix(".access")
                try:
                    overhead_load(port, inputs, args.clients, min(3.0, args.seconds))  # warm
                    mark = access.stat().st_size
                    errors[variant] += overhead_load(port, inputs, args.clients, args.seconds)
                    time.sleep(0.5)  # the access log's last lines
                finally:
                    stop(server)
                times[variant]["submit"] += server_ms(access, mark, "/api/v1/requests")
                times[variant]["case"] += server_ms(access, mark, "/cases/")
                print(f"  round {round_ + 1}, chain {variant}: done", flush=True)
    finally:
        redis.close()
    print(
        f"\naudit chain overhead: {args.clients} clients, {args.rounds} round(s) of"
        f" {args.seconds:g} s per variant, gunicorn 2 sync workers, SQLite, server time (ms)"
        f" [load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs]"
    )
    for kind, label in (("submit", "POST /api/v1/requests"), ("case", "GET /cases/<ref>")):
        row = {}
        for variant in ("off", "on"):
            values = times[variant][kind]
            row[variant] = [percentile(values, share) for share in (0.5, 0.95, 0.99)]
            p50, p95, p99 = row[variant]
            print(
                f"  {label:<22} chain {variant:<3}  p50 {p50:7.1f}  p95 {p95:7.1f}"
                f"  p99 {p99:7.1f}  ({len(values)} calls)"
            )
        ratio = row["on"][1] / row["off"][1] if row["off"][1] else float("nan")
        print(f"  {label:<22} p95 on/off {ratio:.2f} (goal: at most 1.10)")
    cost = row_cost(prepared)
    print(
        f"  one audit row (in-process CPU, its own transaction): chain on {cost['on']:.2f} ms,"
        f" off {cost['off']:.2f} ms: the chain adds {cost['on'] - cost['off']:.2f} ms a row"
    )
    for variant in ("off", "on"):
        if errors[variant]:
            print(f"  errors, chain {variant}: {len(errors[variant])} {errors[variant][:5]}")


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
    overhead_options = parser.add_argument_group("the chain's overhead on writing pages")
    overhead_options.add_argument("--cases", type=int, default=100_000)
    overhead_options.add_argument("--clients", type=int, default=8, help="concurrent clients")
    overhead_options.add_argument("--seconds", type=float, default=15.0, help="per variant")
    overhead_options.add_argument(
        "--rounds", type=int, default=2, help="off/on rounds (alternating which goes first)"
    )
    overhead_options.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tasking-bench-audit",
        help="where the prepared database is kept and reused",
    )  # fmt: skip
    parser.add_argument("--only", choices=("walk", "overhead"), default=None)
    args = parser.parse_args()
    if args.only != "overhead":
        walk(args)
    if args.only != "walk":
        overhead(args)


def walk(args: argparse.Namespace) -> None:
    """Load (or reuse) a chain of --rows rows and time the walks."""
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
