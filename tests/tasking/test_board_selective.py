"""The board's selective path (few matching cases, through a filter index) against the walk.

Every page of a filtered board must be the same whichever path answers it: the
same rows, ranks and cursors, forwards and back, on SQLite and PostgreSQL; and
both must equal a plain Python sort of the filtered cases.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, select

import tasking.services.board as board
from tasking.db import session_scope
from tasking.models import BOARD_ORDER, Case, CaseScore, User
from tasking.services.access import case_scope
from tasking.services.board import BoardFilter, BoardPage, board_page, harm_band_of
from tasking.services.cases import submit_asset_request
from tasking.services.scores import INPUT_SHIFTS
from tests.tasking.conftest import Org

RequestData = Callable[..., dict[str, Any]]
CASES = 40
ASSETS = ("surveillance", "drones", "dogs", "technical")


@pytest.fixture
def cases(engine: Engine, org: Org, request_data: RequestData) -> list[int]:
    """Forty requests over two BCUs, two themes and four asset types, with tied scores."""
    rng = random.Random(11)
    shapes = [
        {"P": rng.randint(0, 4), "Ps": rng.randint(0, 4), "F": rng.randint(0, 4),
         "L": rng.randint(1, 5), "T": int(i == 0), "Cf": rng.choice("HML")}
        for i in range(6)
    ]  # fmt: skip
    ids = []
    with session_scope(engine) as session:
        for i in range(CASES):
            data = request_data(
                assessment=shapes[i % len(shapes)],
                opportunity_deadline=f"2027-01-0{1 + i % 3}" if i % 4 == 0 else None,
                theme_id=org.theme.id if i % 3 else org.theme2.id,
                asset_type=ASSETS[i % len(ASSETS)],
            )
            actor = org.users["bcu_a"] if i % 5 else org.users["bcu_b"]
            ids.append(submit_asset_request(session=session, actor=actor, data=data).id)
        # One case above the default clearance: only SECRET-cleared users may see it.
        session.execute(update(Case).where(Case.id == ids[3]).values(marking="SECRET"))
    return ids


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which path answered each fetch of a page ("selective" or "walk")."""
    paths: list[str] = []
    selected, walked = board._selected, board._walk

    def spy_selected(*args: Any, **kwargs: Any) -> Any:
        paths.append("selective")
        return selected(*args, **kwargs)

    def spy_walk(*args: Any, **kwargs: Any) -> Any:
        paths.append("walk")
        return walked(*args, **kwargs)

    monkeypatch.setattr(board, "_selected", spy_selected)
    monkeypatch.setattr(board, "_walk", spy_walk)
    return paths


def python_order(engine: Engine, actor: User, filters: BoardFilter) -> list[int]:
    """The filtered board by a plain sort of the actor's open cases on the stored keys."""
    with Session(engine) as session:
        visible = set(session.exec(select(Case.id).where(case_scope(actor))).all())
        scores = session.exec(select(CaseScore).where(CaseScore.on_board == True)).all()  # noqa: E712
    wanted = [
        s
        for s in scores
        if s.case_id in visible
        and all(
            getattr(filters, name) in (None, getattr(s, name))
            for name in ("hub_id", "bcu_id", "theme_id", "asset_type", "band", "state", "kind")
        )
        and filters.harm_band in (None, harm_band_of(s.total_harm))
        and filters.likelihood in (None, (s.inputs >> INPUT_SHIFTS["L"]) & 7)
    ]
    wanted.sort(key=lambda s: tuple(getattr(s, name) for name in BOARD_ORDER))
    return [s.case_id for s in wanted]


def all_pages(engine: Engine, actor: User, filters: BoardFilter, limit: int) -> list[BoardPage]:
    """Every page forwards through next_cursor, then every page again backwards."""
    forwards: list[BoardPage] = []
    with Session(engine) as session:
        page = board_page(session=session, actor=actor, filters=filters, limit=limit)
        forwards.append(page)
        while page.next_cursor is not None:
            page = board_page(
                session=session, actor=actor, filters=filters, cursor=page.next_cursor, limit=limit
            )
            forwards.append(page)
        backwards = [page]
        while page.prev_cursor is not None:
            page = board_page(
                session=session, actor=actor, filters=filters, before=page.prev_cursor, limit=limit
            )
            backwards.append(page)
    return forwards + backwards


