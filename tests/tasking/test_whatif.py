"""What-if previews (tasking/services/whatif.py) on SQLite and PostgreSQL: they write no score."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

import scoring
from tasking.db import session_scope
from tasking.models import CaseScore
from tasking.services.cases import submit_asset_request
from tasking.services.scores import store_model_text
from tasking.services.whatif import _TIEBREAKS, run_whatif
from tests.tasking.conftest import Org, RequestData

# Likelihood weighs double in effect: doubling every harm weight doubles priority.
DOUBLED = (
    scoring.model.DEFAULT_MODEL_PATH.read_text("utf-8")
    .replace("version = 1", "version = 7")
    .replace("P = 1.0 ", "P = 2.0 ")
    .replace("Ps = 1.0 ", "Ps = 2.0 ")
    .replace("F = 1.0 ", "F = 2.0 ")
    .replace("C = 1.0 ", "C = 2.0 ")
)


def test_whatif_preview_counts_moves_and_writes_no_score(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    with session_scope(engine) as session:
        for likelihood in (1, 2, 3, 4, 5):  # priorities 7.2, 14.4, 21.6, 28.8, 36.0: all P3
            submit_asset_request(
                session=session,
                actor=org.users["bcu_a"],
                data=request_data(assessment={"L": likelihood}),
            )
        version_id = store_model_text(session=session, content=DOUBLED).id
    with Session(engine) as session:
        before = [
            (s.case_id, s.priority, s.score_version) for s in session.exec(select(CaseScore)).all()
        ]
    assert version_id is not None
    run = run_whatif(engine=engine, model_version_id=version_id)
    summary = json.loads(run.summary)
    assert summary["model"] == "sctac-default:7"
    assert summary["bands_before"] == {"P0": 0, "P1": 0, "P2": 0, "P3": 5}
    # doubled: 14.4, 28.8, 43.2, 57.6, 72.0 -> two cases reach P2
    assert summary["bands_after"] == {"P0": 0, "P1": 0, "P2": 2, "P3": 3}
    assert summary["transitions"] == {"P3->P2": 2}
    assert summary["biggest_moves"] == []  # doubling keeps the order
    with Session(engine) as session:
        after = [
            (s.case_id, s.priority, s.score_version) for s in session.exec(select(CaseScore)).all()
        ]
    assert after == before


def test_whatif_reads_submission_times_to_the_microsecond_on_sqlite() -> None:
    moment = datetime(2026, 12, 4, 17, 49, 10, 999605, tzinfo=UTC)  # in the last millisecond
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE s (bk_submitted TEXT)")
        conn.execute("INSERT INTO s VALUES (?)", (moment.strftime("%Y-%m-%d %H:%M:%S.%f"),))
        (seconds,) = conn.execute(f"SELECT {_TIEBREAKS['sqlite'][1]} FROM s").fetchone()  # noqa: S608 - test SQL over fixed table and column names
    assert seconds == pytest.approx(moment.timestamp(), abs=1e-6)
