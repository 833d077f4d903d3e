"""The life of a case: state transitions, moderation, intelligence and decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from tasking.models import (
    DECISION_STATES,
    Asset,
    Case,
    CaseScore,
    Decision,
    IntelEntry,
    ModelVersion,
    ModerationState,
    Role,
    RunKind,
    State,
    Strand,
    User,
    as_utc,
    pk,
    utcnow,
)
from tasking.services.access import require
from tasking.services.audit import record_event
from tasking.services.cases import get_assessment, get_case, lock_for_edit
from tasking.services.errors import Conflict, Forbidden, Invalid
from tasking.services.schemas import DecisionIn, IntelIn, validate
from tasking.services.scores import engine_model, refresh_vector, score_case, sync_board_row

S = State
# Moves a person may make directly (docs/domain.md). Decision outcomes are set
# only by record_decision; threat-to-life work may jump to the meeting.
TRANSITIONS: dict[State, frozenset[State]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CLOSED}),
    S.SUBMITTED: frozenset({S.TRIAGE, S.CLOSED}),
    S.TRIAGE: frozenset({S.SCORING, S.CLOSED}),
    S.SCORING: frozenset({S.MODERATION}),
    S.MODERATION: frozenset({S.AWAITING_MEETING, S.SCORING}),
    S.AWAITING_MEETING: frozenset({S.SCORING}),
    S.DEFERRED: frozenset({S.AWAITING_MEETING, S.CLOSED}),
    S.ADOPTED: frozenset({S.ACTIVE}),
    S.ACTIVE: frozenset({S.UNDER_REVIEW, S.CLOSED}),
    S.UNDER_REVIEW: frozenset({S.ACTIVE, S.CLOSED}),
    S.DECLINED: frozenset({S.CLOSED}),
    S.REFERRED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
_FAST_TRACK_FROM = frozenset({S.SUBMITTED, S.TRIAGE, S.SCORING, S.MODERATION})


def allowed_transitions(case: Case, *, threat_to_life: bool) -> frozenset[State]:
    """States a person may move this case to next."""
    allowed = TRANSITIONS[State(case.state)]
    if threat_to_life and case.state in _FAST_TRACK_FROM:
        allowed = allowed | {S.AWAITING_MEETING}
    return allowed


def transition(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    to_state: str,
    reason: str,
    outcome: str | None = None,
) -> Case:
    """Move a case to another state; illegal moves are refused with the allowed ones named."""
    try:
        target = State(to_state)
    except ValueError:
        raise Invalid(
            f"to_state: unknown state {to_state!r}", fields={"to_state": "unknown state"}
        ) from None
    if not reason.strip():
        raise Invalid("reason: required for a change of state", fields={"reason": "required"})
    case = get_case(session=session, actor=actor, case_id=case_id, log_view=False)
    submitting_own_draft = (
        case.state == S.DRAFT and target == S.SUBMITTED and case.created_by_id == actor.id
    )
    if not submitting_own_draft:
        require(actor, "case.transition")
    if target in DECISION_STATES:
        raise Conflict(
            f"{target} is set by recording a tasking decision, not by a change of state",
            fields={"to_state": "needs a decision"},
        )
    assessment = get_assessment(session, case)
    allowed = allowed_transitions(case, threat_to_life=bool(assessment.t))
    if target not in allowed:
        names = ", ".join(sorted(allowed)) or "none (closed)"
        raise Conflict(
            f"cannot move {case.reference} from {case.state} to {target}; allowed: {names}",
            fields={"to_state": f"not allowed from {case.state}"},
        )
    if target == S.CLOSED and case.state in (S.ACTIVE, S.UNDER_REVIEW) and not outcome:
        raise Invalid("outcome: required when closing active work", fields={"outcome": "required"})
    case = lock_for_edit(
        session=session, actor=actor, case_id=case_id, expected_version=expected_version
    )
    before = case.state
    case.state = target.value
    if target == S.SUBMITTED:
        case.submitted_at = utcnow()
    if outcome:
        case.outcome = outcome[:200]
    session.add(case)
    sync_board_row(session=session, case=case)
    record_event(
        session=session,
        actor=actor,
        category="alteration",
        action="case.transition",
        entity_type="case",
        entity_id=case.id,
        reason=reason,
        detail={"from": before, "to": target.value},
    )
    session.flush()
    return case


def confidence_from_grading(source_grade: int, info_grade: str) -> int:
    """3x5x2 grading to confidence code (docs/domain.md): 2 = H, 1 = M, 0 = L."""
    if source_grade == 3 or info_grade in ("D", "E"):
        return 0
    if source_grade == 1 and info_grade in ("A", "B"):
        return 2
    return 1


def log_intelligence(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    data: Any,
    now: datetime | None = None,
) -> IntelEntry:
    """Log graded intelligence: sets the case's confidence and resets its intelligence age."""
    require(actor, "intel.log")
    intel_in = validate(IntelIn, data)
    now = now or utcnow()
    received = as_utc(intel_in.received_at)
    if received > now:
        raise Invalid(
            "received_at: cannot be in the future", fields={"received_at": "in the future"}
        )
    case = lock_for_edit(
        session=session, actor=actor, case_id=case_id, expected_version=expected_version
    )
    entry = IntelEntry(
        case_id=pk(case),
        source_grade=intel_in.source_grade,
        info_grade=intel_in.info_grade,
        handling=intel_in.handling,
        summary=intel_in.summary,
        received_at=received,
        logged_by_id=pk(actor),
        logged_at=now,
    )
    session.add(entry)
    assessment = get_assessment(session, case)
    assessment.cf = confidence_from_grading(intel_in.source_grade, intel_in.info_grade)
    assessment.intel_at = max(assessment.intel_at, received)
    refresh_vector(assessment)
    session.add(assessment)
    score_case(session=session, case=case, assessment=assessment, reason=RunKind.EDIT, now=now)
    record_event(
        session=session,
        actor=actor,
        category="collection",
        action="intel.log",
        entity_type="case",
        entity_id=case.id,
        detail={
            "entry": entry.id,
            "grading": f"{intel_in.source_grade}{intel_in.info_grade}{intel_in.handling}",
        },
    )
    return entry


