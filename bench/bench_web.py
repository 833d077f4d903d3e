"""Benchmark the web board under load, against a bare Flask anchor, and every board filter.

Run from the repository root:

    .venv/bin/python bench/bench_web.py [--cases 1000000] [--users 20] [--seconds 30]
    .venv/bin/python bench/bench_web.py --cases 100000          # a quick run

1. A SQLite database with the fictional demo organisation and N generated
   cases (kept under --workdir and reused by later runs with the same N), a
   nightly run taken to completion (so the board shows rank movement), and
   --users coordinator accounts.
2. A throwaway Redis (sessions, sign-in limits) and gunicorn on 127.0.0.1 with
   --workers sync workers, as `make run` serves the app.
3. A bounded loopback load: --users simulated coordinators (one process and one
   keep-alive connection each) sign in through the real form, then for
   --seconds, without think time, open boards, follow next and previous pages,
   apply filters (mostly three boards of their own, drawn at the start, now and
   then another combination), click risk-matrix cells, open case pages (when
   the case page answers) and now and then a trivial signed-in page (the floor:
   the fixed cost of any request, outside the board's own work). p50/p95/p99
   of each kind of request at the client and as server time (gunicorn's access
   log, %(D)s), the throughput and the errors (any status but 200, or a failed
   connection).
4. The anchor, under the same gunicorn settings and the same load generator: a
   bare Flask page rendering a 50-row, 20-column Jinja table from memory.
5. The filter speed at the query (in-process, no HTTP): board_page for every
   combination of the seven board filters (one drawn value each, seeded), the
   risk-matrix cells, and filters that match no row or very few; p95 of each
   against the unfiltered first page's p95 measured in the same run.

Latencies are measured at the client, so they include the loopback and the
load generator's own time on the same cores (an overestimate of server time).
Prints tables and writes bench/results/web.json. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_JSON = ROOT / "bench" / "results" / "web.json"
PASSWORD = "bench passphrase for coordinators"  # noqa: S105 - fictional bench accounts
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NEXT = re.compile(r'href="([^"]+)" rel="next"')
_PREV = re.compile(r'href="([^"]+)" rel="prev"')
_CELL = re.compile(r'<a href="(/board\?[^"]*harm=[^"]*)" aria-label')
_REF = re.compile(r'class="board__ref">([A-Z]+-\d+)</a>')
_PENDING = "data-counts-pending"
BOARD_KINDS = ("board_first", "board_next", "board_prev", "board_filtered", "matrix_cell")
ANCHOR_ROWS, ANCHOR_COLS = 50, 20
# The floor: a trivial signed-in page (session, user, CSRF token, headers, the base
# template and one small query), opened now and then to show the fixed cost of a request.
FLOOR_PATH, FLOOR_SHARE = "/account/tokens", 0.05


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


# --- 1. the database ------------------------------------------------------------------


def prepare_database(path: Path, cases: int, users: int) -> dict[str, Any]:
    """Migrate, seed the demo, generate cases, take a nightly run, add bench coordinators."""
    from sqlmodel import col, select

    from tasking.db import make_engine, session_scope
    from tasking.migrate import upgrade
    from tasking.models import Role, User
    from tasking.services.demo import seed_demo
    from tasking.services.generator import generate_cases
    from tasking.services.users import hash_password

    info: dict[str, Any] = {"reused": path.exists()}
    engine = make_engine(f"sqlite:///{path}")
    try:
        if not path.exists() or path.stat().st_size == 0:
            upgrade(engine)
            with session_scope(engine) as session:
                seed_demo(session=session)
            started = time.perf_counter()
            generate_cases(engine=engine, count=cases, seed=0)
            info["generate_s"] = round(time.perf_counter() - started, 1)
            info["nightly_s"] = nightly_run(engine)
        else:
            upgrade(engine)  # a reused database gets any newer migration (e.g. an index)
        hashed = hash_password(PASSWORD)
        with session_scope(engine) as session:
            # Bench coordinators are cleared as the demo's coordinator is (centre staff).
            demo = session.exec(
                select(User).where(User.role == Role.COORDINATOR.value).order_by(col(User.id))
            ).first()
            for i in range(users):
                name = f"bench-coordinator-{i}"
                user = session.exec(select(User).where(User.username == name)).first()
                if user is None:
                    user = User(
                        username=name,
                        display_name=f"Bench Coordinator {i}",
                        role=Role.COORDINATOR.value,
                        password_hash=hashed,
                    )
                if demo is not None and hasattr(demo, "clearance"):
                    user.clearance = demo.clearance
                session.add(user)
    finally:
        engine.dispose()
    return info


def nightly_run(engine: Any) -> float:
    """A nightly run inline (chunks in this process), so a rank snapshot exists."""
    from tasking.models import RunKind, utcnow
    from tasking.services.runs import chunk_ids, finish_if_complete, run_chunk, start_run

    started = time.perf_counter()
    run = start_run(engine=engine, kind=RunKind.NIGHTLY.value, run_date=utcnow().date())
    if run is not None and run.id is not None:
        for chunk in chunk_ids(engine=engine, run_id=run.id):
            run_chunk(engine=engine, chunk_id=chunk)
        finish_if_complete(engine=engine, run_id=run.id)
    return round(time.perf_counter() - started, 1)


# --- 2. servers -----------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(app: str, port: int, workers: int, env: dict[str, str], log: Path) -> Any:
    """gunicorn with sync workers on 127.0.0.1; waits until it answers."""
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "sync",
        "--keep-alive",
        "5",
        "--access-logfile",
        str(log.with_suffix(".access")),
        "--access-logformat",
        "%(D)s %(s)s %(U)s?%(q)s",
        "--chdir",
        str(ROOT),
        app,
    ]
    handle = log.open("ab")
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=handle, stderr=handle, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn ({app}) exited; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/" if app.startswith("bench.bench_web:") else "/healthz")
            conn.getresponse().read()
            conn.close()
            return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"gunicorn ({app}) did not answer within 60 s; see {log}")


def server_cpu_s(proc: Any) -> float:
    """CPU seconds used so far by a gunicorn master's workers, every thread (Linux /proc).

    On a shared machine wall-clock latencies move with the neighbours' load; the CPU
    a request costs hardly does, so it is reported too (board counts made by the
    workers' counting threads included). NaN where /proc cannot be read.
    """
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    try:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == proc.pid:  # a worker of this master
                total += int(fields[11]) + int(fields[12])  # utime + stime
    except OSError:
        return float("nan")
    return total / ticks


def stop(proc: Any) -> None:
    """Stop a server we started (its own process group) and wait for it."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def anchor_app() -> Any:
    """The anchor: a bare Flask page rendering a 50-row, 20-column Jinja table from memory."""
    from flask import Flask, render_template_string

    app = Flask("anchor")
    rows = [
        [f"r{r}c{c} {'x' * (c % 7)}" if c % 3 else round(r * 1.37 + c, 1) for c in range(20)]
        for r in range(ANCHOR_ROWS)
    ]
    template = (
        "<!doctype html><html lang=en><head><title>Anchor</title></head><body>"
        "<table><thead><tr>{% for c in range(cols) %}<th>Column {{ c }}</th>{% endfor %}</tr>"
        "</thead><tbody>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>"
        "{% endfor %}</tr>{% endfor %}</tbody></table></body></html>"
    )

    @app.route("/")
    def table() -> str:
        return render_template_string(template, rows=rows, cols=ANCHOR_COLS)

    return app


# --- 3. the load ----------------------------------------------------------------------


class Browser:
    """One coordinator: a keep-alive connection, a session cookie, a CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        """One request; returns status and body (reconnecting once on a dropped connection)."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text

    def sign_in(self, username: str) -> None:
        """Sign in through the real form."""
        _status, page = self.request("GET", "/login")
        token = _CSRF.search(page)
        if token is None:
            raise RuntimeError("no CSRF token on /login")
        body = urllib.parse.urlencode(
            {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        status, _ = self.request("POST", "/login", body)
        if status != 302:
            raise RuntimeError(f"sign-in of {username} answered {status}")


def random_filters(rng: random.Random, choices: dict[str, list[str]]) -> dict[str, str]:
    """One to three filters with values drawn from the form's own choices."""
    names = rng.sample(sorted(k for k in choices if not k.startswith("_")), rng.randint(1, 3))
    return {name: rng.choice(choices[name]) for name in names if choices[name]}


def coordinator(args: tuple[int, int, int, float, bool, dict[str, list[str]], Any]) -> list[Any]:
    """One simulated coordinator's loop; returns (kind, seconds, status) per request."""
    port, index, seed, seconds, board, choices, start_at = args
    rng = random.Random(seed)
    # A coordinator works a few boards of their own (their hub, a theme, a band)
    # and now and then tries another filter.
    favourites = [random_filters(rng, choices) for _ in range(3)] if board else []
    browser = Browser(port)
    results: list[Any] = []
    try:
        if board:
            browser.sign_in(f"bench-coordinator-{index}")
    except (OSError, RuntimeError) as exc:
        return [("sign_in", 0.0, f"error: {exc}", False)]
    while time.time() < start_at:
        time.sleep(0.01)
    deadline = time.time() + seconds
    page = ""
    refs: list[str] = []
    while time.time() < deadline:
        if not board:
            kind, path = "anchor", "/"
        else:
            kind, path = next_step(rng, page, refs, choices, favourites)
        started = time.perf_counter()
        try:
            status, text = browser.request("GET", path)
        except OSError as exc:
            results.append((kind, time.perf_counter() - started, f"error: {exc}", False))
            continue
        took = time.perf_counter() - started
        results.append((kind, took, status, _PENDING in text))
        if kind not in ("case", "floor") and board:
            page = text
            refs = _REF.findall(text) or refs
    return results


def next_step(
    rng: random.Random,
    page: str,
    refs: list[str],
    choices: dict[str, list[str]],
    favourites: list[dict[str, str]],
) -> tuple[str, str]:
    """What a coordinator does next, given the page they are on."""
    roll = rng.random()
    found_next, found_prev = _NEXT.search(page), _PREV.search(page)
    if roll < FLOOR_SHARE and page:
        return "floor", FLOOR_PATH
    if roll < 0.2 or not page:
        return "board_first", "/board"
    if roll < 0.45 and found_next:
        return "board_next", found_next.group(1).replace("&amp;", "&")
    if roll < 0.55 and found_prev:
        return "board_prev", found_prev.group(1).replace("&amp;", "&")
    if roll < 0.75:
        chosen = rng.choice(favourites) if rng.random() < 0.8 else random_filters(rng, choices)
        query = urllib.parse.urlencode(chosen)
        return "board_filtered", f"/board?{query}"
    if roll < 0.85:
        cells = _CELL.findall(page)
        if cells:
            return "matrix_cell", rng.choice(cells).replace("&amp;", "&")
    if refs and choices.get("_case_pages"):
        return "case", f"/cases/{rng.choice(refs)}"
    return "board_first", "/board"


def run_load(
    port: int, users: int, seconds: float, board: bool, choices: dict[str, list[str]]
) -> dict[str, Any]:
    """--users coordinators, one process each, for --seconds; the figures."""
    start_at = time.time() + 3 + users * (0.15 if board else 0)  # everyone signed in first
    jobs = [(port, i, 1000 + i, seconds, board, choices, start_at) for i in range(users)]
    with multiprocessing.Pool(processes=users) as pool:
        per_user = pool.map(coordinator, jobs, chunksize=1)
    records = [r for user in per_user for r in user]
    return summarise(records, seconds)


def summarise(records: list[Any], seconds: float) -> dict[str, Any]:
    """p50/p95/p99 per kind of request and overall, throughput, errors."""
    kinds: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    pending = sum(1 for kind, _t, _s, waiting in records if waiting and kind != "anchor")
    boards_drawn = sum(1 for kind, _t, s, _w in records if s == 200 and kind in BOARD_KINDS)
    for kind, took, status, _waiting in records:
        if status == 200:
            kinds.setdefault(kind, []).append(took * 1000)
        else:
            errors[f"{kind} {status}"] = errors.get(f"{kind} {status}", 0) + 1
    every = [ms for values in kinds.values() for ms in values]
    rows = {
        kind: {
            "requests": len(values),
            "p50_ms": round(percentile(values, 0.5), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "p99_ms": round(percentile(values, 0.99), 1),
        }
        for kind, values in sorted(kinds.items())
    }
    boards = [
        ms
        for kind, values in kinds.items()
        if kind.startswith("board") or kind == "matrix_cell"
        for ms in values
    ]
    return {
        "requests": len(records),
        "throughput_rps": round(len(every) / seconds, 1),
        "errors": errors,
        "all": {
            "p50_ms": round(percentile(every, 0.5), 1),
            "p95_ms": round(percentile(every, 0.95), 1),
            "p99_ms": round(percentile(every, 0.99), 1),
        },
        "board_pages": {
            "p50_ms": round(percentile(boards, 0.5), 1),
            "p95_ms": round(percentile(boards, 0.95), 1),
            "p99_ms": round(percentile(boards, 0.99), 1),
        },
        "by_kind": rows,
        # Board pages drawn before their counts were ready (they show "Counting...").
        "counts_pending_share": round(pending / boards_drawn, 3) if boards_drawn else 0.0,
    }


def server_times(access_log: Path, since: int) -> dict[str, Any]:
    """Server time (gunicorn's %(D)s: request read to response written) per kind of page."""
    kinds: dict[str, list[float]] = {}
    with access_log.open("rb") as handle:
        handle.seek(since)
        for line in handle.read().decode("utf-8", "replace").splitlines():
            micros, status, path = ([*line.split(" ", 2), "", ""])[:3]
            if status != "200" or not micros.isdigit():
                continue
            kind = page_kind(path)
            if kind:
                kinds.setdefault(kind, []).append(int(micros) / 1000)
    boards = [ms for k, v in kinds.items() if k not in ("case", "anchor", "floor") for ms in v]
    every = [ms for v in kinds.values() for ms in v]
    return {
        "board_pages": figures(boards),
        "all": figures(every),
        "by_kind": {k: figures(v) for k, v in sorted(kinds.items())},
    }


def page_kind(path: str) -> str:
    """The kind of request an access-log path was."""
    if path.startswith("/board"):
        query = path.partition("?")[2]
        if "cursor=" in query:
            return "board_next"
        if "before=" in query:
            return "board_prev"
        if "harm=" in query:
            return "matrix_cell"
        return "board_filtered" if query else "board_first"
    if path.startswith("/cases/"):
        return "case"
    if path.startswith(FLOOR_PATH):
        return "floor"
    return "anchor" if path in ("/", "/?") else ""


def figures(values: list[float]) -> dict[str, float]:
    """p50, p95 and p99 in ms."""
    return {f"p{q}_ms": round(percentile(values, q / 100), 1) for q in (50, 95, 99)}


def per_request(cpu_s: float, load: dict[str, Any]) -> float:
    """Server CPU ms per request answered during a load."""
    return round(cpu_s * 1000 / load["requests"], 2) if load["requests"] else float("nan")


def access_size(access_log: Path) -> int:
    """Where the access log ends now."""
    return access_log.stat().st_size if access_log.exists() else 0


def form_choices(port: int) -> dict[str, list[str]]:
    """The filter form's choices, read from a signed-in board page."""
    browser = Browser(port)
    browser.sign_in("bench-coordinator-0")
    _status, page = browser.request("GET", "/board")
    choices: dict[str, list[str]] = {}
    for name in ("hub_id", "bcu_id", "theme_id", "asset_type", "band", "state", "kind"):
        block = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
        values = re.findall(r'<option value="([^"]+)"', block.group(1)) if block else []
        choices[name] = values
    refs = _REF.findall(page)
    status, _ = browser.request("GET", f"/cases/{refs[0]}") if refs else (404, "")
    choices["_case_pages"] = ["yes"] if status == 200 else []
    return choices


# --- 5. filters at the query ----------------------------------------------------------


def filter_speed(path: Path, repeats: int, seed: int) -> dict[str, Any]:
    """p95 of board_page for every combination of filters, at the service (no HTTP)."""
    from sqlmodel import Session, col, func, select

    from tasking.db import make_engine
    from tasking.models import ASSET_TYPES, CaseKind, CaseScore, Role, State, Theme, Unit, User
    from tasking.services.board import HARM_BANDS, BoardFilter, board_page

    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        actor = session.exec(select(User).where(col(User.role) == Role.COORDINATOR.value)).first()
        assert actor is not None
        units = session.exec(select(Unit)).all()
        themes = [t.id for t in session.exec(select(Theme)).all()]
        theme_sizes = dict(
            session.execute(
                select(col(CaseScore.theme_id), func.count())
                .where(col(CaseScore.on_board))
                .group_by(col(CaseScore.theme_id))
            ).all()
        )
    rng = random.Random(seed)
    values: dict[str, list[Any]] = {
        "hub_id": [u.id for u in units if u.kind == "hub"],
        "bcu_id": [u.id for u in units if u.kind == "bcu"],
        "theme_id": themes,
        "asset_type": list(ASSET_TYPES),
        "band": [0, 1, 2, 3],
        "state": [
            s.value
            for s in State
            if s.value
            in {
                "submitted",
                "triage",
                "scoring",
                "moderation",
                "awaiting_meeting",
                "deferred",
                "adopted",
                "active",
                "under_review",
            }
        ],
        "kind": [int(k) for k in CaseKind],
    }
    names = sorted(values)
    scenarios: list[tuple[str, BoardFilter]] = [("unfiltered", BoardFilter())]
    for size in range(1, len(names) + 1):
        for subset in itertools.combinations(names, size):
            chosen = {name: rng.choice(values[name]) for name in subset}
            label = "+".join(f"{k}={v}" for k, v in chosen.items())
            scenarios.append((label, BoardFilter(**chosen)))
    rare_theme = min(themes, key=lambda t: theme_sizes.get(t, 0))
    scenarios += [
        (f"rare theme {rare_theme}", BoardFilter(theme_id=rare_theme)),
        (f"rare theme {rare_theme}+P2", BoardFilter(theme_id=rare_theme, band=2)),
        (f"rare theme {rare_theme}+P0", BoardFilter(theme_id=rare_theme, band=0)),
        ("band P0", BoardFilter(band=0)),
        ("band P1", BoardFilter(band=1)),
        ("matches nothing (theme 999999)", BoardFilter(theme_id=999_999)),
        ("state deferred+kind operation+P1", BoardFilter(state="deferred", kind=1, band=1)),
    ]
    for harm in range(len(HARM_BANDS)):
        for level in range(1, 6):
            scenarios.append(
                (f"matrix harm {harm} L{level}", BoardFilter(harm_band=harm, likelihood=level))
            )
    results: list[dict[str, Any]] = []
    deadline_per = 4.0
    for label, filters in scenarios:
        times: list[float] = []
        budget = time.perf_counter() + deadline_per
        rows = 0
        for i in range(repeats):
            with Session(engine) as session:
                started = time.perf_counter()
                page = board_page(session=session, actor=actor, filters=filters, limit=50)
                times.append((time.perf_counter() - started) * 1000)
                rows = len(page.rows)
            if i >= 4 and time.perf_counter() > budget:
                break
        results.append(
            {
                "filters": label,
                "rows": rows,
                "calls": len(times),
                "p50_ms": round(percentile(times, 0.5), 2),
                "p95_ms": round(percentile(times, 0.95), 2),
            }
        )
    engine.dispose()
    base = results[0]["p95_ms"]
    worst = max(results[1:], key=lambda r: r["p95_ms"])
    return {
        "unfiltered_p95_ms": base,
        "combinations": len(results) - 1,
        "over_20ms": [r for r in results if r["p95_ms"] >= 20.0],
        "over_3x": [r for r in results[1:] if r["p95_ms"] > 3 * base],
        "worst": worst,
        "median_p95_ms": round(statistics.median(r["p95_ms"] for r in results[1:]), 2),
        "all": results,
    }


# --- main -----------------------------------------------------------------------------


def main() -> None:
    """Parse arguments, prepare, load the board and the anchor, time the filters, report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=20, help="calls per filter combination")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "tasking-bench-web"
    )
    parser.add_argument("--skip-load", action="store_true", help="only the filter timings")
    parser.add_argument("--skip-filters", action="store_true", help="only the HTTP load")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument(
        "--app",
        default="tasking.web.wsgi:app",
        help="WSGI target of the board server (an experiment's wrapper, e.g. without counts)",
    )
    args = parser.parse_args()

    from tests.support.redis import ThrowawayRedis

    args.workdir.mkdir(parents=True, exist_ok=True)
    db_path = args.workdir / f"board-{args.cases}.db"
    print(f"database {db_path} ({args.cases:,} generated cases)", flush=True)
    prepared = prepare_database(db_path, args.cases, args.users)
    print(f"  prepared: {prepared}", flush=True)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "cases": args.cases,
        "users": args.users,
        "workers": args.workers,
        "seconds": args.seconds,
        "app": args.app,
        "prepared": prepared,
    }
    if not args.skip_load:
        redis = ThrowawayRedis().start()
        env = {
            "DATABASE_URL": f"sqlite:///{db_path}",
            "REDIS_URL": redis.url,
            "TASKING_INSTANCE": str(args.workdir / "instance"),
            "TASKING_SECRET_KEY": "bench-secret-key-" + "x" * 32,
            "TASKING_SECURE_COOKIES": "0",
            "TASKING_LOGIN_LIMIT_USER": "1000 per minute",
            "TASKING_LOGIN_LIMIT_ADDRESS": "1000 per minute",
        }
        log = args.workdir / "gunicorn.log"
        web = anchor = None
        try:
            port = free_port()
            web = start_gunicorn(args.app, port, args.workers, env, log)
            choices = form_choices(port)
            warm = run_load(port, args.users, min(5.0, args.seconds), True, choices)
            print(f"  warm-up: {warm['requests']} requests", flush=True)
            mark = access_size(log.with_suffix(".access"))
            cpu = server_cpu_s(web)
            report["board"] = run_load(port, args.users, args.seconds, True, choices)
            report["board_server"] = server_times(log.with_suffix(".access"), mark)
            report["board_server"]["cpu_ms_per_request"] = per_request(
                server_cpu_s(web) - cpu, report["board"]
            )
            report["case_pages"] = bool(choices.get("_case_pages"))
            stop(web)
            web = None
            anchor_port = free_port()
            anchor = start_gunicorn(
                "bench.bench_web:anchor_app()", anchor_port, args.workers, env, log
            )
            run_load(anchor_port, args.users, min(5.0, args.seconds), False, {})
            mark = access_size(log.with_suffix(".access"))
            cpu = server_cpu_s(anchor)
            report["anchor"] = run_load(anchor_port, args.users, args.seconds, False, {})
            report["anchor_server"] = server_times(log.with_suffix(".access"), mark)
            report["anchor_server"]["cpu_ms_per_request"] = per_request(
                server_cpu_s(anchor) - cpu, report["anchor"]
            )
        finally:
            stop(web)
            stop(anchor)
            redis.close()
        print_load(report)
    if not args.skip_filters:
        report["filters"] = filter_speed(db_path, args.repeats, seed=7)
        print_filters(report["filters"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", "utf-8")
    print(f"\nwritten {args.json}")


def print_load(report: dict[str, Any]) -> None:
    """The load table: board pages by kind, then the anchor."""
    board, anchor = report["board"], report["anchor"]
    print(
        f"\nLoad: {report['users']} coordinators, {report['workers']} gunicorn sync workers, "
        f"{report['seconds']:.0f} s, {report['cases']:,} cases"
    )
    print(f"{'request':<16} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, row in board["by_kind"].items():
        print(
            f"{kind:<16} {row['requests']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8} "
            f"{row['p99_ms']:>8}"
        )
    for name, figures in (("board pages", board["board_pages"]), ("all (board)", board["all"])):
        print(
            f"{name:<16} {'':>7} {figures['p50_ms']:>8} {figures['p95_ms']:>8} "
            f"{figures['p99_ms']:>8}"
        )
    a = anchor["all"]
    print(
        f"{'anchor':<16} {anchor['requests']:>7} {a['p50_ms']:>8} {a['p95_ms']:>8} {a['p99_ms']:>8}"
    )
    print(
        f"throughput: board {board['throughput_rps']} req/s, anchor {anchor['throughput_rps']}"
        f" req/s; errors: board {board['errors'] or 0}, anchor {anchor['errors'] or 0}"
    )
    ratio = board["board_pages"]["p95_ms"] / a["p95_ms"] if a["p95_ms"] else float("nan")
    print(f"board page p95 / anchor p95: {ratio:.2f}x (goal: under 100 ms and within 2x)")
    print(f"board pages drawn before their counts were ready: {board['counts_pending_share']:.1%}")
    server, anchor_server = report["board_server"], report["anchor_server"]
    print("server time (gunicorn %(D)s), ms       p50      p95      p99")
    rows = [*server["by_kind"].items(), ("board pages", server["board_pages"])]
    for name, row in [*rows, ("anchor", anchor_server["all"])]:
        print(f"  {name:<32} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['p99_ms']:>8}")
    print(
        f"server CPU per request (workers and their counting threads): board "
        f"{server['cpu_ms_per_request']} ms, anchor {anchor_server['cpu_ms_per_request']} ms"
    )
    if not report.get("case_pages"):
        print("(case pages were not measured: /cases/<reference> did not answer 200)")


def print_filters(result: dict[str, Any]) -> None:
    """The filter table: the slowest combinations against the unfiltered board."""
    base = result["unfiltered_p95_ms"]
    print(
        f"\nFilters at the query: {result['combinations']} combinations; unfiltered p95 "
        f"{base} ms; median p95 {result['median_p95_ms']} ms"
    )
    slowest = sorted(result["all"][1:], key=lambda r: -r["p95_ms"])[:12]
    print(f"{'filters':<70} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'x base':>7}")
    for row in slowest:
        print(
            f"{row['filters'][:70]:<70} {row['rows']:>5} {row['p50_ms']:>8} "
            f"{row['p95_ms']:>8} {row['p95_ms'] / base:>7.1f}"
        )
    print(
        f"over 20 ms p95: {len(result['over_20ms'])}; over 3x the unfiltered p95: "
        f"{len(result['over_3x'])} (goal: none of either)"
    )


if __name__ == "__main__":
    main()
