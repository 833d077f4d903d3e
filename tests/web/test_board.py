"""The coordinators' ranked board over HTTP (`GET /board`): roles, filters, paging, counts,
and the consultation each page that shows cases leaves in the audit log."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from tasking.db import session_scope
from tasking.models import BOARD_ORDER, AuditEvent, Case, CaseScore
from tasking.services.audit import verify
from tasking.services.board import HARM_BANDS, clear_caches, harm_band_of
from tasking.services.cases import submit_asset_request, update_assessment
from tasking.services.scores import INPUT_SHIFTS
from tests.support.runs import completed_run
from tests.tasking.conftest import Org
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]
CASES = 70
_REF = re.compile(r'class="board__ref">([A-Z]+-\d+)</a>')
_NEXT = re.compile(r'href="([^"]+)" rel="next"')
_PREV = re.compile(r'href="([^"]+)" rel="prev"')


def request_data(org: Org, rng: random.Random, i: int) -> dict[str, Any]:
    """Varied asset request input: harm, likelihood, theme, deadlines; case 0 is threat to life."""
    return {
        "title": f"Fictional request {i}",
        "theme_id": org.theme.id if i % 2 else org.theme2.id,
        "strands": ["Pursue"],
        "asset_type": "surveillance" if i % 3 else "drones",
        "requested_hours": 10 + i,
        "justification": "Local options are exhausted.",
        "opportunity_deadline": (date(2027, 1, 1) + timedelta(days=i % 5)).isoformat()
        if i % 4 == 0
        else None,
        "assessment": {
            "P": rng.randint(0, 4), "Ps": rng.randint(0, 4), "F": rng.randint(0, 4),
            "C": rng.randint(0, 4), "S": rng.randint(1, 5), "V": rng.randint(0, 2),
            "L": rng.randint(1, 5), "Cf": rng.choice("HML"), "Ca": rng.randint(0, 2),
            "Cb": rng.randint(0, 2), "O": rng.randint(0, 2), "T": int(i in (0, 37)),
        },
    }  # fmt: skip


@pytest.fixture
def board(web_engine: Engine, web_org: Org) -> list[int]:
    """Seventy requests from two BCUs; two are threat to life."""
    clear_caches()
    rng = random.Random(11)
    ids = []
    with session_scope(web_engine) as session:
        for i in range(CASES):
            user = web_org.users["bcu_a"] if i % 4 else web_org.users["bcu_b"]
            data = request_data(web_org, rng, i)
            ids.append(submit_asset_request(session=session, actor=user, data=data).id)
    return ids


@pytest.fixture(autouse=True)
def counts_wait(app: Flask) -> None:
    """Pages wait for their counts (the default budget is for boards of a million)."""
    app.config["TASKING_BOARD_COUNTS_WAIT_S"] = None


def refs(page: str) -> list[str]:
    """Case references in the order the board's table lists them."""
    return _REF.findall(page)


def test_board_renders_for_a_coordinator(signed_in: SignedIn, board: list[int]) -> None:
    response = signed_in("coordinator").get("/board")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:2000]
    assert len(refs(page)) == 50


@pytest.mark.parametrize("role", ["coordinator", "analyst", "chair", "asset_owner"])
def test_board_is_open_to_board_roles(signed_in: SignedIn, board: list[int], role: str) -> None:
    response = signed_in(role).get("/board")
    assert response.status_code == 200
    assert "OFFICIAL-SENSITIVE" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("role", ["bcu_requester", "auditor", "admin"])
def test_board_refuses_other_roles(signed_in: SignedIn, board: list[int], role: str) -> None:
    response = signed_in(role).get("/board")
    assert response.status_code == 403
    assert "board__ref" not in response.get_data(as_text=True)


def test_board_anonymous_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/board?theme_id=1")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def board_order(engine: Engine, **where: Any) -> list[str]:
    """References of open cases in board order, straight from the stored sort keys."""
    with Session(engine) as session:
        query = select(Case.reference, CaseScore).join(
            CaseScore, col(CaseScore.case_id) == col(Case.id)
        )
        query = query.where(col(CaseScore.on_board))
        for name, value in where.items():
            query = query.where(getattr(CaseScore, name) == value)
        rows = session.exec(query).all()
    rows = sorted(rows, key=lambda r: tuple(getattr(r[1], name) for name in BOARD_ORDER))
    return [reference for reference, _score in rows]


