"""The ranked board query and the bulk rescore, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

import scoring
from tasking.db import session_scope
from tasking.models import Assessment, Case, CaseScore, ScoreHistory, utcnow
from tasking.services.board import BoardFilter, band_counts, board_page, decode_cursor
from tasking.services.cases import submit_asset_request
from tasking.services.errors import Invalid
from tasking.services.rescore import id_chunks, rescore_all, rescore_range
from tasking.services.scores import age_days, assessment_columns, publish_model_text
from tests.support.intel import set_intel_at
from tests.tasking.conftest import Org

RequestData = Callable[..., dict[str, Any]]
CASES = 60


@pytest.fixture
def board(engine: Engine, org: Org, request_data: RequestData) -> list[int]:
    """Sixty requests from two BCUs with repeated assessments (ties) and some deadlines."""
    rng = random.Random(7)
    shapes = [
        {"P": rng.randint(0, 4), "Ps": rng.randint(0, 4), "L": rng.randint(1, 5), "T": int(i == 0),
         "Cf": rng.choice("HML"), "Ca": rng.randint(0, 2)}
        for i in range(8)
    ]  # fmt: skip
    ids = []
    with session_scope(engine) as session:
        for i in range(CASES):
            deadline = (date(2027, 1, 1) + timedelta(days=rng.randint(0, 5))).isoformat()
            data = request_data(
                assessment=shapes[i % len(shapes)],
                opportunity_deadline=deadline if i % 3 == 0 else None,
                theme_id=org.theme.id if i % 2 else org.theme2.id,
            )
            actor = org.users["bcu_a"] if i % 4 else org.users["bcu_b"]
            ids.append(submit_asset_request(session=session, actor=actor, data=data).id)
    return ids


def expected_order(engine: Engine, bcu_id: int | None = None) -> list[int]:
    """The board order computed independently with the engine's rank_order."""
    with Session(engine) as session:
        query = select(CaseScore).where(CaseScore.on_board == True)  # noqa: E712
        if bcu_id is not None:
            query = query.where(CaseScore.bcu_id == bcu_id)
        rows = session.exec(query).all()
    order = scoring.rank_order(
        [r.priority for r in rows],
        [r.threat for r in rows],
        [r.position for r in rows],
        deadline=[r.bk_deadline.toordinal() if r.bk_deadline.year < 9999 else np.nan for r in rows],
        submitted=[r.bk_submitted.timestamp() for r in rows],
        ids=[r.case_id for r in rows],
    )
    return [rows[i].case_id for i in order]


def walk(engine: Engine, actor: Any, limit: int, filters: BoardFilter | None = None) -> list[Any]:
    """Every row of a board, page by page through the cursors."""
    rows: list[Any] = []
    cursor = None
    with Session(engine) as session:
        while True:
            page = board_page(
                session=session, actor=actor, filters=filters, cursor=cursor, limit=limit
            )
            rows.extend(page.rows)
            if page.next_cursor is None:
                return rows
            cursor = page.next_cursor


def test_board_order_matches_engine_ranking_across_keyset_pages(
    engine: Engine, org: Org, board: list[int]
) -> None:
    rows = walk(engine, org.users["coordinator"], limit=7)
    assert [r.case_id for r in rows] == expected_order(engine)
    assert [r.rank for r in rows] == list(range(1, CASES + 1))
    assert rows[0].threat == 1
    assert len({r.case_id for r in rows}) == CASES


def test_board_bcu_user_sees_only_own_bcu_in_order(
    engine: Engine, org: Org, board: list[int]
) -> None:
    rows = walk(engine, org.users["bcu_b"], limit=4)
    assert {r.bcu_id for r in rows} == {org.bcu_b.id}
    assert [r.case_id for r in rows] == expected_order(engine, bcu_id=org.bcu_b.id)
    # asking for the other BCU by filter still returns nothing of it
    other = walk(engine, org.users["bcu_b"], limit=50, filters=BoardFilter(bcu_id=org.bcu_a.id))
    assert other == []
    with Session(engine) as session:
        counts = band_counts(session=session, actor=org.users["bcu_b"])
    assert sum(counts.values()) == len(rows)


