"""Benchmark the ranked board and bulk rescoring with a million cases, on SQLite and PostgreSQL.

Run from the repository root:

    .venv/bin/python bench/bench_board.py [--cases 1000000] [--db sqlite|postgres|both]

For each database: a fresh one (a SQLite file in a temporary directory, or a
throwaway PostgreSQL server from tests/support), the fictional demo
organisation (seed_demo), then N generated cases (generate_cases, timed).
Then, with a new session per call as a web request would have:

- board_page p50/p95/max in ms over --repeats calls for the first page, page
  200 (reached by following cursors), the last page, two filtered first
  pages (theme + band), a BCU requester's first and 50th page, filters that
  match nothing or few cases (the selective path through a filter index), a
  risk-matrix cell, and a BCU requester's asset-type filter; the query plan
  of each (EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL);
  `--skip-rescore` stops there;
- model version 2 (weight P 1.0 -> 1.1) is published and every open case is
  rescored inline with rescore_all: end-to-end cases/s (every row changes:
  at least its model version);
- the naive way on a --naive-cases subset, under a version 3: ORM objects,
  score_case one by one (one flush each), one commit.

PostgreSQL is ANALYZEd after the bulk load, as autovacuum would do shortly
after; SQLite is measured as the application leaves it (no ANALYZE). Prints
a table and writes bench/results/board.json. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `tests.support.postgres` imports when run as a script

from sqlalchemy import Engine, event, text  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from config.settings import load_settings  # noqa: E402
from scoring.model import DEFAULT_MODEL_PATH  # noqa: E402
from tasking.db import make_engine, session_scope  # noqa: E402
from tasking.migrate import upgrade  # noqa: E402
from tasking.models import (  # noqa: E402
    ASSET_TYPES,
    BOARD_ORDER,
    Assessment,
    Case,
    CaseScore,
    Role,
    User,
)
from tasking.services.board import BoardFilter, board_page, encode_cursor  # noqa: E402
from tasking.services.demo import seed_demo  # noqa: E402
from tasking.services.generator import generate_cases  # noqa: E402
from tasking.services.scores import publish_model_text, score_case  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "board.json"
PAGE = 50
DEEP_PAGE = 200
MAX_SECONDS_PER_SCENARIO = 30.0  # a slow query gets fewer repeats, never fewer than 10
GOALS = {
    "first_page_p95_ms": 20.0,
    "any_page_p95_ms": 50.0,
    "rescore_sqlite_cases_per_s": 150_000,
    "rescore_postgres_cases_per_s": 100_000,
}


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@contextlib.contextmanager
def captured_sql(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Statements (and parameters) the engine sends while the block runs."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def query_plan(engine: Engine, statement: str, params: Any) -> list[str]:
    """The database's plan for one statement (PostgreSQL: actually run, with timings)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
            return [f"{'  ' * (row[1] > 0)}{row[3]}" for row in cursor.fetchall()]
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        return [row[0] for row in cursor.fetchall()]
    finally:
        raw.rollback()
        raw.close()


def time_board(engine: Engine, actor_id: int, repeats: int, **kwargs: Any) -> dict[str, Any]:
    """p50/p95/max of board_page with a fresh session per call, and its query plan."""

    def call() -> int:
        with Session(engine) as session:
            actor = session.get(User, actor_id)
            assert actor is not None
            return len(board_page(session=session, actor=actor, limit=PAGE, **kwargs).rows)

    with captured_sql(engine) as seen:
        rows = call()
    # The ordered read (walk or selective); a filter matching nothing may have none.
    reads = [(s, p) for s, p in seen if "case_score" in s]
    statement, params = next(((s, p) for s, p in reads if "ORDER BY" in s), reads[-1])
    for _ in range(3):  # warm the caches and the statement cache
        call()
    samples: list[float] = []
    budget = time.perf_counter() + MAX_SECONDS_PER_SCENARIO
    while len(samples) < repeats and (len(samples) < 10 or time.perf_counter() < budget):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "rows": rows,
        "repeats": len(samples),
        "p50_ms": statistics.median(samples),
        "p95_ms": percentile(samples, 0.95),
        "max_ms": max(samples),
        "plan": query_plan(engine, statement, params),
    }


def cursor_after_pages(engine: Engine, actor_id: int, pages: int, **kwargs: Any) -> str | None:
    """The cursor of page `pages + 1`, by following the cursors as a user would."""
    cursor = None
    with Session(engine) as session:
        actor = session.get(User, actor_id)
        assert actor is not None
        for _ in range(pages):
            page = board_page(session=session, actor=actor, cursor=cursor, limit=PAGE, **kwargs)
            cursor = page.next_cursor
            session.expunge_all()
    return cursor


def last_page_cursor(engine: Engine) -> str:
    """A cursor whose page is the last full page of the whole board."""
    with engine.connect() as conn:
        total = conn.execute(
            text("SELECT COUNT(*) FROM case_score WHERE on_board = :t"), {"t": True}
        ).scalar_one()
    rank = int(total) - PAGE
    with Session(engine) as session:
        keys = session.exec(
            select(*[getattr(CaseScore, name) for name in BOARD_ORDER])
            .where(col(CaseScore.on_board))
            .order_by(*[getattr(CaseScore, name) for name in BOARD_ORDER])
            .offset(rank - 1)
            .limit(1)
        ).one()
    return encode_cursor(tuple(keys), rank)


