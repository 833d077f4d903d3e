"""The case page over HTTP: who may see it, what it shows, and each of its forms."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import select

import scoring
from tasking.db import session_scope
from tasking.models import (
    DECISION_STATES,
    Assessment,
    AuditEvent,
    Case,
    CaseScore,
    Decision,
    DecisionAsset,
    IntelEntry,
    State,
    User,
    pk,
)
from tasking.services.cases import create_case, submit_asset_request
from tasking.services.moderation import moderate_score
from tasking.services.workflow import TRANSITIONS, allowed_transitions, transition
from tests.tasking.conftest import Org
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]
SCRIPT = "<script>alert(1)</script>"


@dataclass
class Cases:
    """References of the fixture cases."""

    op: str  # an operation in moderation, assessed by `analyst`, marked-up title
    request_b: str  # BCU B's request for drones (the asset owner's), submitted
    meeting: str  # an operation awaiting the meeting, moderated by analyst2


def _assessment(**overrides: Any) -> dict[str, Any]:
    base = {
        "P": 3, "Ps": 3, "F": 2, "C": 3, "S": 4, "V": 2, "L": 5, "Cf": "H",
        "Ca": 2, "Cb": 2, "O": 2, "T": 0, "rationale": "Fictional test rationale.",
    }  # fmt: skip
    return {**base, **overrides}


def _move(session: Any, actor: User, case: Case, *states: str) -> Case:
    for state in states:
        case = transition(
            session=session, actor=actor, case_id=pk(case), expected_version=case.version,
            to_state=state, reason="Test progression.",
        )  # fmt: skip
    return case


@pytest.fixture
def cases(web_engine: Engine, web_org: Org) -> Cases:
    """Three cases in different states, made through the services."""
    users = web_org.users
    with session_scope(web_engine) as session:
        op = create_case(
            session=session,
            actor=users["analyst"],
            data={
                "kind": "operation", "title": f"Op test {SCRIPT}", "theme_id": web_org.theme.id,
                "strands": ["Pursue"], "summary": "Fictional summary.",
                "assessment": _assessment(),
            },
        )  # fmt: skip
        op = _move(session, users["coordinator"], op, "triage", "scoring", "moderation")
        request_b = submit_asset_request(
            session=session,
            actor=users["bcu_b"],
            data={
                "title": "Surveillance on a fictional burglar", "theme_id": web_org.theme.id,
                "strands": ["Pursue"], "asset_type": "drones", "requested_hours": 40,
                "justification": "Local options are exhausted here.",
                "assessment": _assessment(P=0, Ps=2, F=2, C=2, S=2, V=0, L=4, Cf="M"),
            },
        )  # fmt: skip
        meeting = create_case(
            session=session,
            actor=users["analyst"],
            data={
                "kind": "operation", "title": "Op awaiting the meeting",
                "theme_id": web_org.theme2.id, "strands": ["Pursue"],
                "assessment": _assessment(P=2, L=3),
            },
        )  # fmt: skip
        meeting = _move(session, users["coordinator"], meeting, "triage", "scoring", "moderation")
        meeting = moderate_score(
            session=session, actor=users["analyst2"], case_id=pk(meeting),
            expected_version=meeting.version, agree=True, note="Agreed.",
        )  # fmt: skip
        meeting = _move(session, users["coordinator"], meeting, "awaiting_meeting")
        return Cases(op=op.reference, request_b=request_b.reference, meeting=meeting.reference)


def _case(engine: Engine, reference: str) -> Case:
    with session_scope(engine, write=False) as session:
        return session.exec(select(Case).where(Case.reference == reference)).one()


def _audit(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# --- who may see the page ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "analyst", "chair", "asset_owner"])
def test_case_page_for_each_board_role(signed_in: SignedIn, cases: Cases, role: str) -> None:
    reference = cases.request_b if role == "asset_owner" else cases.op  # the owner's asset
    response = signed_in(role).get(f"/cases/{reference}")
    assert response.status_code == 200
    page = _text(response)
    assert reference in page
    assert "OFFICIAL-SENSITIVE" in page
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("role", ["bcu_requester", "auditor", "admin"])
def test_case_page_refused_to_other_roles(signed_in: SignedIn, cases: Cases, role: str) -> None:
    assert signed_in(role).get(f"/cases/{cases.op}").status_code == 403


def test_unknown_reference_is_404(signed_in: SignedIn, cases: Cases) -> None:
    response = signed_in("coordinator").get("/cases/OP-99999")
    assert response.status_code == 404
    assert "OP-99999" not in _text(response) or "not found" in _text(response)


def test_a_case_outside_the_actors_scope_is_404(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    owner = signed_in("asset_owner")  # owns the drone unit: the operation is not theirs
    hidden = owner.get(f"/cases/{cases.op}")
    unknown = owner.get("/cases/OP-99999")
    assert (hidden.status_code, unknown.status_code) == (404, 404)
    assert _text(hidden).replace(cases.op, "REF") == _text(unknown).replace("OP-99999", "REF")
    before = len(_audit(web_engine, "case.view"))
    with session_scope(web_engine) as session:  # marked above the chair's clearance
        case = session.exec(select(Case).where(Case.reference == cases.op)).one()
        case.marking = "SECRET"
        chair = session.exec(select(User).where(User.username == "chair")).one()
        chair.clearance = "OFFICIAL-SENSITIVE"
        session.add_all([case, chair])
    assert signed_in("chair").get(f"/cases/{cases.op}").status_code == 404
    assert len(_audit(web_engine, "case.view")) == before  # nothing seen, nothing logged


def test_out_of_scope_case_is_not_found_like_an_unknown_one(
    web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    from tasking.services.cases import get_case_by_reference
    from tasking.services.errors import NotFound

    with session_scope(web_engine) as session:
        bcu_a = session.get(User, web_org.users["bcu_a"].id)
        assert bcu_a is not None
        answers = []
        for reference in (cases.request_b, "REQ-99999"):
            with pytest.raises(NotFound) as caught:
                get_case_by_reference(session=session, actor=bcu_a, reference=reference)
            answers.append(caught.value.message.replace(reference, "REF"))
        assert answers[0] == answers[1]
        bcu_b = session.get(User, web_org.users["bcu_b"].id)
        assert bcu_b is not None
        own = get_case_by_reference(session=session, actor=bcu_b, reference=cases.request_b)
        assert own.reference == cases.request_b


def test_viewing_the_page_logs_one_consultation(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    before = len(_audit(web_engine, "case.view"))
    assert signed_in("chair").get(f"/cases/{cases.op}").status_code == 200
    views = _audit(web_engine, "case.view")
    assert len(views) == before + 1
    assert views[-1].entity_id == _case(web_engine, cases.op).id
    assert views[-1].category == "consultation"


def test_facts_and_assessment_both_present_and_labelled(signed_in: SignedIn, cases: Cases) -> None:
    page = _text(signed_in("analyst").get(f"/cases/{cases.op}"))
    facts = page.index('<h2 class="heading-m case-record__heading">Facts</h2>')
    assessment = page.index("Assessment <span")
    assert facts < assessment
    assert "(MoRiLE score, a judgement)" in page
    assert "Fictional summary." in page[facts:assessment]  # the summary is a fact
    assert "Fictional test rationale." in page[assessment:]  # the rationale is a judgement


def test_breakdown_numbers_are_the_engines(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    page = _text(signed_in("coordinator").get(f"/cases/{cases.op}"))
    with session_scope(web_engine, write=False) as session:
        score = session.get(CaseScore, _case(web_engine, cases.op).id)
        assert score is not None
        vector = score.scored_vector
    expected = scoring.score_vectors([vector])[0]
    shown = dict(re.findall(r'data-key="([A-Za-z_]+)" data-value="([^"]+)"', page))
    for key in ("harm_base", "total_harm", "risk", "freshness", "priority"):
        assert float(shown[key]) == expected[key], key
    assert int(shown["position"]) == expected["position"]
    assert re.search(rf'data-key="band">{expected["band"]}<', page)
    assert re.search(rf'data-key="grading">{re.escape(expected["grading"])}<', page)
    assert re.search(rf'data-key="model">{expected["model"]}<', page)
    assert f'data-key="model_hash">{expected["model_hash"]}<' in page
    assert f'data-key="vector">{expected["vector"]}<' in page
    contributions = sum(float(shown[f"harm_{k}"]) for k in ("P", "Ps", "F", "C"))
    assert contributions == pytest.approx(expected["harm_base"], abs=1e-12)


def test_breakdown_names_the_smallest_band_moves(signed_in: SignedIn, cases: Cases) -> None:
    page = _text(signed_in("coordinator").get(f"/cases/{cases.op}"))
    inputs = scoring.parse_vector(_vector_of(page))
    moves = scoring.explain(inputs).moves
    assert moves
    for move in moves:
        assert f"{move.before} &rarr; {move.after}" in page


def _vector_of(page: str) -> str:
    found = re.search(r'data-key="vector">([^<]+)<', page)
    assert found
    return html.unescape(found.group(1))


def test_history_is_drawn_and_tabulated(signed_in: SignedIn, cases: Cases) -> None:
    page = _text(signed_in("coordinator").get(f"/cases/{cases.op}"))
    chart = page[page.index('id="priority-chart-title"') - 400 : page.index("</svg>")]
    assert "<circle" in chart
    assert "P1 90" in chart
    assert "P2 45" in chart
    assert 'id="score-history"' in page
    assert "style=" not in page.lower()


def test_stored_markup_is_escaped(signed_in: SignedIn, cases: Cases) -> None:
    page = _text(signed_in("coordinator").get(f"/cases/{cases.op}"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT not in page


def test_marking_banner_follows_the_case(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    with session_scope(web_engine) as session:
        case = session.exec(select(Case).where(Case.reference == cases.op)).one()
        case.marking = "SECRET"
        session.add(case)
        coordinator = session.exec(select(User).where(User.username == "coordinator")).one()
        coordinator.clearance = "SECRET"
        session.add(coordinator)
    page = _text(signed_in("coordinator").get(f"/cases/{cases.op}"))
    assert page.count('aria-label="Handling marking">SECRET<') == 2


# --- forms ------------------------------------------------------------------------------


def _post(
    browser: FlaskClient, reference: str, action: str, data: dict[str, Any], *, token: bool = True
) -> Any:
    """POST a case-page form as that browser: CSRF token and case version from the page."""
    body: dict[str, Any] = {"version": _case_version(browser, reference), **data}
    if token:
        body["csrf_token"] = csrf_token(browser, f"/cases/{reference}")
    return browser.post(f"/cases/{reference}/{action}", data=body)


def _case_version(browser: FlaskClient, reference: str) -> str:
    page = _text(browser.get(f"/cases/{reference}"))
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found, "no version on the page"
    return found.group(1)


def _assessment_form(**overrides: str) -> dict[str, str]:
    values = {k: str(v) for k, v in _assessment(L=3, rationale="Likelihood lowered.").items()}
    return {**values, **overrides}


def _assessment_row(engine: Engine, reference: str) -> Assessment:
    with session_scope(engine, write=False) as session:
        row = session.get(Assessment, _case(engine, reference).id)
        assert row is not None
        return row


def test_assessment_saved_redirects_rescored_and_audited(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("analyst")
    response = _post(browser, cases.op, "assessment", _assessment_form())
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{cases.op}#assessment")
    row = _assessment_row(web_engine, cases.op)
    assert (row.l, row.rationale, row.moderation) == (3, "Likelihood lowered.", "pending")
    assert [e.entity_id for e in _audit(web_engine, "assessment.update")] == [row.case_id]
    assert "Assessment saved" in _text(browser.get(response.headers["Location"]))


def test_assessment_without_csrf_token_is_refused(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    response = _post(signed_in("analyst"), cases.op, "assessment", _assessment_form(), token=False)
    assert response.status_code == 400
    assert _assessment_row(web_engine, cases.op).l == 5


def test_assessment_errors_name_the_fields_and_keep_the_input(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    form = _assessment_form(P="9", Cf="", rationale="My <b>careful</b> rationale")
    response = _post(signed_in("analyst"), cases.op, "assessment", form)
    page = _text(response)
    assert response.status_code == 422
    assert 'href="#as-P">Physical harm:' in page
    assert 'href="#as-Cf">Confidence in the intelligence:' in page
    assert 'id="as-Cf-error"' in page
    assert ">My &lt;b&gt;careful&lt;/b&gt; rationale</textarea>" in page
    assert re.search(r'<option value="3" selected>3 likely</option>', page)  # L kept
    assert _assessment_row(web_engine, cases.op).l == 5


def test_assessment_on_a_stale_version_is_409_with_input_kept(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("analyst")
    stale = _case_version(browser, cases.op)
    theirs = _post(signed_in("coordinator"), cases.op, "assessment", _assessment_form(L="4"))
    assert theirs.status_code == 303
    form = {**_assessment_form(rationale="Mine, typed meanwhile"), "version": stale}
    response = _post(browser, cases.op, "assessment", form)
    page = _text(response)
    assert response.status_code == 409
    assert "changed by someone else" in page
    assert ">Mine, typed meanwhile</textarea>" in page
    assert "Saved meanwhile: 4 very likely" in page  # beside the field where they differ
    assert re.search(r'<option value="3" selected>3 likely</option>', page)  # mine, kept
    assert _assessment_row(web_engine, cases.op).l == 4  # theirs stands, nothing overwritten
    fresh = re.search(r'name="version" value="(\d+)"', page)
    assert fresh
    assert int(fresh.group(1)) == _case(web_engine, cases.op).version


def _intel(**overrides: str) -> dict[str, str]:
    base = {
        "source_grade": "1", "info_grade": "A", "handling": "P",
        "summary": f"Seen at the fictional address {SCRIPT}", "received_at": "2026-01-02T03:04",
    }  # fmt: skip
    return {**base, **overrides}


def test_intelligence_logged_with_its_grading_and_shown_escaped(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("analyst")
    response = _post(browser, cases.op, "intelligence", _intel(info_grade="B", handling="C"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("#intelligence")
    with session_scope(web_engine, write=False) as session:
        entry = session.exec(select(IntelEntry)).one()
    assert (entry.source_grade, entry.info_grade, entry.handling) == (1, "B", "C")
    assert len(_audit(web_engine, "intel.log")) == 1
    page = _text(browser.get(f"/cases/{cases.op}"))
    assert "1BC</strong>" in page
    assert "Information B known indirectly, corroborated" in page
    assert "Confidence H</li>" in page  # source 1 with B maps to high (3x5x2 to MoRiLE)
    assert "Seen at the fictional address &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT not in page


def test_intelligence_errors_name_the_fields_and_keep_the_input(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    form = _intel(info_grade="", summary="ab", received_at="not a date")
    response = _post(signed_in("analyst"), cases.op, "intelligence", form)
    page = _text(response)
    assert response.status_code == 422
    for field, label in (("info-grade", "Information"), ("summary", "What the intelligence says"),
                         ("received-at", "Received")):  # fmt: skip
        assert f'href="#in-{field}">{label}:' in page
    assert ">ab</textarea>" in page
    assert 'value="not a date"' in page
    assert re.search(r'name="source_grade" type="radio" value="1" checked', page)
    with session_scope(web_engine, write=False) as session:
        assert session.exec(select(IntelEntry)).first() is None


def test_intelligence_on_a_stale_version_is_409(signed_in: SignedIn, cases: Cases) -> None:
    browser = signed_in("analyst")
    form = {**_intel(summary="Kept after the conflict"), "version": "0"}
    response = _post(browser, cases.op, "intelligence", form)
    assert response.status_code == 409
    assert ">Kept after the conflict</textarea>" in _text(response)


def test_intelligence_without_csrf_token_is_refused(signed_in: SignedIn, cases: Cases) -> None:
    response = _post(signed_in("analyst"), cases.op, "intelligence", _intel(), token=False)
    assert response.status_code == 400


def test_moderation_by_a_second_analyst_is_recorded(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("analyst2")
    assert f'action="/cases/{cases.op}/moderation"' in _text(browser.get(f"/cases/{cases.op}"))
    response = _post(browser, cases.op, "moderation", {"decision": "agree", "note": "Sound."})
    assert response.status_code == 303
    row = _assessment_row(web_engine, cases.op)
    assert row.moderation == "agreed"
    assert len(_audit(web_engine, "score.moderate")) == 2  # the fixture's, and this one


def test_moderation_by_the_assessor_is_refused_with_the_reason(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("analyst")  # assessed the case
    page = _text(browser.get(f"/cases/{cases.op}"))
    assert f'action="/cases/{cases.op}/moderation"' not in page  # not offered...
    assert "You assessed this case" in page
    response = _post(browser, cases.op, "moderation", {"decision": "agree", "note": "Mine."})
    assert response.status_code == 403  # ...and refused by the service when sent anyway
    assert "moderated by someone other than its assessor" in _text(response)
    assert _assessment_row(web_engine, cases.op).moderation == "pending"


def test_varying_without_a_reason_names_the_field(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    response = _post(signed_in("analyst2"), cases.op, "moderation", {"decision": "vary"})
    page = _text(response)
    assert response.status_code == 422
    assert 'href="#mo-note">Reason:' in page
    assert re.search(r'name="decision" type="radio" value="vary" checked', page)
    assert _assessment_row(web_engine, cases.op).moderation == "pending"


def test_moderation_needs_a_choice_and_a_token(signed_in: SignedIn, cases: Cases) -> None:
    browser = signed_in("analyst2")
    missing = _post(browser, cases.op, "moderation", {"note": "Typed but no choice"})
    assert missing.status_code == 422
    assert 'href="#mo-decision">Moderation:' in _text(missing)
    assert ">Typed but no choice</textarea>" in _text(missing)
    refused = _post(browser, cases.op, "moderation", {"decision": "agree"}, token=False)
    assert refused.status_code == 400


def _varied(**overrides: str) -> dict[str, str]:
    inputs = {k: str(v) for k, v in _assessment(**overrides).items() if k != "rationale"}
    return {f"varied.{key}": value for key, value in inputs.items()}


def test_moderation_varies_the_inputs_and_they_become_the_score(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    before = _score_of(web_engine, cases.op)
    form = {"decision": "vary", "note": "Likelihood overstated.", **_varied(L="2")}
    response = _post(signed_in("analyst2"), cases.op, "moderation", form)
    assert response.status_code == 303
    row = _assessment_row(web_engine, cases.op)
    assert (row.moderation, row.l, row.moderation_note) == ("varied", 2, "Likelihood overstated.")
    after = _score_of(web_engine, cases.op)
    assert after.priority < before.priority
    page = _text(signed_in("chair").get(f"/cases/{cases.op}"))
    assert "Varied from the assessor" in page
    assert "Likelihood overstated." in page


def _score_of(engine: Engine, reference: str) -> CaseScore:
    with session_scope(engine, write=False) as session:
        score = session.get(CaseScore, _case(engine, reference).id)
        assert score is not None
        return score


def test_moderation_on_a_stale_version_is_409(signed_in: SignedIn, cases: Cases) -> None:
    form = {"decision": "vary", "note": "Kept note", "version": "1", **_varied(L="2")}
    response = _post(signed_in("analyst2"), cases.op, "moderation", form)
    assert response.status_code == 409
    page = _text(response)
    assert ">Kept note</textarea>" in page
    assert re.search(r'<option value="2" selected>2 possible</option>', page)  # varied L kept


def _offered(page: str) -> set[str]:
    return set(re.findall(r'data-to-state="([a-z_]+)"', page))


def test_transitions_offered_are_exactly_the_legal_ones(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("coordinator")
    for reference in (cases.op, cases.request_b, cases.meeting):
        case = _case(web_engine, reference)
        with session_scope(web_engine, write=False) as session:
            assessment = session.get(Assessment, case.id)
            moves = allowed_transitions(case, assessment=assessment)
        legal = {s.value for s in moves - DECISION_STATES}
        assert legal <= {s.value for s in TRANSITIONS[State(case.state)]}
        assert _offered(_text(browser.get(f"/cases/{reference}"))) == legal, case.state
    assert _offered(_text(signed_in("asset_owner").get(f"/cases/{cases.op}"))) == set()


def test_transition_moves_the_case_with_its_reason(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("coordinator")
    form = {"to_state": "scoring", "reason": "Back for rescoring after new intelligence."}
    response = _post(browser, cases.op, "transition", form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("#state")
    assert _case(web_engine, cases.op).state == "scoring"
    event = _audit(web_engine, "case.transition")[-1]
    assert event.reason == "Back for rescoring after new intelligence."
    assert "moved to scoring" in _text(browser.get(response.headers["Location"]))


def test_transition_errors_name_the_field_or_refuse_the_move(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("coordinator")
    no_reason = _post(browser, cases.op, "transition", {"to_state": "scoring", "reason": " "})
    assert no_reason.status_code == 422
    assert 'href="#tr-scoring-reason">Reason:' in _text(no_reason)
    illegal = _post(browser, cases.op, "transition", {"to_state": "closed", "reason": "Done."})
    assert illegal.status_code == 409
    assert "cannot move" in _text(illegal)
    stale = _post(
        browser, cases.op, "transition",
        {"to_state": "scoring", "reason": "Typed reason kept", "version": "1"},
    )  # fmt: skip
    assert stale.status_code == 409
    assert ">Typed reason kept</textarea>" in _text(stale)
    refused = _post(
        browser, cases.op, "transition", {"to_state": "scoring", "reason": "x"}, token=False
    )
    assert refused.status_code == 400
    assert _case(web_engine, cases.op).state == "moderation"


def _decision(**overrides: Any) -> dict[str, Any]:
    base = {
        "outcome": "adopted",
        "information": "Fictional intelligence picture <i>as read</i>.",
        "threat_risk": "Serious harm to a fictional community.",
        "powers_policy": "Fictional policy 12.",
        "options": "Decline; adopt; refer.",
        "action": "Surveillance for four weeks.",
        "assets.0.asset_id": "",  # set by the tests from the organisation's assets
        "assets.0.hours": "30",
        "conditions": "Review after two weeks.",
        "strands": ["Pursue", "Protect"],
        "next_review": "2027-01-15",
        "dissent": "One member preferred referral.",
    }
    return {**base, **overrides}


def _papers(engine: Engine, org: Org, reference: str, **overrides: Any) -> dict[str, Any]:
    """A decision on the case as the page shows it now, tasking the drone unit."""
    return _decision(
        score_version=str(_score_version(engine, reference)),
        assessment_version=str(_assessment_row(engine, reference).version),
        **{"assets.0.asset_id": str(org.drones.id), **overrides},
    )


def _score_version(engine: Engine, reference: str) -> int:
    with session_scope(engine, write=False) as session:
        score = session.get(CaseScore, _case(engine, reference).id)
        assert score is not None
        return score.score_version


def test_chair_records_a_decision_and_the_page_shows_its_record(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    browser = signed_in("chair")
    page = _text(browser.get(f"/cases/{cases.meeting}"))
    papers = re.search(r'name="assessment_version" value="(\d+)"', page)
    assert papers
    assert int(papers.group(1)) == _assessment_row(web_engine, cases.meeting).version
    form = _papers(web_engine, web_org, cases.meeting, asset_type_reason="Drones suit the site.")
    form.update({"assets.1.asset_id": str(web_org.surveillance.id), "assets.1.hours": "12"})
    response = _post(browser, cases.meeting, "decision", form)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("#decisions")
    with session_scope(web_engine, write=False) as session:
        decision = session.exec(select(Decision)).one()
    assert decision.chair_id == web_org.users["chair"].id
    assert (decision.outcome, decision.hours_granted, decision.strands) == ("adopted", 42, 5)
    with session_scope(web_engine, write=False) as session:
        granted = {(a.asset_id, a.hours) for a in session.exec(select(DecisionAsset)).all()}
    assert granted == {(web_org.drones.id, 30), (web_org.surveillance.id, 12)}
    assert _case(web_engine, cases.meeting).state == "adopted"
    assert len(_audit(web_engine, "decision.record")) == 1
    page = _text(browser.get(response.headers["Location"]))
    assert "Decision recorded: adopted." in page
    record = page[page.index('id="decisions"') :]
    for text in (
        "Fictional intelligence picture &lt;i&gt;as read&lt;/i&gt;.",
        "Serious harm to a fictional community.",
        "Fictional policy 12.",
        "Decline; adopt; refer.",
        "Surveillance for four weeks.",
        "Review after two weeks.",
        "One member preferred referral.",
        "Pursue, Protect",
        "15 Jan 2027",
        f"score version {decision.score_version}",
        f"assessment version {decision.assessment_version}",
        decision.vector_shown,
        "Drone unit: 30 hours",
        "Surveillance team: 12 hours",
        "Total 42 hours",
        "chaired by Chair",
    ):
        assert text in record, text
    assert f'action="/cases/{cases.meeting}/decision"' not in page  # decided: no form any more


def test_coordinator_records_for_the_chair(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    browser = signed_in("coordinator")
    chair = str(web_org.users["chair"].id)
    form = _papers(
        web_engine, web_org, cases.meeting, outcome="deferred", chair_id=chair,
        **{"assets.0.asset_id": "", "assets.0.hours": ""},
    )  # fmt: skip
    assert _post(browser, cases.meeting, "decision", form).status_code == 303
    page = _text(browser.get(f"/cases/{cases.meeting}"))
    assert "(recorded by Coordinator)" in page


def test_decision_errors_name_the_fields_and_keep_the_input(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    form = _papers(
        web_engine, web_org, cases.meeting, information="", action="", **{"assets.0.hours": "lots"}
    )
    response = _post(signed_in("chair"), cases.meeting, "decision", form)
    page = _text(response)
    assert response.status_code == 422
    for field, label in (("information", "Information"), ("action", "Action"),
                         ("assets-0-hours", "Hours for asset 1")):  # fmt: skip
        assert f'href="#de-{field}">{label}:' in page
    assert ">Serious harm to a fictional community.</textarea>" in page
    assert 'value="lots"' in page
    assert re.search(rf'<option value="{web_org.drones.id}" selected>Drone unit', page)
    assert re.search(r'name="strands" type="checkbox" value="Protect" checked', page)
    assert _case(web_engine, cases.meeting).state == "awaiting_meeting"


def test_decision_rules_of_the_service_are_named_on_the_form(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    form = _papers(web_engine, web_org, cases.meeting, outcome="declined", decline_reason="")
    response = _post(signed_in("chair"), cases.meeting, "decision", form)
    page = _text(response)
    assert response.status_code == 422
    assert 'href="#de-assets">Assets and hours:' in page  # only adopting tasks assets
    assert 'href="#de-decline-reason">Reason given to the BCU:' in page
    refer = _papers(
        web_engine, web_org, cases.meeting, outcome="referred", referral_destination="NOWHERE",
        **{"assets.0.asset_id": "", "assets.0.hours": ""},
    )  # fmt: skip
    page = _text(_post(signed_in("chair"), cases.meeting, "decision", refer))
    assert 'href="#de-referral-destination">Referred to:' in page


def test_decision_after_the_assessment_changed_is_409_with_input_kept(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    form = _papers(web_engine, web_org, cases.meeting, dissent="Dissent typed before the conflict")
    with session_scope(web_engine) as session:  # someone re-assessed after the papers went out
        row = session.get(Assessment, _case(web_engine, cases.meeting).id)
        assert row is not None
        row.version += 1
        row.moderated_version = row.version
        session.add(row)
    response = _post(signed_in("chair"), cases.meeting, "decision", form)
    page = _text(response)
    assert response.status_code == 409
    assert "assessment changed since the meeting" in page
    assert ">Dissent typed before the conflict</textarea>" in page
    fresh = re.search(r'name="assessment_version" value="(\d+)"', page)
    assert fresh
    assert int(fresh.group(1)) == _assessment_row(web_engine, cases.meeting).version
    assert _case(web_engine, cases.meeting).state == "awaiting_meeting"


def test_decision_stands_when_only_ageing_rescored_the_case(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    form = _papers(web_engine, web_org, cases.meeting)
    with session_scope(web_engine) as session:  # the nightly run aged the score meanwhile
        score = session.get(CaseScore, _case(web_engine, cases.meeting).id)
        assert score is not None
        score.score_version += 1
        session.add(score)
    assert _post(signed_in("chair"), cases.meeting, "decision", form).status_code == 303


def test_decision_on_a_stale_case_version_is_409(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    form = _papers(web_engine, web_org, cases.meeting, version="1")
    response = _post(signed_in("chair"), cases.meeting, "decision", form)
    assert response.status_code == 409
    assert "changed by someone else" in _text(response)


def test_decision_form_only_for_those_who_record_and_csrf_needed(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    analyst = signed_in("analyst")
    assert "/decision" not in _text(analyst.get(f"/cases/{cases.meeting}"))
    form = _papers(web_engine, web_org, cases.meeting)
    assert _post(analyst, cases.meeting, "decision", form).status_code == 403
    chair = signed_in("chair")
    assert _post(chair, cases.meeting, "decision", form, token=False).status_code == 400
    assert _case(web_engine, cases.meeting).state == "awaiting_meeting"


def test_varying_with_the_assessors_own_inputs_is_named(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    form = {"decision": "vary", "note": "Same again.", **_varied()}
    response = _post(signed_in("analyst2"), cases.op, "moderation", form)
    assert response.status_code == 422
    assert 'href="#mo-varied">Varied inputs:' in _text(response)
    assert _assessment_row(web_engine, cases.op).moderation == "pending"


def test_the_meeting_needs_a_current_moderation(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    form = {"to_state": "awaiting_meeting", "reason": "Ready for the meeting."}
    response = _post(signed_in("coordinator"), cases.op, "transition", form)
    assert response.status_code == 409
    assert "needs an agreed or varied moderation" in _text(response)
    assert _case(web_engine, cases.op).state == "moderation"


def test_asking_the_bcu_for_more_information(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    coordinator = signed_in("coordinator")
    assert _post(coordinator, cases.request_b, "transition", _reason("triage")).status_code == 303
    page = _text(coordinator.get(f"/cases/{cases.request_b}"))
    assert f'action="/cases/{cases.request_b}/question"' in page
    assert f'action="/cases/{cases.op}/question"' not in _text(
        coordinator.get(f"/cases/{cases.op}")
    )
    empty = _post(coordinator, cases.request_b, "question", {"question": ""})
    assert empty.status_code == 422
    assert 'href="#qu-question">Question:' in _text(empty)
    asked = _post(coordinator, cases.request_b, "question", {"question": "Which <b>options</b>?"})
    assert asked.status_code == 303
    assert _case(web_engine, cases.request_b).state == "information_requested"
    page = _text(coordinator.get(asked.headers["Location"]))
    assert "Which &lt;b&gt;options&lt;/b&gt;?" in page
    assert "Not answered yet." in page


def _reason(state: str) -> dict[str, str]:
    return {"to_state": state, "reason": f"Test move to {state}."}


def test_closing_active_work_needs_an_outcome_graded_per_strand(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    chair, coordinator = signed_in("chair"), signed_in("coordinator")
    decided = _post(chair, cases.meeting, "decision", _papers(web_engine, web_org, cases.meeting))
    assert decided.status_code == 303
    assert _post(coordinator, cases.meeting, "transition", _reason("active")).status_code == 303
    page = _text(coordinator.get(f"/cases/{cases.meeting}"))
    assert 'name="grade.Pursue"' in page  # the case's one strand
    assert 'name="grade.Protect"' not in page
    bare = _post(coordinator, cases.meeting, "transition", _reason("closed"))
    assert bare.status_code == 422
    assert 'href="#tr-closed-outcome">Outcome:' in _text(bare)
    graded = {**_reason("closed"), "outcome": "Network disrupted", "grade.Pursue": "significant"}
    assert _post(coordinator, cases.meeting, "transition", graded).status_code == 303
    closed = _case(web_engine, cases.meeting)
    assert (closed.state, closed.outcome) == ("closed", "Network disrupted")
    assert closed.outcome_grades == '{"Pursue": "significant"}'


def test_threat_to_life_gets_an_immediate_decision_from_the_chair(
    signed_in: SignedIn, web_engine: Engine, web_org: Org
) -> None:
    with session_scope(web_engine) as session:
        case = submit_asset_request(
            session=session,
            actor=web_org.users["bcu_a"],
            data={
                "title": "Fictional threat to life", "theme_id": web_org.theme.id,
                "strands": ["Protect"], "asset_type": "drones", "requested_hours": 8,
                "justification": "A fictional threat to life needs help now.",
                "threat_to_life": True,
            },
        )  # fmt: skip
        reference = case.reference
    chair = signed_in("chair")
    page = _text(chair.get(f"/cases/{reference}"))
    assert "Provisional assessment" in page
    assert "Record an immediate decision (threat to life)" in page
    assert "Record an immediate decision" not in _text(
        signed_in("coordinator").get(f"/cases/{reference}")
    )
    form = _papers(web_engine, web_org, reference, immediate="1", strands=["Protect"])
    response = _post(chair, reference, "decision", form)
    assert response.status_code == 303
    with session_scope(web_engine, write=False) as session:
        decision = session.exec(select(Decision)).one()
    assert decision.immediate
    assert "Immediate (threat to life)" in _text(chair.get(f"/cases/{reference}"))


def test_rank_history_comes_from_the_board_snapshots(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    from datetime import UTC, datetime, timedelta

    from tasking.services.runs import board_order, take_snapshot

    with web_engine.begin() as conn:
        for days in (2, 1):
            taken = datetime.now(UTC) - timedelta(days=days)
            take_snapshot(conn, run_id=None, kind="nightly", taken_at=taken)
        ids, _ = board_order(conn)
    expected = [int(i) for i in ids].index(pk(_case(web_engine, cases.op))) + 1
    page = _text(signed_in("coordinator").get(f"/cases/{cases.op}"))
    table = page[
        page.index('id="rank-history"') : page.index("</table>", page.index('id="rank-history"'))
    ]
    assert table.count(f'<td class="num">{expected}</td>') == 2
    assert f"<dt>Rank now</dt><dd>{expected}<" in page  # the live board, from the service
    assert f"{expected} of {len(ids)} at" in page  # and the newest snapshot
    assert 'id="rank-chart-title"' in page


def test_each_stored_score_is_a_point_and_a_row(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("analyst")
    assert _post(browser, cases.op, "assessment", _assessment_form()).status_code == 303
    page = _text(browser.get(f"/cases/{cases.op}"))
    chart = page[page.index('id="priority-chart-title"') : page.index("</svg>")]
    assert chart.count("<circle") == 2
    assert "<polyline" in chart
    history = page[
        page.index('id="score-history"') : page.index("</table>", page.index('id="score-history"'))
    ]
    assert history.count("<tr>") == 3  # the header and two stored scores


def test_marking_raised_with_a_reason_and_lowered_only_by_the_chair(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    with session_scope(web_engine) as session:
        coordinator = session.exec(select(User).where(User.username == "coordinator")).one()
        coordinator.clearance = "SECRET"
        session.add(coordinator)
    browser = signed_in("coordinator")
    no_reason = _post(browser, cases.op, "marking", {"marking": "SECRET", "reason": ""})
    assert no_reason.status_code == 422
    assert 'href="#ma-reason">Reason:' in _text(no_reason)
    raised = _post(browser, cases.op, "marking", {"marking": "SECRET", "reason": "Covert source."})
    assert raised.status_code == 303
    assert _case(web_engine, cases.op).marking == "SECRET"
    assert _audit(web_engine, "case.mark")[-1].reason == "Covert source."
    assert "Handling marking now SECRET." in _text(browser.get(raised.headers["Location"]))
    # A SECRET case asks why it is viewed before the page (and its forms) are shown.
    reason = {"csrf_token": csrf_token(browser, f"/cases/{cases.op}"), "reason_code": "audit"}
    assert browser.post(f"/cases/{cases.op}/reason", data=reason).status_code == 303
    lowered = _post(browser, cases.op, "marking", {"marking": "OFFICIAL", "reason": "No longer."})
    assert lowered.status_code == 403
    assert "needs the tasking chair" in _text(lowered)
    assert _case(web_engine, cases.op).marking == "SECRET"


@pytest.mark.parametrize(
    "action", ["assessment", "intelligence", "moderation", "transition", "decision", "question",
               "marking"],
)  # fmt: skip
def test_every_form_refuses_a_missing_token_and_an_unknown_case(
    signed_in: SignedIn, web_engine: Engine, cases: Cases, action: str
) -> None:
    browser = signed_in("coordinator")
    before = _case(web_engine, cases.op).version
    assert _post(browser, cases.op, action, {}, token=False).status_code == 400
    assert _case(web_engine, cases.op).version == before
    token = csrf_token(browser, f"/cases/{cases.op}")
    unknown = browser.post(f"/cases/OP-99999/{action}", data={"csrf_token": token})
    assert unknown.status_code == 404


def test_the_kind_of_work_is_named(signed_in: SignedIn, cases: Cases) -> None:
    page = _text(signed_in("coordinator").get(f"/cases/{cases.request_b}"))
    assert f"BCU asset request {cases.request_b}" in page
    assert "<dt>Kind</dt><dd>BCU asset request</dd>" in page
