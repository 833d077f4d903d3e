"""Benchmark the nightly rescore end to end: real Celery workers and Redis, SQLite and PostgreSQL.

Run from the repository root: `.venv/bin/python bench/bench_rescore.py [--cases
100000,1000000] [--db sqlite|postgres|both] [--workers 1,2] [--naive 10000]`.

For each database and N it loads the demo organisation (seed_demo) and
generates fictional cases until N are open (on the boards; the closed ones
come on top), starts a throwaway Redis, and for each worker count starts
that many `celery -A workers worker -c 1` processes and times two runs:

- **nightly**: a day passes (every stored intelligence date moves one day
  back, untimed, then VACUUM on PostgreSQL as autovacuum would do in the day),
  then `scoring.nightly_run` for a new date: every case younger than the
  freshness lifetime changes priority, the rest keep theirs;
- **model**: a new model version is published (physical harm weighted 2.0 and
  1.0 in turn), then `scoring.rescore_queue('all', ..., 'model')`: every open
  case's score, score version and often band changes: the whole write path.

The clock runs from send_task to the run row reading 'completed' (polled every
10 ms); the phases come from the run row, its RunChunk rows (seconds inside
each chunk transaction: load, score, write) and the run summary. The baseline
is the naive way, one task per case (bench/naive_app.py), over `--naive` open
cases, on the same workers.

PostgreSQL is the throwaway test server (fsync and synchronous_commit off);
SQLite is the project's embedded configuration (WAL, synchronous=NORMAL).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `tests.support` imports when run as a script

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:9/0")  # never the embedded Redis here

from sqlalchemy import Engine, text  # noqa: E402

from bench.naive_app import NAIVE_TASK  # noqa: E402
from tasking.db import make_engine, session_scope  # noqa: E402
from tasking.migrate import upgrade  # noqa: E402
from tasking.models import as_utc, utcnow  # noqa: E402
from tasking.services.demo import seed_demo  # noqa: E402
from tasking.services.generator import generate_cases  # noqa: E402
from tasking.services.rescore import rescore_range  # noqa: E402
from tasking.services.scores import publish_model_text  # noqa: E402
from tests.scoring.support import model_text_with  # noqa: E402
from tests.support.postgres import ThrowawayPostgres  # noqa: E402
from tests.support.redis import ThrowawayRedis  # noqa: E402
from tests.workers.live import (  # noqa: E402
    Worker,
    all_tails,
    client_for,
    wait_for,
    worker_env,
)

DEFAULT_JSON = ROOT / "bench" / "results" / "rescore.json"
CHUNK = 20_000  # the production default (TASKING_RESCORE_CHUNK)
VISIBILITY_S, TIME_LIMIT_S = 60, 45  # the production defaults
GOAL_CASES = 1_000_000
GOALS_S = {"sqlite": 10.0, "postgresql": 15.0}  # nightly over 1M open cases, two workers
NAIVE_GOAL = 20.0  # one task per case at least this many times slower
RUN_TIMEOUT_S = 900.0
RUN_AFTER = "FROM scoring_run WHERE id > :last AND kind = :kind"  # the run a timed send started
KINDS = {"sqlite": ("sqlite",), "postgres": ("postgresql",), "both": ("sqlite", "postgresql")}
FIRST_DAY = date(2031, 1, 1)


class Bench:
    """One database with N open cases, one Redis, and the runs measured on them."""

    def __init__(self, kind: str, url: str, redis: ThrowawayRedis, work: Path) -> None:
        self.kind, self.url, self.redis, self.work = kind, url, redis, work
        self.engine: Engine = make_engine(url)
        self.model_version = 1
        self.runs = 0

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def open_cases(self) -> int:
        return int(self.scalar("SELECT count(*) FROM case_score WHERE on_board = :t", t=True))

    def load(self, open_wanted: int) -> dict[str, float]:
        """Migrate, seed the demo organisation, and generate cases until enough are open."""
        started = time.perf_counter()
        upgrade(self.engine)
        with session_scope(self.engine) as session:
            seed_demo(session=session)
        seed = 1
        while (have := self.open_cases()) < open_wanted:
            share = max(0.5, have / max(1, self.scalar("SELECT count(*) FROM case_score")))
            more = int((open_wanted - have) / share * 1.002) + 10
            generate_cases(engine=self.engine, count=more, seed=seed)
            seed += 1
        self.settle()
        return {"seconds": time.perf_counter() - started}

    def settle(self, table: str = "") -> None:
        """Start timed work from a checkpointed SQLite file or a vacuumed PostgreSQL table."""
        if self.kind == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")

    def new_model(self) -> int:
        """Publish the next model version; every open case's score changes under it."""
        self.model_version += 1
        weight = "2.0" if self.model_version % 2 == 0 else "1.0"
        content = model_text_with(
            ("version = 1", f"version = {self.model_version}"), ("P = 1.0 ", f"P = {weight} ")
        )
        with session_scope(self.engine) as session:
            row = publish_model_text(session=session, content=content)
            assert row.id is not None
            return row.id

    @contextlib.contextmanager
    def workers(self, count: int, *, app: str = "workers") -> Iterator[list[Worker]]:
        env = worker_env(
            database_url=self.url, redis_url=self.redis.url, instance=self.work,
            visibility_timeout=VISIBILITY_S, time_limit=TIME_LIMIT_S, chunk=CHUNK,
        )  # fmt: skip
        started: list[Worker] = []
        try:
            for i in range(count):
                name = f"{self.kind}-{app.replace('.', '-')}-{self.runs}-{i + 1}"
                started.append(Worker(name, env, self.work, app=app).start())
            yield started
        except BaseException:
            for worker in started:
                print(worker.tail(), file=sys.stderr)
            raise
        finally:
            for worker in started:
                worker.stop()

    def age_one_day(self) -> None:
        """Let a day pass for the stored scores: what the nightly run then catches up with."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE case_score SET intel_epoch = intel_epoch - 86400"))
        self.settle("case_score")

    def timed_run(self, workers: int, what: str) -> dict[str, Any]:
        """One run through the broker ('nightly' or 'model'), timed from send to 'completed'."""
        if what == "nightly":
            self.age_one_day()
        else:
            self.new_model()
        self.runs += 1
        day = FIRST_DAY + timedelta(days=self.runs)
        last = self.scalar("SELECT coalesce(max(id), 0) FROM scoring_run")
        with self.workers(workers) as crew, client_for(self.redis.url) as client:
            sent = utcnow()
            began = time.perf_counter()
            if what == "nightly":
                client.send_task("scoring.nightly_run", args=[day.isoformat()])
            else:
                client.send_task("scoring.rescore_queue", args=["all", "bench", "model"])
            wait_for(
                lambda: self.scalar(f"SELECT status {RUN_AFTER}", last=last, kind=what)
                in {"completed", "failed"},
                timeout=RUN_TIMEOUT_S, what=f"the {what} run", interval=0.01,
                details=lambda: all_tails(crew),
            )  # fmt: skip
            seconds = time.perf_counter() - began
        return {"run": what, **self._phases(last, what, sent, seconds, workers)}

    def _phases(
        self, last: int, kind: str, sent: datetime, seconds: float, workers: int
    ) -> dict[str, Any]:
        with self.engine.connect() as conn:
            run = conn.execute(text(f"SELECT * {RUN_AFTER}"), {"last": last, "kind": kind}).one()
            chunk = conn.execute(
                text(
                    "SELECT count(*), sum(seconds), max(done_at), sum(attempts)"
                    " FROM run_chunk WHERE run_id = :r"
                ),
                {"r": run.id},
            ).one()
        if run.status != "completed":
            raise RuntimeError(f"{kind} run {run.id} ended {run.status}")
        summary = json.loads(run.summary)
        started, finished = as_utc(_when(run.started_at)), as_utc(_when(run.finished_at))
        last_chunk = as_utc(_when(chunk[2]))
        return {
            "db": self.kind, "open_cases": run.cases_total, "workers": workers,
            "seconds": round(seconds, 3),
            "cases_per_s": round(run.cases_total / seconds),
            "to_start_s": round((started - as_utc(sent)).total_seconds(), 3),
            "chunks_wall_s": round((last_chunk - started).total_seconds(), 3),
            "chunk_work_sum_s": round(float(chunk[1]), 3),
            "finish_s": round((finished - last_chunk).total_seconds(), 3),
            "summary_s": summary.get("seconds"),
            "chunks": int(chunk[0]), "chunk_attempts": int(chunk[3]),
            "changed": run.cases_changed, "band_changes": run.band_changes,
            "settled": summary.get("cases_settled", 0), "bulk": bool(run.bulk),
            "finish_phases": summary.get("finish_phases", {}),
        }  # fmt: skip

    def naive(self, count: int, workers: int) -> dict[str, Any]:
        """`count` open cases rescored by one task per case, timed from first send to last write."""
        version = self.new_model()
        self.runs += 1
        with self.engine.connect() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    text("SELECT case_id FROM case_score WHERE on_board = :t ORDER BY case_id"),
                    {"t": True},
                ).fetchmany(count)
            ]
        done_sql = (
            "SELECT count(*) FROM case_score WHERE on_board = :t"
            " AND case_id BETWEEN :lo AND :hi AND model_version_id = :v"
        )
        with (
            self.workers(workers, app="bench.naive_app") as crew,
            client_for(self.redis.url) as client,
        ):
            began = time.perf_counter()
            for case_id in ids:
                client.send_task(NAIVE_TASK, args=[case_id])
            sent_s = time.perf_counter() - began
            wait_for(
                lambda: self.scalar(done_sql, t=True, lo=ids[0], hi=ids[-1], v=version)
                >= len(ids),
                timeout=RUN_TIMEOUT_S, what="the naive tasks", interval=0.1,
                details=lambda: all_tails(crew),
            )  # fmt: skip
            seconds = time.perf_counter() - began
        return {
            "db": self.kind, "open_cases": self.open_cases(), "cases": len(ids), "workers": workers,
            "seconds": round(seconds, 3), "send_s": round(sent_s, 3),
            "cases_per_s": round(len(ids) / seconds, 1),
        }  # fmt: skip

    def chunk_split(self) -> dict[str, Any]:
        """One production-size chunk rescored in this process: where a chunk's time goes."""
        self.new_model()
        lo = int(self.scalar("SELECT min(case_id) FROM case_score WHERE on_board = :t", t=True))
        began = time.perf_counter()
        stats = rescore_range(engine=self.engine, lo=lo, hi=lo + CHUNK - 1, reason="bench")
        total = time.perf_counter() - began
        return {
            "db": self.kind, "open_cases": self.open_cases(), "chunk_cases": stats.cases,
            "load_s": round(stats.load_s, 3), "score_s": round(stats.score_s, 3),
            "write_s": round(stats.write_s, 3), "band_changes": stats.band_changes,
            # BEGIN, reading the model and COMMIT (with SQLite, any WAL checkpoint).
            "other_s": round(total - stats.seconds, 3), "total_s": round(total, 3),
        }  # fmt: skip

    def close(self) -> None:
        self.engine.dispose()


