"""Decisions: what the meeting saw, the rules of each outcome, threat to life (both databases)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from scoring import score_vectors
from tasking.db import session_scope
from tasking.models import (
    Assessment,
    Case,
    CaseScore,
    Decision,
    DecisionAsset,
    ModelVersion,
    State,
    utcnow,
)
from tasking.services.board import board_page
from tasking.services.cases import submit_asset_request, update_assessment
from tasking.services.errors import Conflict, Forbidden, Invalid
from tasking.services.rescore import rescore_all
from tasking.services.scores import engine_model
from tasking.services.workflow import case_decisions
from tests.support.intel import set_intel_at
from tests.tasking.conftest import Org
from tests.tasking.flow import (
    RequestData,
    assessment_of,
    decide,
    moderate,
    move,
    submit,
    to_meeting,
    version_of,
)


def surveillance(org: Org, hours: int = 40) -> list[dict[str, int]]:
    """One surveillance asset with hours, as a decision's `assets`."""
    assert org.surveillance.id is not None
    return [{"asset_id": org.surveillance.id, "hours": hours}]


def test_decision_stores_what_the_meeting_saw_and_reproduces_it(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    other, _ = submit(engine, org, request_data, P=4)  # ranks above
    to_meeting(engine, org, case_id)
    decision = decide(engine, org, case_id, assets=surveillance(org))
    with Session(engine) as session:
        score = session.get(CaseScore, case_id)
        model = session.get(ModelVersion, decision.model_version_id)
        assert score is not None
        assert model is not None
    assert decision.vector_shown == score.scored_vector
    assert (decision.model_name, decision.model_number, decision.model_hash) == (
        model.name, model.version, model.content_hash,
    )  # fmt: skip
    assert decision.rank_shown == 2
    assert other
    assert decision.assessment_version == assessment_of(engine, case_id).version
    again = score_vectors([decision.vector_shown], model=engine_model(model))[0]
    assert again["priority"] == decision.priority_shown
    assert again["band"] == f"P{decision.band_shown}"
    assert again["grading"] == decision.grading_shown
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.state, case.allocated_hours) == ("adopted", 40)
        granted = session.exec(select(DecisionAsset)).all()
        assert [(g.asset_id, g.hours) for g in granted] == [(org.surveillance.id, 40)]
        assert decision.asset_id == org.surveillance.id  # the first asset, for older readers