def test_board_filters_keep_order(engine: Engine, org: Org, board: list[int]) -> None:
    everything = [r.case_id for r in walk(engine, org.users["coordinator"], limit=50)]
    filters = BoardFilter.from_params({"theme_id": str(org.theme.id), "band": "P3"})
    rows = walk(engine, org.users["coordinator"], limit=5, filters=filters)
    assert rows
    assert all(r.theme_id == org.theme.id and r.band == 3 for r in rows)
    assert [r.case_id for r in rows] == [i for i in everything if i in {r.case_id for r in rows}]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"band": "P9"}, "band"), ({"theme_id": "x"}, "theme_id"), ({"kind": "ship"}, "kind")],
)
def test_board_filter_rejects_bad_params(params: dict[str, str], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        BoardFilter.from_params(params)
    assert field in caught.value.fields


def test_board_rejects_malformed_cursor_and_limit(engine: Engine, org: Org) -> None:
    with Session(engine) as session:
        with pytest.raises(Invalid):
            board_page(session=session, actor=org.users["coordinator"], cursor="not-a-cursor")
        with pytest.raises(Invalid):
            board_page(session=session, actor=org.users["coordinator"], limit=0)
    with pytest.raises(Invalid):
        decode_cursor("WzEsMl0")  # valid base64 JSON, wrong shape


MODEL_V2 = (
    scoring.model.DEFAULT_MODEL_PATH.read_text("utf-8")
    .replace("version = 1", "version = 2")
    .replace("P = 1.0 ", "P = 2.0 ")
)


def test_rescore_after_new_model_changes_scores_and_is_idempotent(
    engine: Engine, org: Org, board: list[int]
) -> None:
    with Session(engine) as session:
        before = {s.case_id: s for s in session.exec(select(CaseScore)).all()}
    with session_scope(engine) as session:
        publish_model_text(session=session, content=MODEL_V2)
    now = utcnow()
    stats = rescore_all(engine=engine, reason="model", now=now, chunk_size=16)
    assert stats.cases == CASES
    with Session(engine) as session:
        after = {s.case_id: s for s in session.exec(select(CaseScore)).all()}
        assessments = {a.case_id: a for a in session.exec(select(Assessment)).all()}
        history = session.exec(select(func.count()).select_from(ScoreHistory)).one()
    model2 = scoring.load_model_text(MODEL_V2)
    for case_id, row in after.items():
        a = assessments[case_id]
        expected = scoring.score_vectors([row.scored_vector], model=model2)[0]
        assert row.priority == expected["priority"]
        assert row.bk_priority == -row.priority
        assert row.score_version == before[case_id].score_version + 1
        assert row.vector == a.vector
    assert stats.changed == CASES
    assert history == CASES + stats.band_changes
    again = rescore_all(engine=engine, reason="model", now=now, chunk_size=16)
    assert (again.cases, again.changed, again.band_changes) == (CASES, 0, 0)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ScoreHistory)).one() == history


