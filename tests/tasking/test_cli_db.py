"""The database and demo commands, run as a user would (embedded SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from scoring import score_vectors
from tasking.cli import main
from tasking.db import make_engine
from tasking.models import Case, CaseScore, User
from tasking.services.demo import CASES
from tests.scoring.support import model_text_with


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