def _when(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@contextlib.contextmanager
def databases(kind: str, work: Path) -> Iterator[Any]:
    """A factory of fresh, empty database URLs of one kind."""
    if kind == "sqlite":
        yield lambda n: f"sqlite:///{work / f'rescore-{n}.db'}"
        return
    server = ThrowawayPostgres.from_env(database="bench_rescore").start()
    try:
        yield lambda n: server.create_database(f"rescore_{n}", replace=True)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="100000,1000000", help="open cases, comma separated")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workers", default="1,2", help="worker processes (-c 1 each)")
    parser.add_argument("--naive", type=int, default=10_000, help="cases for one task per case")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.cases.split(",") if n]
    worker_counts = [int(n) for n in args.workers.split(",") if n]
    kinds = KINDS[args.db]
    results: dict[str, Any] = {"nightly": [], "naive": [], "chunk_split": [], "loads": []}
    work = Path(tempfile.mkdtemp(prefix="tasking-bench-"))
    try:
        for kind in kinds:
            with databases(kind, work) as new_url:
                for n in sizes:
                    redis = ThrowawayRedis().start()
                    bench = Bench(kind, new_url(n), redis, work)
                    try:
                        print(f"[{kind}] generating {n:,} open cases ...", flush=True)
                        load = bench.load(n)
                        results["loads"].append({"db": kind, "open_cases": n, **load})
                        for count in worker_counts:
                            for what in ("nightly", "model"):
                                row = bench.timed_run(count, what)
                                results["nightly"].append(row)
                                print(_nightly_line(row), flush=True)
                        results["chunk_split"].append(bench.chunk_split())
                        if args.naive and n == min(sizes):
                            for count in worker_counts:
                                row = bench.naive(args.naive, count)
                                results["naive"].append(row)
                                print(f"  naive {row}", flush=True)
                    finally:
                        bench.close()
                        redis.close()
                        if kind == "sqlite":
                            for path in work.glob(f"rescore-{n}.db*"):
                                path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["goals"] = _goals(results)
    results["machine"] = _machine()
    results["config"] = {"chunk": CHUNK, "worker_concurrency": 1, "naive_cases": args.naive}
    _print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0