def publish_version(engine: Engine, version: int, weight: str) -> None:
    """Publish the default model with a new version number and physical-harm weight."""
    content = DEFAULT_MODEL_PATH.read_text("utf-8")
    content = content.replace("version = 1", f"version = {version}", 1)
    content = content.replace("P = 1.0", f"P = {weight}", 1)
    with session_scope(engine) as session:
        publish_model_text(session=session, content=content)


def rescore_everything(engine: Engine) -> dict[str, Any]:
    """A full inline rescore under a changed model, as `tasking rescore` does it."""
    from tasking.services.rescore import rescore_all

    publish_version(engine, 2, "1.1")
    started = time.perf_counter()
    stats = rescore_all(engine=engine, reason="rescore", bulk_min=load_settings().bulk_rescore_min)
    seconds = time.perf_counter() - started
    result = {"status": "ok", "cases": stats.cases, "changed": stats.changed, "seconds": seconds}
    result["cases_per_s"] = stats.cases / seconds
    # Phase times, where the stats carry them (load, score and write seconds).
    for name in ("band_changes", "load_s", "score_s", "write_s"):
        if hasattr(stats, name):
            result[name] = getattr(stats, name)
    return result


def rescore_naively(engine: Engine, count: int) -> dict[str, Any]:
    """The per-row way, for comparison: ORM objects and score_case one at a time."""
    publish_version(engine, 3, "1.2")
    started = time.perf_counter()
    with session_scope(engine) as session:
        pairs = session.exec(
            select(Case, Assessment)
            .join(Assessment, col(Assessment.case_id) == col(Case.id))
            .join(CaseScore, col(CaseScore.case_id) == col(Case.id))
            .where(col(CaseScore.on_board))
            .order_by(col(Case.id))
            .limit(count)
        ).all()
        for case, assessment in pairs:
            score_case(session=session, case=case, assessment=assessment, reason="rescore")
    seconds = time.perf_counter() - started
    return {"cases": len(pairs), "seconds": seconds, "cases_per_s": len(pairs) / seconds}


def prepare(engine: Engine, cases: int, seed: int) -> dict[str, Any]:
    """Schema, demo organisation and N generated cases; returns what the scenarios need."""
    upgrade(engine)
    with session_scope(engine) as session:
        seed_demo(session=session)  # the sign-ins it returns are not printed
    done, reported = [0], [time.perf_counter()]

    def progress(batch: int) -> None:
        done[0] += batch
        if time.perf_counter() - reported[0] > 10:
            print(f"  {done[0]:,}/{cases:,}", flush=True)
            reported[0] = time.perf_counter()

    started = time.perf_counter()
    generate_cases(engine=engine, count=cases, seed=seed, progress=progress)
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
            conn.commit()
        by_theme = conn.execute(
            text("SELECT theme_id FROM case_score WHERE on_board = :t"
                 " GROUP BY theme_id ORDER BY COUNT(*) DESC, theme_id"), {"t": True}
        ).scalars().all()  # fmt: skip
    with Session(engine) as session:
        coordinator = session.exec(select(User).where(User.role == Role.COORDINATOR)).first()
        requester = session.exec(select(User).where(User.role == Role.BCU_REQUESTER)).first()
    assert coordinator is not None
    assert requester is not None
    return {
        "generate_seconds": seconds,
        "generate_cases_per_s": cases / seconds,
        "coordinator": coordinator.id,
        "requester": requester.id,
        "common_theme": by_theme[0],
        "rare_theme": by_theme[-1],
    }


def few_matches(engine: Engine) -> dict[str, BoardFilter]:
    """Combinations of case facts matching few open cases (10-200, 1-9) and one matching none."""
    names = ("bcu_id", "asset_type", "state")
    listed = ", ".join(names)
    found: dict[str, BoardFilter] = {}
    with engine.connect() as conn:
        for low, high in ((10, 200), (1, 9)):
            row = conn.execute(
                text(
                    f"SELECT {listed}, COUNT(*) FROM case_score WHERE on_board = :t"  # noqa: S608 - bench SQL over the project's own tables
                    f" AND bcu_id IS NOT NULL AND asset_type IS NOT NULL GROUP BY {listed}"
                    " HAVING COUNT(*) BETWEEN :low AND :high ORDER BY COUNT(*) DESC LIMIT 1"
                ),
                {"t": True, "low": low, "high": high},
            ).first()
            if row is not None:
                label = "+".join(f"{n}={v}" for n, v in zip(names, row[:3], strict=True))
                found[f"{label} ({row[3]})"] = BoardFilter(**dict(zip(names, row[:3], strict=True)))
        hubs = conn.execute(
            text("SELECT DISTINCT hub_id FROM case_score WHERE hub_id IS NOT NULL")
        ).scalars().all()  # fmt: skip
        for hub in hubs:
            for asset_type in ASSET_TYPES:
                hit = conn.execute(
                    text(
                        "SELECT 1 FROM case_score WHERE on_board = :t AND hub_id = :hub"
                        " AND asset_type = :asset LIMIT 1"
                    ),
                    {"t": True, "hub": hub, "asset": asset_type},
                ).first()
                if hit is None:
                    label = f"hub_id={hub}+asset_type={asset_type} (0)"
                    found[label] = BoardFilter(hub_id=hub, asset_type=asset_type)
                    return found
    return found