def walk(browser: FlaskClient, path: str) -> tuple[list[str], list[str]]:
    """Follow 'next' links from `path` to the end; references seen, and the addresses used."""
    seen: list[str] = []
    paths = [path]
    while True:
        page = browser.get(path).get_data(as_text=True)
        seen += refs(page)
        found = _NEXT.search(page)
        if not found:
            return seen, paths
        path = found.group(1).replace("&amp;", "&")
        paths.append(path)


def test_board_pages_walk_the_whole_board_in_order(
    signed_in: SignedIn, board: list[int], web_engine: Engine
) -> None:
    seen, paths = walk(signed_in("coordinator"), "/board")
    assert seen == board_order(web_engine)
    assert len(paths) == 2


def test_board_filters_survive_paging(
    signed_in: SignedIn, board: list[int], web_engine: Engine, web_org: Org
) -> None:
    browser = signed_in("coordinator")
    theme = web_org.theme2.id
    page = browser.get(f"/board?theme_id={theme}&kind=request").get_data(as_text=True)
    assert f'<option value="{theme}" selected' in page
    seen, _paths = walk(browser, f"/board?theme_id={theme}&kind=request")
    assert seen == board_order(web_engine, theme_id=theme)
    # a smaller page size is not offered, so use the board of 70 cases: two pages
    seen_all, all_paths = walk(browser, "/board?kind=request")
    assert len(all_paths) == 2
    assert all("kind=request" in p for p in all_paths)
    assert seen_all == board_order(web_engine)