def _nightly_line(row: dict[str, Any]) -> str:
    phases = " ".join(f"{k[:-2]} {v:.2f}" for k, v in row["finish_phases"].items())
    return (
        f"  {row['run']:<8} {row['db']:<10} {row['open_cases']:>9,} open  {row['workers']}"
        f" worker(s)  {row['seconds']:>7.2f} s  {row['cases_per_s']:>9,} cases/s"
        f"  {row['changed']:>9,} changed  {row['settled']:>9,} settled  finish: {phases}"
    )


def _goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    goals = []
    for row in results["nightly"]:
        if row["run"] == "nightly" and row["open_cases"] >= GOAL_CASES and row["workers"] == 2:
            limit = GOALS_S[row["db"]]
            goals.append({
                "goal": f"nightly over 1M open cases on {row['db']}, 2 workers < {limit:.0f} s",
                "seconds": row["seconds"], "met": row["seconds"] < limit,
            })  # fmt: skip
    for naive in results["naive"]:
        same = [
            r
            for r in results["nightly"]
            if (r["run"], r["db"], r["workers"], r["open_cases"])
            == ("model", naive["db"], naive["workers"], naive["open_cases"])
        ]
        if same:
            ratio = same[0]["cases_per_s"] / naive["cases_per_s"]  # on the same database
            naive["nightly_speedup"] = round(ratio, 1)
            goals.append({
                "goal": f"one task per case >= {NAIVE_GOAL:.0f}x slower ({naive['db']},"
                f" {naive['workers']} worker(s))",
                "ratio": round(ratio, 1), "met": ratio >= NAIVE_GOAL,
            })  # fmt: skip
    return goals


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "when": utcnow().isoformat(timespec="seconds"),
    }  # fmt: skip


