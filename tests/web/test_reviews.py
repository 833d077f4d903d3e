"""The records review pages (/reviews): coordinators decide, auditors read, others refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import select

from tasking.db import session_scope
from tasking.models import AuditEvent, Case, RecordReview, Role, ScoringRun, pk, utcnow
from tasking.services.cases import submit_asset_request
from tasking.services.disposal import TOMBSTONE_TITLE
from tasking.services.scores import current_model
from tests.tasking.conftest import Org
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]


def _overdue_case(engine: Engine, org: Org, title: str, marking: str = "OFFICIAL-SENSITIVE") -> int:
    with session_scope(engine) as session:
        data = {
            "title": title, "theme_id": org.theme.id, "strands": ["Pursue"],
            "asset_type": "surveillance", "requested_hours": 10,
            "justification": "Local options are exhausted.",
            "assessment": {"P": 1, "Ps": 1, "F": 1, "C": 1, "S": 2, "V": 0, "L": 3, "Cf": "M",
                           "Ca": 1, "Cb": 1, "O": 1, "T": 0},
        }  # fmt: skip
        case = submit_asset_request(session=session, actor=org.users["bcu_a"], data=data)
        session.flush()
        case.next_review = utcnow().date() - timedelta(days=4)
        case.marking = marking
        session.add(case)
        assert case.id is not None
        return case.id


def _post(browser: FlaskClient, path: str, data: dict[str, Any]) -> Any:
    return browser.post(path, data={**data, "csrf_token": csrf_token(browser, "/reviews/")})


@pytest.mark.parametrize("role", [Role.COORDINATOR.value, Role.AUDITOR.value])
def test_coordinators_and_auditors_see_overdue_reviews(
    signed_in: SignedIn, web_org: Org, web_engine: Engine, role: str
) -> None:
    case_id = _overdue_case(web_engine, web_org, "Fictional overdue request")
    page = signed_in(role).get("/reviews/").get_data(as_text=True)
    assert "Fictional overdue request" in page
    assert "Overdue" in page
    detail = signed_in(role).get(f"/reviews/{case_id}").get_data(as_text=True)
    has_forms = "Keep the record" in detail
    assert has_forms == (role == Role.COORDINATOR.value)  # auditors read only


@pytest.mark.parametrize(
    "role", [r.value for r in Role if r not in (Role.COORDINATOR, Role.AUDITOR)]
)
def test_every_other_role_is_refused(signed_in: SignedIn, role: str) -> None:
    assert signed_in(role).get("/reviews/").status_code == 403


def test_the_nav_links_reviews_for_coordinators(signed_in: SignedIn) -> None:
    assert 'href="/reviews/"' in signed_in("coordinator").get("/account/tokens").get_data(
        as_text=True
    )


def test_keep_on_the_page_is_recorded_and_names_bad_fields(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    case_id = _overdue_case(web_engine, web_org, "Fictional kept request")
    browser = signed_in("coordinator")
    bad = _post(
        browser,
        f"/reviews/{case_id}/keep",
        {"keep_reason": "Kept words", "next_review": "2001-01-01"},
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'href="#f-next_review"' in text
    assert 'value="Kept words"' in text
    missing = _post(browser, f"/reviews/{case_id}/keep", {"keep_reason": "", "next_review": ""})
    assert 'href="#f-keep_reason"' in missing.get_data(as_text=True)
    assert browser.post(f"/reviews/{case_id}/keep", data={"keep_reason": "x"}).status_code == 400
    next_date = (utcnow().date() + timedelta(days=30)).isoformat()
    done = _post(browser, f"/reviews/{case_id}/keep",
                 {"keep_reason": "Still live", "next_review": next_date})  # fmt: skip
    assert done.status_code == 302
    listing = browser.get("/reviews/").get_data(as_text=True)
    assert "Still live" in listing  # the decisions table
    with session_scope(web_engine, write=False) as session:
        review = session.exec(select(RecordReview)).one()
        assert (review.decision, review.next_review.isoformat()) == ("keep", next_date)  # type: ignore[union-attr]
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "record.keep")).one()


def test_the_auditor_cannot_decide(signed_in: SignedIn, web_org: Org, web_engine: Engine) -> None:
    case_id = _overdue_case(web_engine, web_org, "Fictional request")
    auditor = signed_in("auditor")
    next_date = (utcnow().date() + timedelta(days=30)).isoformat()
    assert _post(auditor, f"/reviews/{case_id}/keep",
                 {"keep_reason": "Mine", "next_review": next_date}).status_code == 403  # fmt: skip
    assert _post(auditor, f"/reviews/{case_id}/dispose",
                 {"dispose_reason": "Mine", "confirm": "yes"}).status_code == 403  # fmt: skip


def test_dispose_on_the_page_needs_confirmation_and_leaves_a_tombstone(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    case_id = _overdue_case(web_engine, web_org, "Fictional disposed request")
    browser = signed_in("coordinator")
    unconfirmed = _post(browser, f"/reviews/{case_id}/dispose", {"dispose_reason": "Over"})
    assert unconfirmed.status_code == 422
    assert 'href="#f-confirm"' in unconfirmed.get_data(as_text=True)
    done = _post(browser, f"/reviews/{case_id}/dispose",
                 {"dispose_reason": "No further purpose", "confirm": "yes"})  # fmt: skip
    assert done.status_code == 302
    with session_scope(web_engine, write=False) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.title == TOMBSTONE_TITLE
        erasure = session.exec(select(AuditEvent).where(AuditEvent.category == "erasure")).one()
        assert erasure.entity_id == case_id
        assert "Fictional disposed request" not in erasure.detail
    page = browser.get(f"/reviews/{case_id}").get_data(as_text=True)
    assert "Disposed" in page
    assert "Fictional disposed request" not in page


def test_the_review_page_carries_the_highest_marking_it_shows(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    _overdue_case(web_engine, web_org, "Fictional secret request", marking="SECRET")
    coordinator = signed_in("coordinator").get("/reviews/").get_data(as_text=True)
    assert 'aria-label="Handling marking">SECRET<' in coordinator
    auditor = signed_in("auditor").get("/reviews/").get_data(as_text=True)  # not cleared
    assert "Fictional secret request" not in auditor
    assert 'aria-label="Handling marking">OFFICIAL-SENSITIVE<' in auditor


def test_the_page_says_what_the_nightly_run_listed(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    browser = signed_in("auditor")
    assert "No nightly run has completed yet" in browser.get("/reviews/").get_data(as_text=True)
    with session_scope(web_engine) as session:
        version, _ = current_model(session=session)
        session.add(
            ScoringRun(
                kind="nightly", status="completed", run_date=utcnow().date(),
                model_version_id=pk(version),
                summary=json.dumps({"overdue_reviews": [1, 2], "retention_due": [3]}),
            )
        )  # fmt: skip
    page = browser.get("/reviews/").get_data(as_text=True)
    assert "listed 2 overdue reviews and 1 record due for retention review" in page