def test_board_previous_and_top_links_go_back(signed_in: SignedIn, board: list[int]) -> None:
    browser = signed_in("coordinator")
    first = browser.get("/board?kind=request").get_data(as_text=True)
    second_path = _NEXT.search(first).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    second = browser.get(second_path).get_data(as_text=True)
    assert "Jump to top" in second
    assert "kind=request" in second_path
    back = _PREV.search(second)
    assert back is not None
    assert "kind=request" in back.group(1)
    again = browser.get(back.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert refs(again) == refs(first)
    assert '<td class="num board__rank">1</td>' in again


def test_board_threat_to_life_first_and_marked(
    signed_in: SignedIn, board: list[int], web_engine: Engine
) -> None:
    page = signed_in("coordinator").get("/board").get_data(as_text=True)
    with Session(web_engine) as session:
        threats = session.exec(
            select(Case.reference)
            .join(CaseScore, col(CaseScore.case_id) == col(Case.id))
            .where(col(CaseScore.threat) == 1)
        ).all()
    assert len(threats) == 2
    assert set(refs(page)[:2]) == set(threats)
    assert page.count('<tr class="board__row board__row--ttl">') == 2
    assert page.count('class="tag tag--ttl">Threat to life</span>') >= 2


def test_board_threat_to_life_pinned_on_later_pages(signed_in: SignedIn, board: list[int]) -> None:
    browser = signed_in("coordinator")
    first = browser.get("/board").get_data(as_text=True)
    assert 'id="pinned-title"' not in first
    second = browser.get(_NEXT.search(first).group(1).replace("&amp;", "&"))  # type: ignore[union-attr]
    page = second.get_data(as_text=True)
    assert 'id="pinned-title"' in page
    for reference in refs(first)[:2]:
        assert reference in page


def test_board_flags_overdue_reviews(
    signed_in: SignedIn, board: list[int], web_engine: Engine
) -> None:
    browser = signed_in("coordinator")
    reference, other_reference = refs(browser.get("/board").get_data(as_text=True))[5:7]
    with session_scope(web_engine) as session:
        for ref, days in ((reference, -3), (other_reference, 30)):
            case = session.exec(select(Case).where(Case.reference == ref)).one()
            case.next_review = date.today() + timedelta(days=days)
            session.add(case)
    page = browser.get("/board").get_data(as_text=True)
    flagged = [r for r in page.split('<tr class="board__row') if "Review overdue" in r]
    assert any(f">{reference}</a>" in r for r in flagged)
    assert not any(f">{other_reference}</a>" in r for r in flagged)


def test_board_band_counts_match_the_filter(
    signed_in: SignedIn, board: list[int], web_engine: Engine, web_org: Org
) -> None:
    theme = web_org.theme.id
    page = signed_in("coordinator").get(f"/board?theme_id={theme}").get_data(as_text=True)
    with Session(web_engine) as session:
        bands = session.exec(
            select(CaseScore.band).where(col(CaseScore.on_board), CaseScore.theme_id == theme)
        ).all()
    for code, name in enumerate(("P0", "P1", "P2", "P3")):
        count = sum(1 for b in bands if b == code)
        assert f'<span class="band-count__name">{name}</span> {count}<' in page


def matrix_cells(page: str) -> dict[tuple[int, int], tuple[int, str]]:
    """(harm band, likelihood) -> (count, link) from the risk matrix's SVG."""
    cells = {}
    pattern = re.compile(
        r'<a href="([^"]+)" aria-label="Total harm [^"]*?likelihood (\d)[^"]*?: (\d+) case'
    )
    for link, level, count in pattern.findall(page):
        harm = int(re.search(r"harm=(\d)", link).group(1))  # type: ignore[union-attr]
        cells[(harm, int(level))] = (int(count), link.replace("&amp;", "&"))
    return cells


def test_board_risk_matrix_counts_and_links(
    signed_in: SignedIn, board: list[int], web_engine: Engine
) -> None:
    browser = signed_in("coordinator")
    page = browser.get("/board?kind=request").get_data(as_text=True)
    cells = matrix_cells(page)
    assert len(cells) == len(HARM_BANDS) * 5
    with Session(web_engine) as session:
        scores = session.exec(select(CaseScore).where(col(CaseScore.on_board))).all()
    expected: dict[tuple[int, int], list[int]] = {}
    for s in scores:
        level = (s.inputs >> INPUT_SHIFTS["L"]) & 7
        expected.setdefault((harm_band_of(s.total_harm), level), []).append(s.case_id)
    for cell, (count, _link) in cells.items():
        assert count == len(expected.get(cell, [])), cell
    busiest = max(cells, key=lambda c: cells[c][0])
    link = cells[busiest][1]
    assert "kind=request" in link
    shown, _paths = walk(browser, link)
    with Session(web_engine) as session:
        wanted = {
            session.get(Case, i).reference  # type: ignore[union-attr]
            for i in expected[busiest]
        }
    assert set(shown) == wanted
    assert len(shown) == len(wanted)
    assert 'aria-current="true"' in browser.get(link).get_data(as_text=True)


def test_board_shows_rank_movement_since_the_nightly_snapshot(
    signed_in: SignedIn, board: list[int], web_engine: Engine, web_org: Org
) -> None:
    browser = signed_in("coordinator")
    before = browser.get("/board").get_data(as_text=True)
    assert "No snapshot to compare with" in before
    completed_run(web_engine, kind="nightly", run_date=date.today())
    order = board_order(web_engine)
    # Raise a low case to the top of the non-threat cases: it moves up, others down.
    with session_scope(web_engine) as session:
        case = session.exec(select(Case).where(Case.reference == order[40])).one()
        update_assessment(
            session=session, actor=web_org.users["analyst"], case_id=case.id,
            expected_version=case.version,
            data={"P": 4, "Ps": 4, "F": 4, "C": 4, "S": 5, "V": 2, "L": 5, "Cf": "H",
                  "Ca": 2, "Cb": 2, "O": 2, "T": 0},
        )  # fmt: skip
        mover = case.reference
    page = browser.get("/board").get_data(as_text=True)
    row = next(r for r in page.split('<tr class="board__row') if f">{mover}</a>" in r)
    assert "up 38 places since the nightly snapshot (was 41)" in row
    assert "&#9650;" in row or "▲" in row
    assert "down 1 place since the nightly snapshot" in page
    filtered = browser.get("/board?kind=request").get_data(as_text=True)
    assert "on the whole board at the nightly snapshot" in filtered


NASTY = [
    "band=P9", "band=", "band=p1", "theme_id=abc", "theme_id=-1", "theme_id=1e3",
    "theme_id=99999999999999999999999", "hub_id=%00", "bcu_id=1.5", "kind=ship",
    "state=closed", "state=%27%3B--", "asset_type=%3Cscript%3E", "harm=9", "harm=-1",
    "likelihood=0", "likelihood=6", "likelihood=x", "cursor=garbage", "cursor=",
    "cursor=WzEsMl0", "before=garbage", "cursor=" + "A" * 5000,
    "cursor=WzAsIk5hTiIsMCwiOTk5OS0xMi0zMSIsIjIwMjYtMDEtMDEiLDEsMV0",
    "cursor=WzIsLTEuMCwtMywiOTk5OS0xMi0zMSIsIjIwMjYtMDEtMDFUMDA6MDA6MDAiLDEsNTBd",
    "cursor=WzAsLTEuMCwtMywiOTk5OS0xMi0zMSIsIjIwMjYtMDEtMDFUMDA6MDA6MDAiLDEsNTBd",
    "cursor=WzAsLTEuMCwtMywiOTk5OS0xMi0zMSIsIjIwMjYtMDEtMDFUMDA6MDA6MDArMDU6MDAiLDk5OTk5OTk5OTk5OTk5LDUwXQ",
    "theme_id=%F0%9F%92%A9", "band=P1&band=P9", "limit=100000",
]  # fmt: skip


@pytest.mark.parametrize("query", NASTY)
def test_board_never_fails_on_malformed_parameters(
    signed_in: SignedIn, board: list[int], query: str
) -> None:
    response = signed_in("coordinator").get(f"/board?{query}")
    assert response.status_code in (200, 422), response.get_data(as_text=True)[:1000]
    page = response.get_data(as_text=True)
    assert "OFFICIAL-SENSITIVE" in page
    if response.status_code == 422:
        assert "There is a problem" in page
        assert "board__ref" in page  # the board is still drawn


@pytest.mark.parametrize(
    ("query", "label"),
    [("band=P9", "Band"), ("theme_id=abc", "Theme"), ("cursor=garbage", "Page"),
     ("likelihood=7", "Likelihood"), ("harm=x", "Total harm")],
)  # fmt: skip
def test_board_error_summary_names_the_field(
    signed_in: SignedIn, board: list[int], query: str, label: str
) -> None:
    response = signed_in("coordinator").get(f"/board?{query}")
    assert response.status_code == 422
    assert re.search(rf'<a href="#f-[a-z_]+">{label}: ', response.get_data(as_text=True))


def test_board_page_marking_is_the_highest_shown(
    signed_in: SignedIn, board: list[int], web_engine: Engine
) -> None:
    with session_scope(web_engine) as session:
        case = session.get(Case, board[0])
        assert case is not None
        case.marking = "SECRET"
        session.add(case)
    page = signed_in("coordinator").get("/board").get_data(as_text=True)
    assert 'aria-label="Handling marking">SECRET</div>' in page
    other = signed_in("coordinator").get("/board?kind=operation").get_data(as_text=True)
    assert 'aria-label="Handling marking">OFFICIAL-SENSITIVE</div>' in other


def test_board_asset_owner_sees_only_what_the_service_allows(
    signed_in: SignedIn, board: list[int], web_engine: Engine, web_org: Org
) -> None:
    from tasking.services.board import board_page

    owner = web_org.users["asset_owner"]
    allowed: list[str] = []
    cursor = None
    with Session(web_engine) as session:
        while True:
            page = board_page(session=session, actor=owner, cursor=cursor, limit=200)
            allowed += [r.reference for r in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                break
    shown, _paths = walk(signed_in("asset_owner"), "/board")
    assert shown == allowed
    text = signed_in("asset_owner").get("/board").get_data(as_text=True)
    total = sum(
        int(n.replace(",", "")) for n in re.findall(r'band-count__name">P\d</span> ([\d,]+)<', text)
    )
    assert total == len(allowed)


def test_board_is_drawn_while_its_counts_are_made(
    app: Flask, signed_in: SignedIn, board: list[int]
) -> None:
    app.config["TASKING_BOARD_COUNTS_WAIT_S"] = 0
    clear_caches()
    browser = signed_in("coordinator")
    first = browser.get("/board?kind=request")
    page = first.get_data(as_text=True)
    assert first.status_code == 200
    assert len(refs(page)) == 50
    if "data-counts-pending" in page:  # almost always: nothing is counted in 0 s
        assert "Counting the cases of each band" in page
    for _ in range(50):
        page = browser.get("/board?kind=request").get_data(as_text=True)
        if "data-counts-pending" not in page:
            break
        time.sleep(0.1)
    assert "data-counts-pending" not in page
    assert 'class="band-count__name">P0</span>' in page


# --- DPA 2018 s.62: a board page that shows cases is a consultation --------------------

_PINNED = re.compile(r'<li><a href="/cases/[^"]+">([A-Z]+-\d+)</a>')


def board_views(engine: Engine) -> list[AuditEvent]:
    """The board's consultation rows, oldest first."""
    with session_scope(engine, write=False) as session:
        query = select(AuditEvent).where(col(AuditEvent.action) == "board.view")
        return list(session.exec(query.order_by(col(AuditEvent.seq))).all())


def test_board_view_is_logged_with_its_filters_and_the_cases_shown(
    signed_in: SignedIn, board: list[int], web_engine: Engine, web_org: Org
) -> None:
    browser = signed_in("coordinator")
    first = browser.get("/board?kind=request").get_data(as_text=True)
    second = browser.get(_NEXT.search(first).group(1).replace("&amp;", "&"))  # type: ignore[union-attr]
    later = second.get_data(as_text=True)
    pinned = _PINNED.findall(later)
    assert pinned, "the threat-to-life cases are pinned on the second page"
    one, two = board_views(web_engine)
    for row, page, ranks, extra in ((one, first, "1-50", []), (two, later, "51-70", pinned)):
        detail = json.loads(row.detail)
        assert (row.category, row.entity_type, row.entity_id) == ("consultation", "case", None)
        assert row.actor_id == web_org.users["coordinator"].id
        assert (row.origin, row.credential[:8]) == ("web", "session:")
        assert detail["filters"] == {"kind": "request"}
        assert detail["ranks"] == ranks
        assert detail["references"] == refs(page) + extra
        assert detail["rows"] == len(detail["references"])
        assert detail["marking"] == "OFFICIAL-SENSITIVE"
    with web_engine.connect() as conn:
        assert verify(conn).ok  # the rows joined the hash chain


def test_board_view_showing_no_case_is_not_logged(
    signed_in: SignedIn, board: list[int], web_engine: Engine
) -> None:
    browser = signed_in("coordinator")
    assert "No open cases match" in browser.get("/board?theme_id=999999").get_data(as_text=True)
    assert signed_in("bcu_requester").get("/board").status_code == 403
    assert board_views(web_engine) == []


def test_board_views_are_what_the_auditor_sees_a_user_saw(
    signed_in: SignedIn, board: list[int], web_engine: Engine
) -> None:
    page = signed_in("analyst").get("/board?band=P0").get_data(as_text=True)
    (row,) = board_views(web_engine)
    assert json.loads(row.detail)["filters"] == {"band": "P0"}
    auditor = signed_in("auditor")
    seen = auditor.get("/audit/user?username=analyst")
    assert seen.status_code == 200
    assert "board.view" in seen.get_data(as_text=True)
    # The page names the act; the CSV file's detail column names the cases shown.
    token = csrf_token(auditor, "/audit/user?username=analyst")
    export = auditor.post(
        "/audit/user",
        data={"csrf_token": token, "username": "analyst", "reason_code": "subject_access"},
    )
    assert export.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    (listed,) = [line for line in lines[3:] if line[5] == "board.view"]
    assert json.loads(listed[-1])["references"] == refs(page)
