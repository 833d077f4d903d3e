"""Handling markings (U5): lists, CSV exports and API answers carry the highest marking shown."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import select

from tasking.db import session_scope
from tasking.models import Case, User, pk
from tasking.services.cases import submit_asset_request
from tasking.services.tokens import create_token
from tests.tasking.conftest import Org
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]
BANNER = 'aria-label="Handling marking">{}<'


def _request(engine: Engine, org: Org, title: str, marking: str, who: str = "bcu_a") -> int:
    with session_scope(engine) as session:
        data = {
            "title": title, "theme_id": org.theme.id, "strands": ["Pursue"],
            "asset_type": "surveillance", "requested_hours": 10,
            "justification": "Local options are exhausted.",
            "assessment": {"P": 1, "Ps": 1, "F": 1, "C": 1, "S": 2, "V": 0, "L": 3, "Cf": "M",
                           "Ca": 1, "Cb": 1, "O": 1, "T": 0},
        }  # fmt: skip
        case = submit_asset_request(session=session, actor=org.users[who], data=data)
        case.marking = marking
        session.add(case)
        session.flush()
        return pk(case)


def _clear(engine: Engine, user: User, clearance: str) -> None:
    with session_scope(engine) as session:
        row = session.get(User, user.id)
        assert row is not None
        row.clearance = clearance
        session.add(row)


def _token(engine: Engine, user: User) -> dict[str, str]:
    with session_scope(engine) as session:
        new = create_token(session=session, actor=user, owner_id=pk(user), name="t", days=7)
    return {"Authorization": f"Bearer {new.secret}"}


def test_u5_api_answers_name_the_highest_marking_they_return(
    client: FlaskClient, web_org: Org, web_engine: Engine
) -> None:
    plain = _request(web_engine, web_org, "Fictional plain request", "OFFICIAL")
    auth = _token(web_engine, web_org.users["coordinator"])  # cleared to SECRET
    assert client.get("/api/v1/board", headers=auth).headers["X-Handling-Marking"] == (
        "OFFICIAL-SENSITIVE"  # OFFICIAL-SENSITIVE is the floor
    )
    secret = _request(web_engine, web_org, "Fictional secret request", "SECRET")
    board = client.get("/api/v1/board", headers=auth)
    assert board.status_code == 200
    assert board.headers["X-Handling-Marking"] == "SECRET"
    one = client.get(f"/api/v1/cases/{plain}", headers=auth)
    assert one.status_code == 200
    assert one.headers["X-Handling-Marking"] == "OFFICIAL-SENSITIVE"
    assert (
        client.get(f"/api/v1/cases/{secret}", headers=auth).headers["X-Handling-Marking"]
        == "SECRET"
    )
    assert client.get("/api/v1/models", headers=auth).headers["X-Handling-Marking"] == (
        "OFFICIAL-SENSITIVE"
    )
    # An analyst cleared only to OFFICIAL-SENSITIVE gets a board without the SECRET case.
    _clear(web_engine, web_org.users["chair"], "OFFICIAL-SENSITIVE")
    chair = _token(web_engine, web_org.users["chair"])
    answer = client.get("/api/v1/board", headers=chair)
    assert answer.headers["X-Handling-Marking"] == "OFFICIAL-SENSITIVE"
    assert "Fictional secret request" not in answer.get_data(as_text=True)


def test_u5_bcu_lists_csv_and_api_carry_the_highest_marking(
    signed_in: SignedIn, client: FlaskClient, web_org: Org, web_engine: Engine
) -> None:
    _request(web_engine, web_org, "Fictional request one", "OFFICIAL-SENSITIVE")
    browser = signed_in("bcu_requester")
    assert BANNER.format("OFFICIAL-SENSITIVE") in browser.get("/requests").get_data(as_text=True)
    _clear(web_engine, web_org.users["bcu_a"], "SECRET")
    _request(web_engine, web_org, "Fictional secret request", "SECRET")
    page = browser.get("/requests").get_data(as_text=True)
    assert "Fictional secret request" in page
    assert BANNER.format("SECRET") in page
    reason = {"csrf_token": csrf_token(browser, "/requests/export.csv"), "reason_code": "audit"}
    exported = browser.post("/requests/export.csv", data=reason)
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == ["SECRET"]
    assert exported.headers["X-Handling-Marking"] == "SECRET"
    auth = _token(web_engine, web_org.users["bcu_a"])
    assert client.get("/api/v1/requests", headers=auth).headers["X-Handling-Marking"] == "SECRET"


def test_a_bcu_requester_sees_no_request_above_their_clearance(
    signed_in: SignedIn, client: FlaskClient, web_org: Org, web_engine: Engine
) -> None:
    _request(web_engine, web_org, "Fictional visible request", "OFFICIAL-SENSITIVE")
    _request(web_engine, web_org, "Fictional secret request", "SECRET")
    page = signed_in("bcu_requester").get("/requests").get_data(as_text=True)
    assert "Fictional visible request" in page
    assert "Fictional secret request" not in page
    assert BANNER.format("OFFICIAL-SENSITIVE") in page
    auth = _token(web_engine, web_org.users["bcu_a"])
    listing = client.get("/api/v1/requests", headers=auth)
    assert "Fictional secret request" not in listing.get_data(as_text=True)
    assert listing.headers["X-Handling-Marking"] == "OFFICIAL-SENSITIVE"


def test_the_board_page_carries_the_highest_marking(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    _request(web_engine, web_org, "Fictional secret request", "SECRET")
    assert BANNER.format("SECRET") in signed_in("coordinator").get("/board").get_data(as_text=True)
    with session_scope(web_engine) as session:
        for case in session.exec(select(Case)).all():
            case.marking = "OFFICIAL"
            session.add(case)
    page = signed_in("coordinator").get("/board").get_data(as_text=True)
    assert BANNER.format("OFFICIAL-SENSITIVE") in page
