"""The BCU pathway on the web: the request form, its preview, the BCU's own list and export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import select

import scoring
from tasking.db import session_scope
from tasking.models import AuditEvent, Case, CaseScore
from tasking.services.cases import submit_asset_request
from tasking.services.questions import request_information
from tasking.services.workflow import transition
from tests.tasking.conftest import Org
from tests.tasking.flow import decide, to_meeting
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]
ASSESSMENT = {
    "P": "0", "Ps": "2", "F": "2", "C": "2", "S": "2", "V": "0", "L": "4", "Cf": "H",
    "Ca": "1", "Cb": "2", "O": "2", "T": "0",
}  # fmt: skip


def form(org: Org, **overrides: Any) -> dict[str, Any]:
    """A complete, valid request form as a browser would post it."""
    data: dict[str, Any] = {
        "title": "Surveillance on prolific burglar",
        "theme_id": str(org.theme.id),
        "strands": ["Pursue"],
        "asset_type": "surveillance",
        "requested_hours": "40",
        "opportunity_deadline": "",
        "justification": "Local options are exhausted for this offender.",
        "summary": "",
        "rationale": "",
        **ASSESSMENT,
    }
    data.update(overrides)
    return data


def post(browser: FlaskClient, data: dict[str, Any], action: str = "submit") -> Any:
    token = csrf_token(browser, "/requests/new")
    return browser.post("/requests", data={**data, "action": action, "csrf_token": token})


def submit_for(engine: Engine, org: Org, who: str, title: str) -> str:
    """A request submitted through the service by a BCU user; returns its reference."""
    with session_scope(engine) as session:
        case = submit_asset_request(
            session=session,
            actor=org.users[who],
            data={
                "title": title,
                "theme_id": org.theme.id,
                "asset_type": "drones",
                "requested_hours": 8,
                "justification": "Needed for a fictional test case.",
                "assessment": {k: (v if k == "Cf" else int(v)) for k, v in ASSESSMENT.items()},
            },
        )
        return case.reference


def test_the_form_explains_every_input(signed_in: SignedIn) -> None:
    page = signed_in("bcu_requester").get("/requests/new").get_data(as_text=True)
    for text in ("Physical harm", "Geographic scope", "4 - regional or cross-border",
                 "2 - high: children, exploitation", "Confidence in the intelligence",
                 "Opportunity", "Threat to life", 'name="csrf_token"'):  # fmt: skip
        assert text in page


@pytest.mark.parametrize("who", ["coordinator", "analyst", "chair", "admin", "auditor"])
def test_only_bcu_requesters_use_the_pathway(signed_in: SignedIn, who: str) -> None:
    browser = signed_in(who)
    assert browser.get("/requests/new").status_code == 403
    assert browser.get("/requests").status_code == 403


def test_submit_puts_the_request_on_the_board(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    browser = signed_in("bcu_requester")
    response = post(browser, form(web_org))
    assert response.status_code == 303
    reference = response.headers["Location"].rsplit("/", 1)[1]
    with session_scope(web_engine, write=False) as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        score = session.get(CaseScore, case.id)
        events = session.exec(select(AuditEvent.action).where(AuditEvent.entity_id == case.id))
        actions = list(events)
    assert case.bcu_id == web_org.bcu_a.id
    assert score is not None
    assert score.on_board
    expected = scoring.score_vectors([score.vector])[0]
    assert score.priority == expected["priority"]
    assert "request.submit" in actions
    page = browser.get(f"/requests/{reference}").get_data(as_text=True)
    assert "Surveillance on prolific burglar" in page
    assert f"{expected['priority']:.1f}" in page


def test_errors_name_each_field_and_keep_the_input(signed_in: SignedIn, web_org: Org) -> None:
    browser = signed_in("bcu_requester")
    bad = form(web_org, title="A", requested_hours="lots", P="", justification="short")
    response = post(browser, bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in page
    assert "Choose the physical harm" in page
    assert "Enter the hours wanted as a whole number" in page
    assert 'value="lots"' in page
    assert 'value="A"' in page
    assert ">short</textarea>" in page


def test_no_partial_write_on_error(signed_in: SignedIn, web_org: Org, web_engine: Engine) -> None:
    post(signed_in("bcu_requester"), form(web_org, theme_id="999999"))
    with session_scope(web_engine, write=False) as session:
        assert session.exec(select(Case)).all() == []


def test_preview_without_javascript_rerenders_the_form(signed_in: SignedIn, web_org: Org) -> None:
    response = post(signed_in("bcu_requester"), form(web_org), action="preview")
    page = response.get_data(as_text=True)
    expected = scoring.score_vectors(
        ["MoRiLE:1/P:0/Ps:2/F:2/C:2/S:2/V:0/L:4/Cf:H/Ca:1/Cb:2/O:2/T:0"]
    )[0]
    assert response.status_code == 200
    assert f"{expected['priority']:.1f}" in page
    assert expected["band"] in page
    assert "What would move the band" in page
    assert 'value="Surveillance on prolific burglar"' in page


def test_live_preview_answers_the_panel_alone(signed_in: SignedIn, web_org: Org) -> None:
    browser = signed_in("bcu_requester")
    token = csrf_token(browser, "/requests/new")
    response = browser.post("/requests/preview", data=form(web_org), headers={"X-CSRFToken": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Score preview" in page
    assert "<html" not in page
    refused = browser.post("/requests/preview", data=form(web_org))
    assert refused.status_code == 400  # CSRF


def test_a2_the_list_shows_only_the_bcus_own_requests(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    mine = submit_for(web_engine, web_org, "bcu_a", "Drone over the allotments")
    theirs = submit_for(web_engine, web_org, "bcu_b", "Drone over the marina")
    browser = signed_in("bcu_requester")
    page = browser.get("/requests").get_data(as_text=True)
    assert mine in page
    assert "allotments" in page
    assert theirs not in page
    assert "marina" not in page
    assert browser.get(f"/requests/{theirs}").status_code == 404
    assert signed_in("bcu_b").get(f"/requests/{mine}").status_code == 404


def test_csv_export_has_the_marking_first_and_defuses_formulas(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    submit_for(web_engine, web_org, "bcu_a", "=cmd|' /C calc'!A0")
    submit_for(web_engine, web_org, "bcu_b", "Another BCU's request")
    browser = signed_in("bcu_requester")
    asked = browser.get("/requests/export.csv")  # the reason first
    assert "Why do you need this export?" in asked.get_data(as_text=True)
    reason = {"csrf_token": csrf_token(browser, "/requests/export.csv"), "reason_code": "audit"}
    response = browser.post("/requests/export.csv", data=reason)
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert response.headers["X-Handling-Marking"] == "OFFICIAL-SENSITIVE"
    assert rows[0] == ["OFFICIAL-SENSITIVE"]
    assert rows[1][0] == "reference"
    assert len(rows) == 3
    assert rows[2][1].startswith("'=")
    with session_scope(web_engine, write=False) as session:
        actions = list(session.exec(select(AuditEvent.action)))
    assert "requests.export" in actions


def test_stored_markup_is_escaped(signed_in: SignedIn, web_org: Org, web_engine: Engine) -> None:
    reference = submit_for(web_engine, web_org, "bcu_a", "<script>alert(1)</script>")
    browser = signed_in("bcu_requester")
    for path in ("/requests", f"/requests/{reference}"):
        page = browser.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;" in page


def _ask(engine: Engine, org: Org, reference: str, question: str) -> None:
    """The coordinator takes the request to triage and asks the BCU a question."""
    with session_scope(engine) as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        case_id, version = int(case.id or 0), case.version
        coordinator = org.users["coordinator"]
        case = transition(
            session=session, actor=coordinator, case_id=case_id, expected_version=version,
            to_state="triage", reason="triage",
        )  # fmt: skip
        request_information(
            session=session, actor=coordinator, case_id=case_id,
            expected_version=case.version, data={"question": question},
        )  # fmt: skip


def test_the_bcu_answers_a_request_for_more_information(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    reference = submit_for(web_engine, web_org, "bcu_a", "Drone over the quarry")
    _ask(web_engine, web_org, reference, "Which nights does the group meet?")
    browser = signed_in("bcu_requester")
    page = browser.get(f"/requests/{reference}").get_data(as_text=True)
    assert "Which nights does the group meet?" in page
    token = csrf_token(browser, f"/requests/{reference}")
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version is not None
    empty = browser.post(
        f"/requests/{reference}/answer",
        data={"answer": "", "version": version.group(1), "csrf_token": token},
    )
    assert empty.status_code == 422
    assert "Enter your answer" in empty.get_data(as_text=True)
    done = browser.post(
        f"/requests/{reference}/answer",
        data={"answer": "Tuesdays, after dark.", "version": version.group(1), "csrf_token": token},
    )
    assert done.status_code == 303
    with session_scope(web_engine, write=False) as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
    assert case.state == "triage"
    after = browser.get(f"/requests/{reference}").get_data(as_text=True)
    assert "Tuesdays, after dark." in after
    assert "Send answer" not in after


def test_another_bcu_cannot_answer(signed_in: SignedIn, web_org: Org, web_engine: Engine) -> None:
    reference = submit_for(web_engine, web_org, "bcu_a", "Drone over the quarry")
    _ask(web_engine, web_org, reference, "Which nights?")
    browser = signed_in("bcu_b")
    token = csrf_token(browser, "/requests/new")
    response = browser.post(
        f"/requests/{reference}/answer",
        data={"answer": "Not ours to answer", "version": "3", "csrf_token": token},
    )
    assert response.status_code == 404


def test_the_bcu_withdraws_an_undecided_request(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    reference = submit_for(web_engine, web_org, "bcu_a", "Drone over the old mill")
    browser = signed_in("bcu_requester")
    page = browser.get(f"/requests/{reference}").get_data(as_text=True)
    assert "Withdraw this request" in page
    token = csrf_token(browser, f"/requests/{reference}")
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version is not None
    no_reason = browser.post(
        f"/requests/{reference}/withdraw",
        data={"reason": "", "version": version.group(1), "csrf_token": token},
    )
    assert no_reason.status_code == 422
    assert "Say why you are withdrawing it" in no_reason.get_data(as_text=True)
    done = browser.post(
        f"/requests/{reference}/withdraw",
        data={"reason": "Suspect arrested.", "version": version.group(1), "csrf_token": token},
    )
    assert done.status_code == 303
    with session_scope(web_engine, write=False) as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        score = session.get(CaseScore, case.id)
    assert case.state == "closed"
    assert case.retain_until is not None
    assert score is not None
    assert not score.on_board
    again = browser.post(
        f"/requests/{reference}/withdraw",
        data={"reason": "Twice.", "version": str(case.version), "csrf_token": token},
    )
    assert again.status_code == 409
    assert "Withdraw this request" not in browser.get(f"/requests/{reference}").get_data(
        as_text=True
    )


def test_a_declined_request_tells_the_bcu_why(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    reference = submit_for(web_engine, web_org, "bcu_a", "Drone over the reservoir")
    with session_scope(web_engine, write=False) as session:
        case_id = int(session.exec(select(Case.id).where(Case.reference == reference)).one() or 0)
    to_meeting(web_engine, web_org, case_id)
    decide(
        web_engine, web_org, case_id, outcome="declined", next_review=None,
        decline_reason="Local options not yet tried (fictional).",
    )  # fmt: skip
    browser = signed_in("bcu_requester")
    listing = browser.get("/requests").get_data(as_text=True)
    assert "Declined because: Local options not yet tried (fictional)." in listing
    page = browser.get(f"/requests/{reference}").get_data(as_text=True)
    assert "Why it was declined" in page
    assert "Local options not yet tried (fictional)." in page
