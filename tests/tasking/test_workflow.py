"""The life of a case: transitions, moderation gating the meeting, intelligence, markings,
questions to the BCU and closing (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from tasking.db import session_scope
from tasking.models import AuditEvent, Case, CaseScore, InfoRequest, State, User, utcnow
from tasking.services.cases import get_case, update_assessment
from tasking.services.errors import Conflict, Forbidden, Invalid, NotFound
from tasking.services.rescore import rescore_all
from tasking.services.workflow import (
    allowed_transitions,
    answer_information_request,
    confidence_from_grading,
    information_requests,
    log_intelligence,
    request_information,
    retention_date,
    set_marking,
    transition,
)
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

VARIED = {
    "P": 0, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 3, "Cf": "H",
    "Ca": 1, "Cb": 2, "O": 2, "T": 0,
}  # fmt: skip


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
    for state, error in (("adopted", Conflict), ("information_requested", Conflict)):
        with pytest.raises(error), session_scope(engine) as session:
            transition(
                session=session, actor=org.users["coordinator"], case_id=case_id,
                expected_version=version, to_state=state, reason="no decision",
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


def test_meeting_refused_until_moderation_agreed(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    move(engine, org, case_id, "triage", "scoring", "moderation")
    with pytest.raises(Conflict) as caught:
        move(engine, org, case_id, "awaiting_meeting")
    assert caught.value.fields == {"moderation": "pending"}
    moderate(engine, org, case_id)
    move(engine, org, case_id, "awaiting_meeting")


def test_allowed_transitions_leave_out_moves_the_gates_refuse(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    move(engine, org, case_id, "triage", "scoring", "moderation")

    def offered() -> frozenset[State]:
        with session_scope(engine, write=False) as session:
            case = session.get(Case, case_id)
            assert case is not None
            return allowed_transitions(case, assessment=assessment_of(engine, case_id))

    assert State.AWAITING_MEETING not in offered()
    assert State.SCORING in offered()
    moderate(engine, org, case_id)
    assert State.AWAITING_MEETING in offered()


def test_moderation_only_by_another_analyst_in_moderation(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    move(engine, org, case_id, "triage", "scoring")
    with pytest.raises(Conflict):  # not yet in moderation
        moderate(engine, org, case_id)
    with session_scope(engine) as session:  # the analyst assesses the case
        update_assessment(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id),
            data={**VARIED, "L": 4, "rationale": "Analyst's assessment."},
        )  # fmt: skip
    move(engine, org, case_id, "moderation")
    with pytest.raises(Forbidden):  # the assessor
        moderate(engine, org, case_id, who="analyst")
    with pytest.raises(Forbidden):  # not an analyst
        moderate(engine, org, case_id, who="coordinator")
    with pytest.raises(Invalid) as caught:  # varying needs the inputs and a rationale
        moderate(engine, org, case_id, agree=False, note="Likelihood overstated")
    assert "body" in caught.value.fields or "varied" in str(caught.value.fields)
    with pytest.raises(Invalid):
        moderate(engine, org, case_id, agree=False, note="  ", varied=VARIED)
    moderate(engine, org, case_id, agree=True)
    assert assessment_of(engine, case_id).moderation == "agreed"


def test_varied_moderation_becomes_the_score_and_keeps_the_assessors_inputs(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    move(engine, org, case_id, "triage", "scoring", "moderation")
    before = assessment_of(engine, case_id)
    moderate(engine, org, case_id, agree=False, note="Likelihood overstated", varied=VARIED)
    after = assessment_of(engine, case_id)
    assert (after.moderation, after.moderation_note) == ("varied", "Likelihood overstated")
    assert after.varied_from == before.vector
    assert after.vector == "MoRiLE:1/P:0/Ps:2/F:2/C:2/S:2/V:0/L:3/Cf:H/Ca:1/Cb:2/O:2/T:0"
    assert after.version == before.version + 1 == after.moderated_version
    with Session(engine) as session:
        score = session.get(CaseScore, case_id)
        assert score is not None
        assert score.vector == after.vector
        assert score.priority == pytest.approx(6 * 1.2 * 3)
    move(engine, org, case_id, "awaiting_meeting")  # a varied moderation gates like agreed


def test_assessment_change_after_moderation_sends_case_back_with_reason(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    to_meeting(engine, org, case_id)
    with session_scope(engine) as session:
        update_assessment(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id), data={**VARIED, "L": 5},
            reason="New reporting: offending escalating",
        )  # fmt: skip
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.state == State.MODERATION
        last = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "case.transition")
            .order_by(AuditEvent.id.desc())  # type: ignore[union-attr]
        ).first()
        assert last is not None
        assert last.reason == "back to moderation: New reporting: offending escalating"
    assessment = assessment_of(engine, case_id)
    assert (assessment.moderation, assessment.moderated_version) == ("pending", None)
    with pytest.raises(Conflict):
        move(engine, org, case_id, "awaiting_meeting")


def test_confidence_change_sends_case_back_to_moderation(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)  # Cf H
    to_meeting(engine, org, case_id)
    data = {
        "source_grade": 1, "info_grade": "A", "handling": "P",
        "summary": "Fictional report, same grade.", "received_at": utcnow().isoformat(),
    }  # fmt: skip
    with session_scope(engine) as session:  # H again: no change of assessment
        log_intelligence(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=data,
        )  # fmt: skip
    assert assessment_of(engine, case_id).moderation == "agreed"
    with session_scope(engine) as session:  # 2C: confidence M
        log_intelligence(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id),
            data={**data, "source_grade": 2, "info_grade": "C"},
        )  # fmt: skip
    with Session(engine) as session:
        assert session.get(Case, case_id).state == State.MODERATION  # type: ignore[union-attr]
    assert assessment_of(engine, case_id).moderation == "pending"


@pytest.mark.parametrize(
    ("source", "info", "expected"),
    [(1, "A", 2), (1, "B", 2), (1, "C", 1), (2, "A", 1), (2, "C", 1), (3, "A", 0), (1, "D", 0),
     (2, "E", 0)],
)  # fmt: skip
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


def test_information_requested_and_answered_returns_to_triage(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    question = {"question": "Which addresses has the offender used this month?"}
    with pytest.raises(Conflict), session_scope(engine) as session:  # not in triage yet
        request_information(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=question,
        )  # fmt: skip
    move(engine, org, case_id, "triage")
    with pytest.raises(Forbidden), session_scope(engine) as session:
        request_information(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=question,
        )  # fmt: skip
    with session_scope(engine) as session:
        request_information(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=question,
        )  # fmt: skip
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.state == State.INFORMATION_REQUESTED
    answer = {"answer": "Two fictional addresses, listed in the attached log."}
    with pytest.raises(NotFound), session_scope(engine) as session:  # another BCU
        answer_information_request(
            session=session, actor=org.users["bcu_b"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=answer,
        )  # fmt: skip
    with session_scope(engine) as session:
        answer_information_request(
            session=session, actor=org.users["bcu_a"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=answer,
        )  # fmt: skip
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.state == State.TRIAGE
        asked = session.exec(select(InfoRequest)).one()
        assert (asked.question, asked.answer) == (question["question"], answer["answer"])
        assert asked.answered_by_id == org.users["bcu_a"].id
        seen = information_requests(session=session, actor=org.users["bcu_a"], case_id=case_id)
        assert [q.id for q in seen] == [asked.id]
    with pytest.raises(Conflict), session_scope(engine) as session:  # nothing open now
        answer_information_request(
            session=session, actor=org.users["bcu_a"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=answer,
        )  # fmt: skip


def test_marking_raised_with_reason_lowered_only_by_chair_and_hidden_above_clearance(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    secret = {"marking": "SECRET", "reason": "Covert tactics disclosed in the summary."}
    with pytest.raises(Invalid), session_scope(engine) as session:  # above the chair's clearance
        set_marking(
            session=session, actor=org.users["chair"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=secret,
        )  # fmt: skip
    with pytest.raises(Invalid), session_scope(engine) as session:  # a reason is required
        set_marking(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version_of(engine, case_id), data={"marking": "SECRET"},
        )  # fmt: skip
    with session_scope(engine) as session:
        set_marking(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=secret,
        )  # fmt: skip
    with Session(engine) as session:  # the requester and the chair no longer see it
        for name in ("bcu_a", "chair"):
            with pytest.raises(NotFound):
                get_case(session=session, actor=org.users[name], case_id=case_id)
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "case.mark")).one()
        assert event.reason == secret["reason"]
    lower = {"marking": "OFFICIAL-SENSITIVE", "reason": "Tactics removed from the summary."}
    with pytest.raises(Forbidden), session_scope(engine) as session:
        set_marking(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=lower,
        )  # fmt: skip
    with session_scope(engine) as session:  # the chair, cleared to SECRET, lowers it
        chair = session.get(User, org.users["chair"].id)
        assert chair is not None
        chair.clearance = "SECRET"
        set_marking(
            session=session, actor=chair, case_id=case_id,
            expected_version=version_of(engine, case_id), data=lower,
        )  # fmt: skip
    with Session(engine) as session:
        assert get_case(session=session, actor=org.users["bcu_a"], case_id=case_id).marking == (
            "OFFICIAL-SENSITIVE"
        )


def test_closing_active_work_needs_graded_outcome_per_strand_and_sets_retention(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)  # strands: Pursue
    to_meeting(engine, org, case_id)
    decide(engine, org, case_id, assets=[{"asset_id": org.surveillance.id, "hours": 40}])
    move(engine, org, case_id, "active")
    close = {"case_id": case_id, "to_state": "closed", "reason": "Operation concluded"}
    for outcome in (
        None,
        {"outcome": "Two arrests", "grades": {"Protect": "minor"}},  # not the case's strand
        {"outcome": "Two arrests", "grades": {"Pursue": "huge"}},
    ):
        with pytest.raises(Invalid), session_scope(engine) as session:
            transition(
                session=session, actor=org.users["coordinator"],
                expected_version=version_of(engine, case_id), outcome=outcome, **close,
            )  # fmt: skip
    with session_scope(engine) as session:
        transition(
            session=session, actor=org.users["coordinator"],
            expected_version=version_of(engine, case_id),
            outcome={"outcome": "Two arrests", "grades": {"pursue": "significant"}},
            **close,
        )  # fmt: skip
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.state == State.CLOSED
        assert json.loads(case.outcome_grades) == {"Pursue": "significant"}
        assert case.next_review is None
        assert case.closed_at is not None
        assert case.retain_until == retention_date(case, "adopted", case.closed_at.date())
        # request, adopted: 6 years in config/workflow.toml
        assert case.retain_until.year == case.closed_at.year + 6  # type: ignore[union-attr]