def bench_database(kind: str, engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure for one database."""
    print(f"[{kind}] generating {args.cases:,} cases ...", flush=True)
    info = prepare(engine, args.cases, args.seed)
    print(f"[{kind}] generated in {info['generate_seconds']:.1f} s", flush=True)
    coord, req = info["coordinator"], info["requester"]
    scenarios: dict[str, tuple[int, dict[str, Any]]] = {
        "first page": (coord, {}),
        f"page {DEEP_PAGE}": (coord, {"cursor": cursor_after_pages(engine, coord, DEEP_PAGE - 1)}),
        "last page": (coord, {"cursor": last_page_cursor(engine)}),
        "theme (common) + P2": (
            coord, {"filters": BoardFilter(theme_id=info["common_theme"], band=2)},
        ),
        "theme (rare) + P3": (coord, {"filters": BoardFilter(theme_id=info["rare_theme"], band=3)}),
        "BCU requester, first page": (req, {}),
        "BCU requester, page 50": (req, {"cursor": cursor_after_pages(engine, req, 49)}),
        # Filters that match few cases or none (the selective path) and the risk matrix.
        "matches nothing (theme 999999)": (coord, {"filters": BoardFilter(theme_id=999_999)}),
        **{
            f"few: {label}": (coord, {"filters": filters})
            for label, filters in few_matches(engine).items()
        },
        "risk matrix cell harm 4 L1": (coord, {"filters": BoardFilter(harm_band=4, likelihood=1)}),
        "BCU requester + asset type": (req, {"filters": BoardFilter(asset_type="drones")}),
    }  # fmt: skip
    board = {}
    for name, (actor, kwargs) in scenarios.items():
        board[name] = time_board(engine, actor, args.repeats, **kwargs)
        print(f"[{kind}] {name}: p95 {board[name]['p95_ms']:.1f} ms", flush=True)
    if args.skip_rescore:
        return {**info, "board": board}
    print(f"[{kind}] rescoring ...", flush=True)
    rescore = rescore_everything(engine)
    print(f"[{kind}] naive rescore of {args.naive_cases:,} ...", flush=True)
    naive = rescore_naively(engine, args.naive_cases)
    return {**info, "board": board, "rescore": rescore, "naive": naive}


def sqlite_engine(workdir: Path) -> Engine:
    """A new SQLite database file."""
    return make_engine(f"sqlite:///{workdir / 'board.db'}")


def run_postgres(args: argparse.Namespace, work: Callable[[Engine], dict[str, Any]]) -> Any:
    """Run `work` against a fresh database on a throwaway PostgreSQL server."""
    from tests.support.postgres import ThrowawayPostgres

    with ThrowawayPostgres() as server:
        engine = make_engine(server.create_database("bench_board"))
        try:
            return work(engine)
        finally:
            engine.dispose()


def table_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, figure) pairs of one database's results."""
    rows = [("generate (cases/s)", f"{result['generate_cases_per_s']:,.0f}")]
    for name, figures in result["board"].items():
        rows.append(
            (f"board {name} p50/p95 ms", f"{figures['p50_ms']:.1f} / {figures['p95_ms']:.1f}")
        )
    if "rescore" in result:
        rescore = result["rescore"]
        rate = f"{rescore['cases_per_s']:,.0f}" if rescore["status"] == "ok" else "n/a"
        rows.append(("rescore_all (cases/s)", rate))
        rows.append(("naive score_case (cases/s)", f"{result['naive']['cases_per_s']:,.0f}"))
    return rows


def print_table(results: dict[str, Any]) -> None:
    """The figures as an aligned table, one column per database."""
    columns = {kind: table_rows(result) for kind, result in results.items()}
    labels = [label for label, _ in next(iter(columns.values()))]
    print()
    print(f"{'':46}" + "".join(f"{kind:>16}" for kind in columns))
    for i, label in enumerate(labels):
        print(f"{label:46}" + "".join(f"{rows[i][1]:>16}" for rows in columns.values()))


def main() -> None:
    """Parse arguments, run the benchmarks, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--naive-cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-rescore", action="store_true", help="only the board timings")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-board-") as workdir:
            engine = sqlite_engine(Path(workdir))
            try:
                results["sqlite"] = bench_database("sqlite", engine, args)
            finally:
                engine.dispose()
    if args.db in ("postgres", "both"):
        results["postgres"] = run_postgres(
            args, lambda engine: bench_database("postgres", engine, args)
        )
    print_table(results)
    report = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "load_average": os.getloadavg()},
        "cases": args.cases, "repeats": args.repeats, "page": PAGE, "goals": GOALS,
        "results": results,
    }  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
