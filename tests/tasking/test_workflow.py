"""The life of a case: transitions, moderation, intelligence and decisions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from tasking.db import session_scope
from tasking.models import Assessment, AuditEvent, Case, CaseScore, Decision, State, utcnow
from tasking.services.cases import submit_asset_request
from tasking.services.errors import Conflict, Forbidden, Invalid
from tasking.services.rescore import rescore_all
from tasking.services.workflow import (
    confidence_from_grading,
    log_intelligence,
    moderate_score,
    record_decision,
    transition,
)
from tests.support.intel import set_intel_at
from tests.tasking.conftest import Org

RequestData = Callable[..., dict[str, Any]]


def submit(
    engine: Engine, org: Org, request_data: RequestData, **assessment: Any
) -> tuple[int, int]:
    """Submit one request; returns (case id, version)."""
    with session_scope(engine) as session:
        case = submit_asset_request(
            session=session, actor=org.users["bcu_a"], data=request_data(assessment=assessment)
        )
        assert case.id is not None
        return case.id, case.version


def move(engine: Engine, org: Org, case_id: int, *states: str, who: str = "coordinator") -> int:
    """Walk a case through states; returns the final version."""
    version = 0
    for state in states:
        with session_scope(engine) as session:
            version = session.get(Case, case_id).version  # type: ignore[union-attr]
            case = transition(
                session=session, actor=org.users[who], case_id=case_id,
                expected_version=version, to_state=state, reason=f"to {state}",
            )  # fmt: skip
            version = case.version
    return version


def to_meeting(engine: Engine, org: Org, case_id: int) -> int:
    """Take a submitted case to the tasking meeting, moderated on the way."""
    version = move(engine, org, case_id, "triage", "scoring", "moderation")
    with session_scope(engine) as session:
        version = moderate_score(
            session=session, actor=org.users["analyst2"], case_id=case_id,
            expected_version=version, agree=True,
        ).version  # fmt: skip
    return move(engine, org, case_id, "awaiting_meeting")


def test_transition_path_to_meeting_is_audited(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    to_meeting(engine, org, case_id)
    with Session(engine) as session:
        assert session.get(Case, case_id).state == State.AWAITING_MEETING  # type: ignore[union-attr]
        moves = session.exec(
            select(AuditEvent).where(AuditEvent.action == "case.transition").order_by(AuditEvent.id)
        ).all()
        assert [m.reason for m in moves] == [
            "to triage", "to scoring", "to moderation", "to awaiting_meeting"
        ]  # fmt: skip
        score = session.get(CaseScore, case_id)
        assert score is not None
        assert score.state == State.AWAITING_MEETING


def test_transition_illegal_move_refused_with_allowed_states(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, version = submit(engine, org, request_data)
    with pytest.raises(Conflict) as caught, session_scope(engine) as session:
        transition(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version, to_state="active", reason="skip ahead",
        )  # fmt: skip
    assert "allowed: closed, triage" in caught.value.message
    with pytest.raises(Conflict), session_scope(engine) as session:
        transition(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version, to_state="adopted", reason="no decision",
        )  # fmt: skip
    with pytest.raises(Invalid), session_scope(engine) as session:
        transition(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version, to_state="nowhere", reason="x",
        )  # fmt: skip
    with pytest.raises(Forbidden), session_scope(engine) as session:
        transition(
            session=session, actor=org.users["bcu_a"], case_id=case_id,
            expected_version=version, to_state="triage", reason="self-triage",
        )  # fmt: skip
    with Session(engine) as session:
        assert session.get(Case, case_id).state == State.SUBMITTED  # type: ignore[union-attr]


def test_threat_to_life_fast_tracks_to_meeting(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, version = submit(engine, org, request_data, T=1)
    assert move(engine, org, case_id, "awaiting_meeting") == version + 1
    ordinary, _ = submit(engine, org, request_data)
    with pytest.raises(Conflict):
        move(engine, org, ordinary, "awaiting_meeting")


def test_moderation_needs_a_second_person(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    version = move(engine, org, case_id, "triage", "scoring", "moderation")
    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        assessment = session.get(Assessment, case_id)
        assert assessment is not None
        assessment.assessed_by_id = org.users["analyst"].id  # type: ignore[assignment]
        session.add(assessment)
        assert case is not None
    with pytest.raises(Forbidden), session_scope(engine) as session:
        moderate_score(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version, agree=True,
        )  # fmt: skip
    with pytest.raises(Invalid), session_scope(engine) as session:
        moderate_score(
            session=session, actor=org.users["analyst2"], case_id=case_id,
            expected_version=version, agree=False, note="  ",
        )  # fmt: skip
    with session_scope(engine) as session:
        moderate_score(
            session=session, actor=org.users["analyst2"], case_id=case_id,
            expected_version=version, agree=False, note="Likelihood overstated",
        )  # fmt: skip
    with Session(engine) as session:
        assessment = session.get(Assessment, case_id)
        assert assessment is not None
        assert (assessment.moderation, assessment.moderation_note) == (
            "varied",
            "Likelihood overstated",
        )


@pytest.mark.parametrize(
    ("source", "info", "expected"),
    [
        (1, "A", 2),
        (1, "B", 2),
        (1, "C", 1),
        (2, "A", 1),
        (2, "C", 1),
        (3, "A", 0),
        (1, "D", 0),
        (2, "E", 0),
    ],
)
def test_confidence_from_grading_matches_domain_mapping(
    source: int, info: str, expected: int
) -> None:
    assert confidence_from_grading(source, info) == expected


def test_log_intelligence_sets_confidence_and_resets_age(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, version = submit(engine, org, request_data, Cf="L")
    set_intel_at(engine, case_id, utcnow() - timedelta(days=120))
    rescore_all(engine=engine)
    with Session(engine) as session:
        aged = session.get(CaseScore, case_id)
        assert aged is not None
        assert aged.age_days == pytest.approx(120, abs=0.01)
        assert aged.freshness < 1
    data = {
        "source_grade": 1, "info_grade": "B", "handling": "P",
        "summary": "Fictional corroborating report.", "received_at": utcnow().isoformat(),
    }  # fmt: skip
    with session_scope(engine) as session:
        log_intelligence(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version, data=data,
        )  # fmt: skip
    with Session(engine) as session:
        score = session.get(CaseScore, case_id)
        assert score is not None
        assert score.age_days == pytest.approx(0, abs=0.001)
        assert score.freshness == pytest.approx(1.0, abs=1e-6)
        assert score.vector.endswith("Cf:H/Ca:1/Cb:2/O:2/T:0")
        assert score.priority == pytest.approx(28.8, abs=1e-3)
    future = {**data, "received_at": (utcnow() + timedelta(days=2)).isoformat()}
    with pytest.raises(Invalid) as caught, session_scope(engine) as session:
        log_intelligence(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version + 1, data=future,
        )  # fmt: skip
    assert "received_at" in caught.value.fields


def decision_data(score_version: int, **extra: Any) -> dict[str, Any]:
    """A complete decision under the NDM headings."""
    return {
        "outcome": "adopted", "score_version": score_version,
        "information": "Fictional reporting shows weekly supply.",
        "threat_risk": "High harm to vulnerable users.", "action": "Task surveillance for 4 weeks.",
        "hours_granted": 40, **extra,
    }  # fmt: skip


def test_record_decision_against_exact_score_version(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    version = to_meeting(engine, org, case_id)
    with Session(engine) as session:
        shown = session.get(CaseScore, case_id)
        assert shown is not None
    with pytest.raises(Conflict) as caught, session_scope(engine) as session:
        record_decision(
            session=session, actor=org.users["chair"], case_id=case_id,
            expected_version=version, data=decision_data(shown.score_version + 1),
        )  # fmt: skip
    assert "score_version" in caught.value.fields
    with pytest.raises(Forbidden), session_scope(engine) as session:
        record_decision(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version, data=decision_data(shown.score_version),
        )  # fmt: skip
    with pytest.raises(Invalid), session_scope(engine) as session:
        record_decision(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version,
            data=decision_data(shown.score_version, chair_id=org.users["analyst"].id),
        )  # fmt: skip
    with session_scope(engine) as session:
        record_decision(
            session=session, actor=org.users["chair"], case_id=case_id,
            expected_version=version, data=decision_data(shown.score_version),
        )  # fmt: skip
    with Session(engine) as session:
        decision = session.exec(select(Decision).where(Decision.case_id == case_id)).one()
        assert decision.priority_shown == shown.priority
        assert decision.grading_shown == "Monitor (BCU-owned)"  # P3, Strong
        assert decision.chair_id == org.users["chair"].id
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.state, case.allocated_hours) == ("adopted", 40)
    assert move(engine, org, case_id, "active") > version
