"""The database and demo commands, run as a user would (embedded SQLite)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
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
from tests.support.runs import completed_run


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
    assert "rescored 15 open cases" in result.output

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