def test_decision_refused_after_assessment_change_not_after_ageing(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    to_meeting(engine, org, case_id)
    papers = assessment_of(engine, case_id).version
    with Session(engine) as session:
        papers_score = session.get(CaseScore, case_id).score_version  # type: ignore[union-attr]
    # The nightly run ages the score: a new score version, the same assessment.
    set_intel_at(engine, case_id, utcnow() - timedelta(days=40))
    rescore_all(engine=engine, reason="nightly")
    with Session(engine) as session:
        aged = session.get(CaseScore, case_id)
        assert aged is not None
        assert aged.score_version > papers_score
    decision = decide(
        engine, org, case_id, assets=surveillance(org), score_version=papers_score,
        assessment_version=papers,
    )  # fmt: skip
    assert decision.papers_score_version == papers_score
    assert decision.score_version == aged.score_version
    assert decision.age_days_shown == pytest.approx(40, abs=0.01)
    assert score_vectors([decision.vector_shown])[0]["priority"] == decision.priority_shown


def test_decision_refused_when_assessment_changed_since_the_papers(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    to_meeting(engine, org, case_id)
    papers = assessment_of(engine, case_id).version
    with session_scope(engine) as session:  # a person changes it, re-moderated since
        update_assessment(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id),
            data={**request_data()["assessment"], "L": 5}, reason="Escalation reported",
        )  # fmt: skip
    moderate(engine, org, case_id)
    move(engine, org, case_id, "awaiting_meeting")
    with pytest.raises(Conflict) as caught:
        decide(engine, org, case_id, assets=surveillance(org), assessment_version=papers)
    assert caught.value.fields == {"assessment_version": "stale"}
    decide(engine, org, case_id, assets=surveillance(org), assessment_version=papers + 1)


def test_decision_refused_without_current_moderation(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    move(engine, org, case_id, "triage", "scoring", "moderation")
    with pytest.raises(Conflict) as caught:
        decide(engine, org, case_id, assets=surveillance(org))
    assert caught.value.fields == {"state": "moderation"}
    moderate(engine, org, case_id)
    move(engine, org, case_id, "awaiting_meeting")
    with session_scope(engine) as session:  # a moderated version, then changed (stale)
        row = session.get(Assessment, case_id)
        assert row is not None
        row.version += 1
        session.add(row)
    with pytest.raises(Conflict) as caught:
        decide(engine, org, case_id, assets=surveillance(org))
    assert caught.value.fields == {"moderation": "agreed"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"outcome": "adopted"}, "assets"),
        ({"outcome": "deferred", "assets": "one"}, "assets"),
        ({"outcome": "adopted", "assets": "drones"}, "asset_type_reason"),
        ({"outcome": "adopted", "assets": "one", "next_review": None}, "next_review"),
        ({"outcome": "deferred", "next_review": None}, "next_review"),
        ({"outcome": "referred", "next_review": None}, "referral_destination"),
        ({"outcome": "referred", "referral_destination": "NOBODY"}, "referral_destination"),
        ({"outcome": "declined", "next_review": None}, "decline_reason"),
        ({"outcome": "declined", "decline_reason": "x", "referral_destination": "NCA"},
         "referral_destination"),
        ({"outcome": "adopted", "assets": "one", "chair_id": "analyst"}, "chair_id"),
        ({"outcome": "adopted", "assets": "one", "grading_varied": True}, "variation_rationale"),
        ({"outcome": "adopted", "assets": "one", "owner_id": 99999}, "owner_id"),
        ({"outcome": "adopted", "assets": "one", "next_review": "2000-01-01"}, "next_review"),
    ],
)  # fmt: skip
def test_decision_rules_per_outcome(
    engine: Engine, org: Org, request_data: RequestData, extra: dict[str, Any], field: str
) -> None:
    case_id, _ = submit(engine, org, request_data)
    to_meeting(engine, org, case_id)
    extra = dict(extra)
    if extra.get("assets") == "one":
        extra["assets"] = surveillance(org)
    elif extra.get("assets") == "drones":
        extra["assets"] = [{"asset_id": org.drones.id, "hours": 10}]
    if extra.get("chair_id") == "analyst":
        extra["chair_id"] = org.users["analyst"].id
    with pytest.raises(Invalid) as caught:
        decide(engine, org, case_id, **extra)
    assert field in caught.value.fields
    with Session(engine) as session:
        assert session.get(Case, case_id).state == State.AWAITING_MEETING  # type: ignore[union-attr]