def test_rescore_ageing_records_why_a_band_moved(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    # P1 at age 0: (3+3+2+3) * 1.6 * 1.5 * 5 = 132; old intelligence halves it to P2.
    assessment = {"P": 3, "Ps": 3, "F": 2, "C": 3, "S": 4, "V": 2, "L": 5, "Cf": "H"}
    with session_scope(engine) as session:
        case = submit_asset_request(
            session=session, actor=org.users["bcu_a"], data=request_data(assessment=assessment)
        )
        case_id = case.id
    assert case_id is not None
    stats = rescore_range(
        engine=engine, lo=case_id, hi=case_id, reason="nightly", now=utcnow() + timedelta(days=200)
    )
    assert (stats.changed, stats.band_changes) == (1, 1)
    with Session(engine) as session:
        last = session.exec(
            select(ScoreHistory)
            .where(ScoreHistory.case_id == case_id)
            .order_by(ScoreHistory.score_version.desc())  # type: ignore[attr-defined]
        ).first()
        assert last is not None
        assert last.band == 2
        assert last.explanation == (
            "intelligence now 200 days old: freshness 1.00 -> 0.50,"
            " priority 132.0 -> 66.0, P1 -> P2"
        )
        assert last.vector.endswith("/A:200")


def test_rescore_skips_closed_cases(engine: Engine, org: Org, board: list[int]) -> None:
    with session_scope(engine) as session:
        row = session.get(CaseScore, board[0])
        assert row is not None
        row.on_board = False
        session.add(row)
    stats = rescore_all(engine=engine, now=utcnow() + timedelta(days=30))
    assert stats.cases == CASES - 1


def test_id_chunks_cover_range_exactly() -> None:
    assert list(id_chunks(3, 10, 3)) == [(3, 5), (6, 8), (9, 10)]
    assert list(id_chunks(5, 5, 100)) == [(5, 5)]
    with pytest.raises(ValueError, match="chunk size"):
        list(id_chunks(1, 2, 0))


def test_rescore_leaves_case_version_alone(engine: Engine, org: Org, board: list[int]) -> None:
    """docs/reliability.md, D1: background score writes never cause an edit conflict."""
    with Session(engine) as session:
        versions = dict(session.exec(select(Case.id, Case.version)).all())
    rescore_all(engine=engine, now=utcnow() + timedelta(days=45))
    with Session(engine) as session:
        assert dict(session.exec(select(Case.id, Case.version)).all()) == versions


def test_rescore_leaves_settled_cases_unread_and_every_score_exact(
    engine: Engine, org: Org, board: list[int]
) -> None:
    """Cases past the freshness lifetime under the current model are checked in SQL, not read."""
    lifetime = scoring.default_model().settled_age_days
    now = utcnow()
    old = board[::3]
    for case_id in old:
        set_intel_at(engine, case_id, now - timedelta(days=lifetime + 20))
    first = rescore_all(engine=engine, reason="nightly", now=now)
    assert (first.cases, first.settled) == (CASES, 0)  # their stored age was still young
    with Session(engine) as session:
        stamps = {
            s.case_id: (s.score_version, s.scored_at) for s in session.exec(select(CaseScore))
        }
    later = now + timedelta(days=1)
    second = rescore_all(engine=engine, reason="nightly", now=later)
    assert (second.cases, second.settled) == (CASES, len(old))
    with Session(engine) as session:
        rows = {s.case_id: s for s in session.exec(select(CaseScore))}
        assessments = {a.case_id: a for a in session.exec(select(Assessment))}
    for case_id, row in rows.items():
        if case_id in old:
            assert (row.score_version, row.scored_at) == stamps[case_id]
        # Settled or not, the stored score is the engine's score at the later age.
        a = assessments[case_id]
        expected = scoring.score_arrays(assessment_columns(a, age_days(a.intel_at, later)))
        assert row.priority == float(expected["priority"][0])


def test_rescore_at_an_earlier_moment_leaves_newer_scores_alone(
    engine: Engine, org: Org, board: list[int]
) -> None:
    """A late chunk of an older run (as of an earlier moment) never puts ages back in time."""
    lifetime = scoring.default_model().settled_age_days
    now = utcnow()
    set_intel_at(engine, board[0], now - timedelta(days=lifetime + 1))
    rescore_all(engine=engine, now=now)
    assert rescore_all(engine=engine, now=now + timedelta(days=3)).settled == 1
    with Session(engine) as session:
        before = {r.case_id: (r.age_days, r.score_version) for r in session.exec(select(CaseScore))}
    earlier = rescore_all(engine=engine, now=now - timedelta(days=2))
    assert (earlier.cases, earlier.newer, earlier.settled, earlier.changed) == (CASES, CASES, 0, 0)
    with Session(engine) as session:
        after = {r.case_id: (r.age_days, r.score_version) for r in session.exec(select(CaseScore))}
    assert after == before


def test_rescore_reads_settled_cases_under_a_new_model(
    engine: Engine, org: Org, board: list[int]
) -> None:
    now = utcnow()
    set_intel_at(engine, board[0], now - timedelta(days=400))
    rescore_all(engine=engine, now=now)
    with session_scope(engine) as session:
        publish_model_text(session=session, content=MODEL_V2)
    stats = rescore_all(engine=engine, reason="model", now=now + timedelta(days=1))
    assert (stats.cases, stats.settled, stats.changed) == (CASES, 0, CASES)


def test_rescore_range_without_open_cases_changes_nothing(
    engine: Engine, org: Org, board: list[int]
) -> None:
    """A chunk over ids that are gone (or closed) is a quiet no-op, not an error."""
    beyond = max(board) + 1
    stats = rescore_range(engine=engine, lo=beyond, hi=beyond + 100, reason="nightly")
    assert (stats.cases, stats.settled, stats.changed, stats.band_changes) == (0, 0, 0, 0)
