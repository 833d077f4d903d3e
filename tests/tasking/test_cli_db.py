"""The database and demo commands, run as a user would (embedded SQLite)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlmodel import Session, select

from scoring import score_vectors
from tasking.cli import main
from tasking.cli.runs import describe_run
from tasking.db import make_engine, session_scope
from tasking.models import Case, CaseScore, ScoringRun, User, utcnow
from tasking.services.demo import CASES
from tasking.services.scores import store_model_text
from tasking.services.whatif import run_whatif
from tests.scoring.support import model_text_with
from tests.support import free_port, wait_for
from tests.support.redis import ThrowawayRedis
from tests.support.runs import completed_run

TASKING = str(Path(sys.executable).with_name("tasking"))


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose embedded database lives in a temporary instance folder."""
    monkeypatch.setenv("TASKING_INSTANCE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return CliRunner()


def test_init_seed_rescore_demo(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["init-db"])
    assert result.exit_code == 0, result.output
    assert "sctac-default:1" in result.output
    result = runner.invoke(main, ["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "coordinator" in result.output
    logins = (tmp_path / "demo-logins.txt").read_text().split()
    assert logins[0] == "coordinator"
    assert (tmp_path / "demo-logins.txt").stat().st_mode & 0o077 == 0
    again = runner.invoke(main, ["seed-demo"])
    assert again.exit_code == 0
    assert "already present" in again.output
    result = runner.invoke(main, ["rescore"])
    assert result.exit_code == 0, result.output
    assert "rescored 12 open cases" in result.output

    engine = make_engine(f"sqlite:///{tmp_path / 'tasking.db'}")
    with Session(engine) as session:
        cases = {c.reference: c for c in session.exec(select(Case)).all()}
        assert sorted(cases) == sorted(demo.ref for demo in CASES)
        assert all(c.marking == "OFFICIAL-SENSITIVE" for c in cases.values())
        scores = {s.case_id: s for s in session.exec(select(CaseScore)).all()}
        for demo in CASES:
            score = scores[cases[demo.ref].id]  # type: ignore[index]
            p, ps, f, c = demo.harm
            ca, cb, o = demo.position
            vector = (
                f"MoRiLE:1/P:{p}/Ps:{ps}/F:{f}/C:{c}/S:{demo.scope}/V:{demo.vuln}/L:{demo.likelihood}"
                f"/Cf:{demo.confidence}/Ca:{ca}/Cb:{cb}/O:{o}/T:{demo.threat}"
            )
            assert score.vector == vector
            assert score.priority == pytest.approx(score_vectors([vector])[0]["priority"], abs=1e-6)
            assert cases[demo.ref].state == demo.state
    engine.dispose()


def test_init_db_publishes_the_configured_model_file(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "force-model.toml"
    model.write_text(model_text_with(("version = 1", "version = 4")), encoding="utf-8")
    monkeypatch.setenv("TASKING_MODEL_FILE", str(model))
    result = runner.invoke(main, ["init-db"])
    assert result.exit_code == 0, result.output
    assert "current scoring model: sctac-default:4" in result.output


def test_model_publish_needs_an_administrator_and_says_so_in_one_line(
    runner: CliRunner,
) -> None:
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    assert runner.invoke(main, ["seed-demo"]).exit_code == 0
    unknown = runner.invoke(main, ["model", "publish", "1", "--admin", "nobody"])
    assert unknown.exit_code == 1
    assert "no user 'nobody'" in unknown.output
    refused = runner.invoke(main, ["model", "publish", "1", "--admin", "coordinator"])
    assert refused.exit_code != 0
    assert refused.output.strip().count("\n") == 0  # one line, no traceback
    assert "may not" in refused.output
    published = runner.invoke(main, ["model", "publish", "1", "--admin", "admin", "--inline"])
    assert published.exit_code == 0, published.output
    assert "is now current" in published.output


def test_create_user_from_stdin_and_refuses_weak_password(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    args = [
        "create-user",
        "ops.lead",
        "--name",
        "Ops Lead",
        "--role",
        "coordinator",
        "--password-stdin",
    ]
    weak = runner.invoke(main, args, input="password123\n")
    assert weak.exit_code == 2
    assert "password" in weak.output
    ok = runner.invoke(main, args, input="a long passphrase of plain words\n")
    assert ok.exit_code == 0, ok.output
    taken = runner.invoke(main, args, input="a long passphrase of plain words\n")
    assert taken.exit_code == 2
    assert "taken" in taken.output
    bcu = runner.invoke(
        main,
        [
            "create-user",
            "pc.one",
            "--name",
            "PC One",
            "--role",
            "bcu_requester",
            "--password-stdin",
        ],
        input="another long passphrase here\n",
    )
    assert bcu.exit_code == 2
    assert "unit" in bcu.output
    engine = make_engine(f"sqlite:///{tmp_path / 'tasking.db'}")
    with Session(engine) as session:
        users = session.exec(select(User)).all()
        assert [u.username for u in users] == ["ops.lead"]
        assert users[0].password_hash.startswith("$argon2")
    engine.dispose()


def test_runs_says_when_there_are_none(runner: CliRunner) -> None:
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    listing = runner.invoke(main, ["runs"])
    assert listing.exit_code == 0, listing.output
    assert listing.output.startswith("no scoring runs yet: ")
    as_json = runner.invoke(main, ["runs", "--json"])
    assert json.loads(as_json.output) == []


def test_runs_lists_readable_summaries_one_run_in_full_and_json(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    assert runner.invoke(main, ["seed-demo"]).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'tasking.db'}")
    # Nightly runs 100 and 200 days on: bands move, and ranks against the first snapshot.
    for day in (1, 2):
        completed_run(engine, kind="nightly", run_date=date(2031, 1, day),
                      now=utcnow() + timedelta(days=100 * day))  # fmt: skip
    with session_scope(engine) as session:
        stored = store_model_text(
            session=session,
            content=model_text_with(("version = 1", "version = 2"), ("P = 1.0 ", "P = 3.0 ")),
        )
        assert stored.id is not None
        version_id = stored.id
    run_whatif(engine=engine, model_version_id=version_id)

    listing = runner.invoke(main, ["runs"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].startswith("#3 whatif completed")
    assert "model sctac-default:2: bands now P0 " in listing.output
    first = next(i for i, line in enumerate(lines) if line.startswith("#1 nightly 2031-01-01"))
    assert " completed in " in lines[first]
    assert lines[first + 1].startswith("   bands P0 ")
    assert lines[first + 2].startswith("   finishing: summary ")
    assert "   band move " in listing.output
    assert "overdue reviews: " in listing.output

    one = runner.invoke(main, ["runs", "--id", "2"])
    assert one.exit_code == 0, one.output
    assert one.output.startswith("#2 nightly 2031-01-02 completed")
    as_json = runner.invoke(main, ["runs", "--id", "2", "--json"])
    assert as_json.exit_code == 0, as_json.output
    (row,) = json.loads(as_json.output)
    assert (row["id"], row["kind"], row["status"]) == (2, "nightly", "completed")
    assert row["summary"]["rank_moves"] == []  # the demo's cases all aged alike
    missing = runner.invoke(main, ["runs", "--id", "99"])
    assert missing.exit_code != 0
    assert "no scoring run 99" in missing.output


def test_describe_run_shows_rank_moves_and_every_review_when_asked() -> None:
    run = ScoringRun(
        id=7, kind="nightly", run_date=date(2031, 2, 1), status="completed", model_version_id=1,
        cases_total=10, cases_changed=4, band_changes=0, chunks_total=1, chunks_done=1,
        summary=json.dumps({
            "bands": {"P0": 0, "P1": 2, "P2": 3, "P3": 5}, "cases_settled": 6, "movers": [],
            "rank_moves": [
                {"case_id": 9, "from": 5, "to": 2, "why": "rank 5 -> 2: priority 50.0 -> 61.0"}
            ],
            "overdue_reviews": [1, 2, 3, 4, 5], "retention_due": [], "seconds": 1.25,
        }),
    )  # fmt: skip
    brief = describe_run(run)
    assert brief[0] == (
        "#7 nightly 2031-02-01 completed in 1.2 s: 10 cases (6 settled, left unread),"
        " 4 changed, 0 band changes, chunks 1/1"
    )
    assert "   rank move case 9: rank 5 -> 2: priority 50.0 -> 61.0" in brief
    assert "   overdue reviews: 5 (cases 1, 2, 3, ...)" in brief
    assert "   retention due: 0" in brief
    assert "   overdue reviews: 5 (cases 1, 2, 3, 4, 5)" in describe_run(run, every=True)


# --- issue 10, findings 6-8: one line within seconds, arguments checked before any work ---


def one_line_error(result: Result) -> str:
    """The single `Error:` line a refused command printed (no traceback)."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("notaurl", "Error: DATABASE_URL is not a database URL"),
        ("mysql://u@localhost/x", "Error: DATABASE_URL needs a database driver that is not"),
        ("postgresql+psycopg://u@127.0.0.1:{port}/x", "Error: the database cannot be used"
         " (DATABASE_URL postgresql+psycopg://u@127.0.0.1:{port}/x): connection failed"),
    ],
)  # fmt: skip
def test_a_bad_or_refused_database_url_is_one_line(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, url: str, reason: str
) -> None:
    port = free_port()
    monkeypatch.setenv("DATABASE_URL", url.format(port=port))
    assert one_line_error(runner.invoke(main, ["runs"])).startswith(reason.format(port=port))


def test_a_refused_broker_is_one_line(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    url = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("REDIS_URL", url)
    line = one_line_error(runner.invoke(main, ["rescore", "--queue"]))
    assert line.startswith(f"Error: the broker cannot be reached (REDIS_URL {url}): ")
    checked = runner.invoke(main, ["check"])
    assert checked.exit_code == 1
    assert "database ok" in checked.output
    assert f"broker FAILED: gone or unreachable (REDIS_URL {url})" in checked.output


def test_check_says_both_answer(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, redis_server: ThrowawayRedis
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    checked = runner.invoke(main, ["check"])
    assert checked.exit_code == 0, checked.output
    assert f"broker ok: REDIS_URL {redis_server.url}" in checked.output


def test_model_files_not_utf8_or_with_a_version_too_large_are_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    latin = tmp_path / "latin.toml"
    latin.write_bytes(
        model_text_with(("version = 1", "version = 2")).encode("utf-8") + b"# caf\xe9\n"
    )
    line = one_line_error(runner.invoke(main, ["model", "store", str(latin)]))
    assert line == f"Error: model file {latin}: not UTF-8 text (invalid continuation byte)"
    huge = tmp_path / "huge.toml"
    huge.write_text(model_text_with(("version = 1", f"version = {2**31}")), encoding="utf-8")
    line = one_line_error(runner.invoke(main, ["model", "store", str(huge)]))
    assert line == f"Error: model file {huge}: version {2**31} is out of range (1 to {2**31 - 1})"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["rescore", "--chunk", "0"], "'--chunk'"),
        (["rescore", "--queue", "--filter", "[1,2]"], "--filter"),
        (["generate", "--cases", "99999999999999999999"], "'--cases'"),
        (["generate", "--cases", str(10_000_001)], "'--cases'"),
    ],
)
def test_arguments_are_refused_before_any_work(
    runner: CliRunner, tmp_path: Path, args: list[str], option: str
) -> None:
    """No database at all: a command that did any work first would fail on that instead."""
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}" in result.output
    assert not (tmp_path / "tasking.db").exists()


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers; its number."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("setting", "args", "reason"),
    [
        ("REDIS_URL=redis://127.0.0.1:{port}/0", ["rescore", "--queue"],
         "Error: the broker cannot be reached (REDIS_URL redis://127.0.0.1:{port}/0): "),
        ("DATABASE_URL=postgresql+psycopg://u@127.0.0.1:{port}/x", ["runs"],
         "Error: the database cannot be used (DATABASE_URL postgresql+psycopg://u@127.0.0.1:{port}/x)"),
    ],
)  # fmt: skip
def test_a_server_that_never_answers_is_one_line_not_a_hang(
    tmp_path: Path, setting: str, args: list[str], reason: str
) -> None:
    """Finding 6, as a user runs it: the command ends by its timeouts (1 s here)."""
    with black_hole() as port:
        name, value = setting.format(port=port).split("=", 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKING_", "PYTEST"))}
        env.update({name: value, "TASKING_INSTANCE": str(tmp_path), "TASKING_BROKER_TIMEOUT_S": "1",
                    "TASKING_DB_CONNECT_TIMEOUT_S": "1"})  # fmt: skip
        if name != "DATABASE_URL":
            assert (
                subprocess.run([TASKING, "init-db"], env=env, capture_output=True).returncode == 0
            )
        done = subprocess.run(
            [TASKING, *args], env=env, capture_output=True, text=True, timeout=120
        )  # bounded: a hang fails the test instead of stalling the suite
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(reason.format(port=port))


def test_an_interrupted_generate_keeps_whole_batches_only(tmp_path: Path) -> None:
    """Finding 8: Ctrl-C part-way leaves the batches committed, nothing of the one under way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKING_", "PYTEST"))}
    env.pop("DATABASE_URL", None)
    env["TASKING_INSTANCE"] = str(tmp_path)
    for step in (["init-db"], ["seed-demo"]):
        ready = subprocess.run([TASKING, *step], env=env, capture_output=True, timeout=120)
        assert ready.returncode == 0, ready.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'tasking.db'}")

    def generated() -> int:
        with engine.connect() as conn:
            sql = "SELECT count(*) FROM case_record WHERE reference LIKE 'GEN-%'"
            return int(conn.exec_driver_sql(sql).scalar_one())

    batch = 2_000
    proc = subprocess.Popen(
        [TASKING, "generate", "--cases", "10000000", "--batch", str(batch)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: generated() > 0 or proc.poll() is not None, timeout=120,
                 what="a first batch")  # fmt: skip
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    kept = generated()
    engine.dispose()
    assert proc.returncode == 130, err
    assert kept > 0
    assert kept % batch == 0
    assert "interrupted: " in err
    assert "in whole batches of 2,000; nothing of the interrupted batch was kept" in err


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b'name = "x"\nversion = 2\n\xff\n', "not UTF-8 text (invalid start byte)"),
     (b'name = "x"\n', "version: missing")],
)  # fmt: skip
def test_a_bad_tasking_model_file_is_one_line(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, reason: str
) -> None:
    path = tmp_path / "model.toml"
    path.write_bytes(content)
    monkeypatch.setenv("TASKING_MODEL_FILE", str(path))
    line = one_line_error(runner.invoke(main, ["init-db"]))
    assert line == f"Error: TASKING_MODEL_FILE {path}: {reason}"