def test_decision_outcomes_that_pass_and_what_the_bcu_sees(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    declined, referred, mixed = (submit(engine, org, request_data)[0] for _ in range(3))
    for case_id in (declined, referred, mixed):
        to_meeting(engine, org, case_id)
    decide(
        engine, org, declined, outcome="declined", next_review=None,
        decline_reason="Local options not yet tried.", conditions="Resubmit after a local plan.",
        dissent="One member would have deferred.",
    )  # fmt: skip
    decide(engine, org, referred, outcome="referred", next_review=None, referral_destination="ROCU")
    decide(
        engine, org, mixed,
        assets=[*surveillance(org, 30), {"asset_id": org.drones.id, "hours": 8}],
        asset_type_reason="Drone cover reduces surveillance hours needed.",
    )  # fmt: skip
    with Session(engine) as session:
        assert session.get(Case, mixed).allocated_hours == 38  # type: ignore[union-attr]
        seen = case_decisions(session=session, actor=org.users["bcu_a"], case_id=declined)
        assert [(v.outcome, v.decline_reason, v.conditions, v.record) for v in seen] == [
            ("declined", "Local options not yet tried.", "Resubmit after a local plan.", None)
        ]
        centre = case_decisions(session=session, actor=org.users["coordinator"], case_id=mixed)
        assert centre[0].record is not None
        assert sorted((a.code, h) for a, h in centre[0].assets) == [("DRONE-1", 8), ("SURV-1", 30)]
        referral = case_decisions(session=session, actor=org.users["bcu_a"], case_id=referred)
        assert referral[0].referral_destination == "ROCU"


def test_threat_to_life_with_facts_alone_tops_board_and_is_decided_at_once(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    ordinary, _ = submit(engine, org, request_data, P=4, Ps=4)
    facts = request_data()
    del facts["assessment"]
    with pytest.raises(Invalid), session_scope(engine) as session:
        submit_asset_request(session=session, actor=org.users["bcu_a"], data=facts)
    with session_scope(engine) as session:
        case = submit_asset_request(
            session=session, actor=org.users["bcu_a"], data={**facts, "threat_to_life": True}
        )
        threat = case.id
        assert threat is not None
    assert assessment_of(engine, threat).provisional
    with Session(engine) as session:
        page = board_page(session=session, actor=org.users["coordinator"])
        assert [row.case_id for row in page.rows] == [threat, ordinary]
        assert page.rows[0].band == 0
    with pytest.raises(Forbidden):  # the duty senior officer's decision, not the coordinator's
        decide(engine, org, threat, who="coordinator", immediate=True, assets=surveillance(org))
    with pytest.raises(Conflict):  # not a threat to life
        decide(engine, org, ordinary, immediate=True, assets=surveillance(org))
    decision = decide(engine, org, threat, immediate=True, assets=surveillance(org, 20))
    assert decision.immediate
    assert decision.band_shown == 0
    with pytest.raises(Conflict):  # the provisional assessment cannot be moderated
        moderate(engine, org, threat)
    with session_scope(engine) as session:  # completed afterwards...
        update_assessment(
            session=session, actor=org.users["analyst"], case_id=threat,
            expected_version=version_of(engine, threat),
            data={"P": 4, "Ps": 3, "F": 0, "C": 3, "S": 2, "V": 1, "L": 3, "Cf": "M",
                  "Ca": 0, "Cb": 2, "O": 2, "T": 1},
        )  # fmt: skip
    completed = assessment_of(engine, threat)
    assert not completed.provisional
    assert completed.moderation == "pending"
    moderate(engine, org, threat)  # ...and moderated like any other
    assert assessment_of(engine, threat).moderation == "agreed"
    with Session(engine) as session:
        assert session.get(Case, threat).state == State.ADOPTED  # type: ignore[union-attr]


_LEVEL = st.integers(0, 4)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    harm=st.tuples(_LEVEL, _LEVEL, _LEVEL, _LEVEL),
    scope=st.integers(1, 5),
    likelihood=st.integers(1, 5),
    confidence=st.sampled_from("HML"),
    age=st.floats(0, 400, allow_nan=False),
)
def test_property_decided_score_reproduces_exactly(
    engine: Engine, org: Org, request_data: RequestData,
    harm: tuple[int, int, int, int], scope: int, likelihood: int, confidence: str, age: float,
) -> None:  # fmt: skip
    p, ps, f, c = harm
    case_id, _ = submit(
        engine, org, request_data, P=p, Ps=ps, F=f, C=c, S=scope, L=likelihood, Cf=confidence
    )
    to_meeting(engine, org, case_id)
    set_intel_at(engine, case_id, utcnow() - timedelta(days=age))
    rescore_all(engine=engine, reason="nightly")
    decision = decide(engine, org, case_id, assets=surveillance(org))
    with Session(engine) as session:
        model = session.get(ModelVersion, decision.model_version_id)
        assert model is not None
        stored = session.exec(select(Decision).where(Decision.id == decision.id)).one()
    assert model.content_hash == stored.model_hash
    again = score_vectors([stored.vector_shown], model=engine_model(model))[0]
    assert again["priority"] == stored.priority_shown  # exactly, not approximately
    assert again["band"] == f"P{stored.band_shown}"
    assert again["grading"] == stored.grading_shown