def moderate_score(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    agree: bool,
    note: str = "",
) -> Case:
    """A second analyst agrees with or varies the assessment before the meeting."""
    require(actor, "score.moderate")
    case = lock_for_edit(
        session=session, actor=actor, case_id=case_id, expected_version=expected_version
    )
    assessment = get_assessment(session, case)
    if assessment.assessed_by_id == actor.id:
        raise Forbidden("a score is moderated by someone other than its assessor")
    if not agree and not note.strip():
        raise Invalid("note: say why the score is varied", fields={"note": "required when varying"})
    assessment.moderation = (ModerationState.AGREED if agree else ModerationState.VARIED).value
    assessment.moderated_by_id, assessment.moderated_at = actor.id, utcnow()
    assessment.moderation_note = note
    session.add(assessment)
    record_event(
        session=session,
        actor=actor,
        category="alteration",
        action="score.moderate",
        entity_type="case",
        entity_id=case.id,
        reason=note,
        detail={"agree": agree},
    )
    session.flush()
    return case


def record_decision(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    data: Any,
) -> Decision:
    """Record the meeting's decision against the exact score version it saw."""
    require(actor, "decision.record")
    decision_in = validate(DecisionIn, data)
    chair_id = decision_in.chair_id or pk(actor)
    chair = session.get(User, chair_id)
    if chair is None or chair.role != Role.CHAIR or not chair.is_active:
        raise Invalid(
            "chair_id: the decision must name a tasking chair", fields={"chair_id": "not a chair"}
        )
    if decision_in.grading_varied and not decision_in.variation_rationale.strip():
        raise Invalid(
            "variation_rationale: required when the chair varies the grading",
            fields={"variation_rationale": "required"},
        )
    case = lock_for_edit(
        session=session, actor=actor, case_id=case_id, expected_version=expected_version
    )
    if case.state != S.AWAITING_MEETING:
        raise Conflict(
            f"{case.reference} is {case.state}; decisions are for work awaiting the meeting",
            fields={"state": case.state},
        )
    score = session.get(CaseScore, case.id)
    if score is None or score.score_version != decision_in.score_version:
        shown = score.score_version if score else "none"
        raise Conflict(
            f"the score changed since it was shown (now version {shown}); review it first",
            fields={"score_version": "stale"},
        )
    if decision_in.asset_id is not None and session.get(Asset, decision_in.asset_id) is None:
        raise Invalid("asset_id: no such asset", fields={"asset_id": "no such asset"})
    version = session.exec(
        select(ModelVersion).where(ModelVersion.id == score.model_version_id)
    ).one()
    grading = engine_model(version).grading_text(score.band, score.position_grade)
    decision = Decision(
        case_id=pk(case),
        score_version=score.score_version,
        priority_shown=score.priority,
        band_shown=score.band,
        grading_shown=grading,
        model_version_id=score.model_version_id,
        outcome=decision_in.outcome,
        grading_varied=decision_in.grading_varied,
        variation_rationale=decision_in.variation_rationale,
        information=decision_in.information,
        threat_risk=decision_in.threat_risk,
        powers_policy=decision_in.powers_policy,
        options=decision_in.options,
        action=decision_in.action,
        chair_id=chair_id,
        recorded_by_id=pk(actor),
        asset_id=decision_in.asset_id,
        hours_granted=decision_in.hours_granted,
        conditions=decision_in.conditions,
        owner_id=decision_in.owner_id,
        strands=int(Strand.parse(decision_in.strands)),
        next_review=decision_in.next_review,
        dissent=decision_in.dissent,
    )
    session.add(decision)
    case.state = decision_in.outcome
    if decision_in.outcome == "adopted":
        case.allocated_hours = decision_in.hours_granted
    if decision_in.next_review:
        case.next_review = decision_in.next_review
    session.add(case)
    sync_board_row(session=session, case=case)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        category="alteration",
        action="decision.record",
        entity_type="case",
        entity_id=case.id,
        detail={
            "decision": decision.id,
            "outcome": decision.outcome,
            "score_version": score.score_version,
        },
    )
    return decision


__all__ = [
    "TRANSITIONS",
    "allowed_transitions",
    "confidence_from_grading",
    "log_intelligence",
    "moderate_score",
    "record_decision",
    "transition",
]
