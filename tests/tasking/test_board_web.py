"""The board service's additions for the web board, on SQLite and PostgreSQL.

Risk matrix counts and their filters, previous pages, shared counts, rank
movement since the latest nightly snapshot, and cursors that are malformed.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from tasking.db import session_scope
from tasking.models import Case, CaseScore
from tasking.services.board import (
    HARM_BANDS,
    BoardFilter,
    board_counts,
    board_page,
    clear_caches,
    decode_cursor,
    encode_cursor,
    harm_band_of,
    rank_movement,
    risk_matrix,
)
from tasking.services.cases import submit_asset_request, update_assessment
from tasking.services.errors import Invalid
from tasking.services.scores import INPUT_SHIFTS
from tests.support.runs import completed_run
from tests.tasking.conftest import Org

RequestData = Callable[..., dict[str, Any]]
CASES = 45


@pytest.fixture
def board(engine: Engine, org: Org, request_data: RequestData) -> list[int]:
    """Forty-five requests with varied harm and likelihood from two BCUs; one threat to life."""
    clear_caches()
    rng = random.Random(3)
    ids = []
    with session_scope(engine) as session:
        for i in range(CASES):
            shape = {
                "P": rng.randint(0, 4), "Ps": rng.randint(0, 4), "F": rng.randint(0, 4),
                "C": rng.randint(0, 4), "S": rng.randint(1, 5), "V": rng.randint(0, 2),
                "L": rng.randint(1, 5), "T": int(i == 9),
            }  # fmt: skip
            data = request_data(assessment=shape, theme_id=org.theme.id if i % 2 else org.theme2.id)
            actor = org.users["bcu_a"] if i % 3 else org.users["bcu_b"]
            ids.append(submit_asset_request(session=session, actor=actor, data=data).id)
    return ids


def all_rows(engine: Engine, actor: Any, filters: BoardFilter, limit: int = 7) -> list[Any]:
    """Every row of a board, page by page."""
    rows: list[Any] = []
    cursor = None
    with Session(engine) as session:
        while True:
            page = board_page(
                session=session, actor=actor, filters=filters, cursor=cursor, limit=limit
            )
            rows += page.rows
            cursor = page.next_cursor
            if cursor is None:
                return rows


def cells(engine: Engine, **where: Any) -> dict[tuple[int, int], set[int]]:
    """Case ids per (harm band, likelihood), computed in Python from the stored scores."""
    with Session(engine) as session:
        query = select(CaseScore).where(col(CaseScore.on_board))
        for name, value in where.items():
            query = query.where(getattr(CaseScore, name) == value)
        scores = session.exec(query).all()
    found: dict[tuple[int, int], set[int]] = {}
    for s in scores:
        level = (s.inputs >> INPUT_SHIFTS["L"]) & 7
        found.setdefault((harm_band_of(s.total_harm), level), set()).add(s.case_id)
    return found


def test_risk_matrix_counts_each_cell(engine: Engine, org: Org, board: list[int]) -> None:
    with Session(engine) as session:
        matrix = risk_matrix(session=session, actor=org.users["coordinator"])
        themed = risk_matrix(
            session=session, actor=org.users["coordinator"],
            filters=BoardFilter(theme_id=org.theme.id),
        )  # fmt: skip
    expected = cells(engine)
    expected_theme = cells(engine, theme_id=org.theme.id)
    for harm in range(len(HARM_BANDS)):
        for level in range(1, 6):
            assert matrix[harm][level - 1] == len(expected.get((harm, level), set()))
            assert themed[harm][level - 1] == len(expected_theme.get((harm, level), set()))
    assert sum(map(sum, matrix)) == CASES


def test_matrix_cell_filter_gives_exactly_its_cases(
    engine: Engine, org: Org, board: list[int]
) -> None:
    expected = cells(engine)
    for (harm, level), ids in expected.items():
        rows = all_rows(engine, org.users["chair"], BoardFilter(harm_band=harm, likelihood=level))
        assert {r.case_id for r in rows} == ids
        order = [r.case_id for r in all_rows(engine, org.users["chair"], BoardFilter())]
        assert [r.case_id for r in rows] == [i for i in order if i in ids]


def test_matrix_and_counts_keep_to_the_bcu_scope(
    engine: Engine, org: Org, board: list[int]
) -> None:
    with Session(engine) as session:
        counts = board_counts(session=session, actor=org.users["bcu_b"])
    expected = cells(engine, bcu_id=org.bcu_b.id)
    assert sum(map(sum, counts.matrix)) == sum(len(v) for v in expected.values())
    assert sum(counts.bands.values()) == sum(len(v) for v in expected.values())
    assert sum(counts.bands.values()) < CASES


def test_board_counts_are_shared_and_refreshed(
    engine: Engine, org: Org, board: list[int], request_data: RequestData
) -> None:
    filters = BoardFilter(theme_id=org.theme.id)
    with Session(engine) as session:
        first = board_counts(
            session=session, actor=org.users["coordinator"], filters=filters, now=1000.0
        )
        shared = board_counts(
            session=session, actor=org.users["analyst"], filters=filters, now=1001.0
        )
    assert shared is first  # same scope, same filter: one count
    with session_scope(engine) as session:
        submit_asset_request(
            session=session, actor=org.users["bcu_a"], data=request_data(theme_id=org.theme.id)
        )
    with Session(engine) as session:
        fresh = board_counts(
            session=session, actor=org.users["coordinator"], filters=filters, now=5000.0
        )
    assert sum(fresh.bands.values()) == sum(first.bands.values()) + 1


@pytest.mark.parametrize(
    "shape", ["bcu", "band", "harm"], ids=["bcu filter", "band range", "harm range, two segments"]
)
def test_previous_pages_mirror_next_pages(
    engine: Engine, org: Org, board: list[int], shape: str
) -> None:
    actor = org.users["coordinator"]
    filters = {
        "bcu": BoardFilter(bcu_id=org.bcu_a.id),
        "band": BoardFilter(band=3),
        "harm": BoardFilter(harm_band=1),
    }[shape]
    total = len(all_rows(engine, actor, filters))
    limit = max(1, min(6, total // 3))  # three pages at least
    pages = []
    cursor = None
    with Session(engine) as session:
        while True:
            page = board_page(
                session=session, actor=actor, filters=filters, cursor=cursor, limit=limit
            )
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(pages) >= 3
        assert pages[0].prev_cursor is None
        for earlier, later in itertools.pairwise(pages):
            assert later.prev_cursor is not None
            back = board_page(
                session=session, actor=actor, filters=filters, before=later.prev_cursor, limit=limit
            )
            assert [r.case_id for r in back.rows] == [r.case_id for r in earlier.rows]
            assert [r.rank for r in back.rows] == [r.rank for r in earlier.rows]
            assert back.next_cursor == earlier.next_cursor


def test_rank_movement_since_the_latest_nightly_snapshot(
    engine: Engine, org: Org, board: list[int]
) -> None:
    actor = org.users["coordinator"]
    with Session(engine) as session:
        page = board_page(session=session, actor=actor, limit=CASES)
        assert rank_movement(session=session, actor=actor, page=page) is None
    completed_run(engine, kind="nightly", run_date=date(2026, 12, 1))
    low = page.rows[30]
    with session_scope(engine) as session:
        record = session.get(Case, low.case_id)
        assert record is not None
        update_assessment(
            session=session, actor=org.users["analyst"], case_id=low.case_id,
            expected_version=record.version,
            data={"P": 4, "Ps": 4, "F": 4, "C": 4, "S": 5, "V": 2, "L": 5, "Cf": "H",
                  "Ca": 2, "Cb": 2, "O": 2, "T": 0},
        )  # fmt: skip
    with Session(engine) as session:
        now = board_page(session=session, actor=actor, limit=CASES)
        movement = rank_movement(session=session, actor=actor, page=now)
        assert movement is not None
        assert movement.whole_board
        moved = movement.rows[low.case_id]
        assert moved.was == low.rank
        new_rank = next(r.rank for r in now.rows if r.case_id == low.case_id)
        assert moved.moved == low.rank - new_rank > 0
        # every row: was - now, and the ranks that moved down sum to the one that moved up
        assert sum(m.moved or 0 for m in movement.rows.values()) == 0
        filtered = board_page(session=session, actor=actor, filters=BoardFilter(kind=3))
        partial = rank_movement(session=session, actor=actor, page=filtered)
        assert partial is not None
        assert not partial.whole_board
        assert all(m.moved is None and m.was for m in partial.rows.values())


@pytest.mark.parametrize(
    "keys",
    [
        (2, -1.0, -3, date(9999, 12, 31), "2026-01-01T00:00:00+00:00", 1, 5),
        (0, float("nan"), -3, date(9999, 12, 31), "2026-01-01T00:00:00+00:00", 1, 5),
        (0, -1.0, -3, date(9999, 12, 31), "2026-01-01T00:00:00+00:00", 2**40, 5),
        (0, -1.0, -300000, date(9999, 12, 31), "2026-01-01T00:00:00+00:00", 1, 5),
        (0, -1.0, -3, date(9999, 12, 31), "2026-01-01T00:00:00+00:00", 1, -4),
    ],
)
def test_cursors_out_of_range_are_malformed(keys: tuple[Any, ...]) -> None:
    *head, submitted, case_id, rank = keys
    cursor = encode_cursor((*head, datetime.fromisoformat(submitted), case_id), rank)
    with pytest.raises(Invalid) as caught:
        decode_cursor(cursor)
    assert caught.value.fields == {"cursor": "malformed"}


def test_cursor_with_a_naive_or_offset_time_still_pages(
    engine: Engine, org: Org, board: list[int]
) -> None:
    with Session(engine) as session:
        first = board_page(session=session, actor=org.users["coordinator"], limit=5)
        last = first.rows[-1]
        score = session.get(CaseScore, last.case_id)
        assert score is not None
        keys = tuple(getattr(score, n) for n in ("bk_threat", "bk_priority", "bk_position",
                                                  "bk_deadline"))  # fmt: skip
        naive = datetime.fromisoformat(score.bk_submitted.isoformat()[:19])
        cursor = encode_cursor((*keys, naive, score.case_id), 5)
        page = board_page(session=session, actor=org.users["coordinator"], cursor=cursor, limit=5)
        assert page.rows[0].rank == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [({"harm": "5"}, "harm"), ({"harm": "x"}, "harm"), ({"likelihood": "0"}, "likelihood"),
     ({"likelihood": "6"}, "likelihood"), ({"asset_type": "tank"}, "asset_type"),
     ({"theme_id": "99999999999999"}, "theme_id"), ({"hub_id": "-2"}, "hub_id")],
)  # fmt: skip
def test_board_filter_rejects_new_bad_params(params: dict[str, str], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        BoardFilter.from_params(params)
    assert field in caught.value.fields


def test_board_filter_round_trips_through_params() -> None:
    filters = BoardFilter(hub_id=3, bcu_id=4, theme_id=5, asset_type="drones", band=2,
                          state="triage", kind=1, harm_band=3, likelihood=4)  # fmt: skip
    assert BoardFilter.from_params(filters.to_params()) == filters
    assert filters.active
    assert not BoardFilter().active