def filters_of(org: Org) -> list[BoardFilter]:
    """Filters the selective path answers: case facts, with and without score filters."""
    return [
        BoardFilter(theme_id=org.theme.id),
        BoardFilter(bcu_id=org.bcu_b.id),
        BoardFilter(asset_type="drones"),
        BoardFilter(state="submitted", asset_type="dogs"),
        BoardFilter(hub_id=org.hub.id),  # requests name no hub: matches nothing
        BoardFilter(theme_id=org.theme2.id, band=3),
        BoardFilter(asset_type="surveillance", harm_band=0),
        BoardFilter(theme_id=org.theme.id, likelihood=4),
        BoardFilter(bcu_id=org.bcu_a.id, kind=3, asset_type="technical", band=2),
        BoardFilter(theme_id=999_999),
    ]


@pytest.mark.parametrize("user", ["coordinator", "chair", "bcu_a"])
def test_board_selective_pages_equal_the_walk_and_a_python_sort(
    engine: Engine,
    org: Org,
    cases: list[int],
    taken: list[str],
    monkeypatch: pytest.MonkeyPatch,
    user: str,
) -> None:
    actor = org.users[user]
    limit = board.SELECTIVE_MAX
    for filters in filters_of(org):
        expected = python_order(engine, actor, filters)
        taken.clear()
        selective = all_pages(engine, actor, filters, limit=3)
        assert set(taken) == {"selective"}, filters
        monkeypatch.setattr(board, "SELECTIVE_MAX", -1)  # every filter walks the board
        taken.clear()
        walked = all_pages(engine, actor, filters, limit=3)
        monkeypatch.setattr(board, "SELECTIVE_MAX", limit)
        assert set(taken) == {"walk"}, filters
        assert selective == walked, filters
        pages = selective[: len(selective) // 2]
        rows = [row for page in pages for row in page.rows]
        assert [r.case_id for r in rows] == expected, filters
        assert [r.rank for r in rows] == list(range(1, len(expected) + 1)), filters


def test_board_selective_path_only_up_to_its_limit(
    engine: Engine, org: Org, cases: list[int], taken: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = org.users["coordinator"]
    filters = BoardFilter(asset_type="drones")
    matching = len(python_order(engine, actor, filters))
    assert matching == CASES // len(ASSETS)
    pages = {}
    for limit, path in ((matching, "selective"), (matching - 1, "walk")):
        monkeypatch.setattr(board, "SELECTIVE_MAX", limit)
        taken.clear()
        pages[path] = all_pages(engine, actor, filters, limit=4)
        assert set(taken) == {path}
    assert pages["selective"] == pages["walk"]


def test_board_selective_path_keeps_the_scope_and_the_markings(
    engine: Engine, org: Org, cases: list[int], taken: list[str]
) -> None:
    mine = BoardFilter(theme_id=org.theme.id)
    rows = [r for p in all_pages(engine, org.users["bcu_b"], mine, limit=50)[:1] for r in p.rows]
    assert rows
    assert {r.bcu_id for r in rows} == {org.bcu_b.id}
    theirs = BoardFilter(bcu_id=org.bcu_a.id)
    assert all(not p.rows for p in all_pages(engine, org.users["bcu_b"], theirs, limit=50))
    assert "walk" not in taken
    secret = BoardFilter(theme_id=org.theme2.id)  # the marked case's theme (every third)
    seen_by_chair = {r.case_id for r in all_pages(engine, org.users["chair"], secret, 50)[0].rows}
    seen_by_coordinator = {
        r.case_id for r in all_pages(engine, org.users["coordinator"], secret, 50)[0].rows
    }
    assert cases[3] in seen_by_coordinator
    assert seen_by_chair == seen_by_coordinator - {cases[3]}


def test_board_cursor_from_one_path_continues_on_the_other(
    engine: Engine, org: Org, cases: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page drawn one way continues the other way (the count can cross the limit)."""
    actor = org.users["coordinator"]
    filters = BoardFilter(theme_id=org.theme.id)
    with Session(engine) as session:
        first = board_page(session=session, actor=actor, filters=filters, limit=4)
        limit = board.SELECTIVE_MAX
        monkeypatch.setattr(board, "SELECTIVE_MAX", -1)
        second = board_page(
            session=session, actor=actor, filters=filters, cursor=first.next_cursor, limit=4
        )
        monkeypatch.setattr(board, "SELECTIVE_MAX", limit)
        again = board_page(
            session=session, actor=actor, filters=filters, cursor=first.next_cursor, limit=4
        )
        back = board_page(
            session=session, actor=actor, filters=filters, before=second.prev_cursor, limit=4
        )
    assert second == again
    assert back == first
    expected = python_order(engine, actor, filters)
    assert [r.case_id for r in first.rows + second.rows] == expected[:8]