def _print_table(results: dict[str, Any]) -> None:
    head = (
        f"\n{'run':<8} {'db':<10} {'open cases':>10} {'wk':>2} {'end-to-end s':>12} {'cases/s':>9}"
        f" {'to start s':>10} {'chunks wall s':>13} {'Σ chunk s':>9} {'finish s':>8}"
        f" {'chunks':>6} {'changed':>9} {'band moves':>10}"
    )
    print(head)
    print("-" * (len(head) - 1))
    for r in results["nightly"]:
        print(
            f"{r['run']:<8} {r['db']:<10} {r['open_cases']:>10,} {r['workers']:>2}"
            f" {r['seconds']:>12.2f}"
            f" {r['cases_per_s']:>9,} {r['to_start_s']:>10.2f} {r['chunks_wall_s']:>13.2f}"
            f" {r['chunk_work_sum_s']:>9.2f} {r['finish_s']:>8.2f} {r['chunks']:>6}"
            f" {r['changed']:>9,} {r['band_changes']:>10,}"
        )
    if results["naive"]:
        print(f"\n{'naive (one task per case)':<26} {'cases':>6} {'wk':>2} {'s':>8} {'cases/s':>9}")
        for r in results["naive"]:
            print(
                f"{r['db']:<26} {r['cases']:>6,} {r['workers']:>2} {r['seconds']:>8.2f}"
                f" {r['cases_per_s']:>9,.1f}  (chunked nightly {r.get('nightly_speedup', '?')}x)"
            )
    print(f"\none {CHUNK:,}-id chunk in process, seconds: load / score / write / begin+commit")
    for r in results["chunk_split"]:
        print(
            f"{r['db']:<10} {r['open_cases']:>10,} open: {r['chunk_cases']:,} cases"
            f"  {r['load_s']:.3f} / {r['score_s']:.3f} / {r['write_s']:.3f} / {r['other_s']:.3f}"
        )
    print()
    for goal in results["goals"]:
        print(f"{'MET    ' if goal['met'] else 'NOT MET'} {goal['goal']}: "
              f"{goal.get('seconds', goal.get('ratio'))}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
