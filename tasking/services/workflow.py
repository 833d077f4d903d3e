"""The life of a case: state transitions, moderation, intelligence, markings and questions.

Rules (docs/domain.md): only an analyst other than the assessor moderates, and only
in `moderation`; a variation carries the varied inputs and becomes the score;
`awaiting_meeting` (and any decision, tasking.services.decisions) needs an
agreed or varied moderation of the current assessment version; a later human
change of the inputs or confidence sends the case back to moderation.

Moderation, markings, questions to the BCU and decisions live in their own
modules (moderation, markings, questions, decisions) and are importable from
here under the same names.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from config.workflow import load_workflow
from tasking.models import (
    DECISION_STATES,
    Assessment,
    Case,
    CaseKind,
    Decision,
    IntelEntry,
    RunKind,
    State,
    Strand,
    User,
    as_utc,
    pk,
    utcnow,
)
from tasking.services.access import require
from tasking.services.cases import (
    get_assessment,
    get_case,
    lock_for_edit,
    reassessed,
    record_case_event,
)
from tasking.services.decisions import (
    case_decisions,
    moderation_is_current,
    record_decision,
)
from tasking.services.errors import Conflict, Invalid
from tasking.services.markings import set_marking
from tasking.services.moderation import awaits_moderation, moderate_score
from tasking.services.questions import (
    answer_information_request,
    information_requests,
    request_information,
)
from tasking.services.schemas import (
    TEXT_LONG,
    IntelIn,
    OutcomeIn,
    validate,
)
from tasking.services.scores import refresh_vector, score_case, sync_board_row

S = State
# Moves a person may make with `transition` (docs/domain.md). Decision outcomes are set only
# by record_decision, the information-requested step only by request_information and
# answer_information_request.
TRANSITIONS: dict[State, frozenset[State]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CLOSED}),
    S.SUBMITTED: frozenset({S.TRIAGE, S.CLOSED}),
    S.TRIAGE: frozenset({S.SCORING, S.CLOSED}),
    S.INFORMATION_REQUESTED: frozenset({S.CLOSED}),
    S.SCORING: frozenset({S.MODERATION}),
    S.MODERATION: frozenset({S.AWAITING_MEETING, S.SCORING}),
    S.AWAITING_MEETING: frozenset({S.SCORING, S.MODERATION}),
    S.DEFERRED: frozenset({S.AWAITING_MEETING, S.MODERATION, S.CLOSED}),
    S.ADOPTED: frozenset({S.ACTIVE}),
    S.ACTIVE: frozenset({S.UNDER_REVIEW, S.CLOSED}),
    S.UNDER_REVIEW: frozenset({S.ACTIVE, S.CLOSED}),
    S.DECLINED: frozenset({S.CLOSED}),
    S.REFERRED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
# Work that reaches the meeting needs a current moderation; closing work that ran needs
# a graded outcome.
_NEEDS_MODERATION = frozenset({S.AWAITING_MEETING})
_NEEDS_GRADED_OUTCOME = frozenset({S.ACTIVE, S.UNDER_REVIEW})


def allowed_transitions(
    case: Case, *, threat_to_life: bool = False, assessment: Assessment | None = None
) -> frozenset[State]:
    """States a person may move this case to next with `transition`.

    Given the case's assessment, moves its gates would refuse are left out too
    (the meeting without a current moderation; moderation of a provisional
    threat-to-life assessment), so a page offers only what will succeed.
    `threat_to_life` no longer changes the moves (a threat to life is decided at
    once with record_decision(immediate=True)); it stays accepted for callers.
    """
    del threat_to_life
    moves = TRANSITIONS[State(case.state)]
    if assessment is not None:
        if not moderation_is_current(assessment):
            moves = moves - _NEEDS_MODERATION
        if assessment.provisional:
            moves = moves - {S.MODERATION}
    return moves


def retention_date(case: Case, last_outcome: str | None, closed_on: date) -> date:
    """When a closed case's retention review falls due (schedule in config/workflow.toml)."""
    kind = CaseKind(case.kind).name.lower()
    years = load_workflow().retention_years[kind][last_outcome or "none"]
    try:
        return closed_on.replace(year=closed_on.year + years)
    except ValueError:  # 29 February in a year that has none
        return closed_on.replace(year=closed_on.year + years, day=28)


def transition(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    to_state: str,
    reason: str,
    outcome: Any = None,
    now: datetime | None = None,
) -> Case:
    """Move a case to another state; illegal moves are refused with the allowed ones named.

    Closing active or under-review work needs `outcome` as an OutcomeIn (a short
    outcome and a grade per 4P strand of the case); closing sets `retain_until`.
    """
    target = _requested_state(to_state, reason)
    case = get_case(session=session, actor=actor, case_id=case_id, log_view=False)
    _check_move(session, actor, case, target)
    outcome_in = _closing_outcome(case, target, outcome)
    case = lock_for_edit(
        session=session, actor=actor, case_id=case_id, expected_version=expected_version
    )
    now = now or utcnow()
    before = case.state
    case.state = target.value
    if target == S.SUBMITTED:
        case.submitted_at = now
    if target == S.CLOSED:
        close_case(session, case, outcome_in, now)
    session.add(case)
    sync_board_row(session=session, case=case)
    record_case_event(
        session,
        actor,
        case,
        "alteration",
        "case.transition",
        reason=reason,
        detail={"from": before, "to": target.value},
    )
    session.flush()
    return case


def _requested_state(to_state: str, reason: str) -> State:
    """The state asked for, known, with a reason of bounded length."""
    try:
        target = State(to_state)
    except ValueError:
        raise Invalid(
            f"to_state: unknown state {to_state!r}", fields={"to_state": "unknown state"}
        ) from None
    if not reason.strip():
        raise Invalid("reason: required for a change of state", fields={"reason": "required"})
    if len(reason) > TEXT_LONG:
        raise Invalid(
            f"reason: at most {TEXT_LONG} characters",
            fields={"reason": f"String should have at most {TEXT_LONG} characters"},
        )
    return target


def _check_move(session: Session, actor: User, case: Case, target: State) -> None:
    """Who may move the case, which moves are legal from its state, and the moderation gate
    before the meeting; each refusal names the allowed alternative."""
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
    allowed = allowed_transitions(case)
    if target not in allowed:
        names = ", ".join(sorted(allowed)) or "none (closed)"
        raise Conflict(
            f"cannot move {case.reference} from {case.state} to {target}; allowed: {names}",
            fields={"to_state": f"not allowed from {case.state}"},
        )
    assessment = get_assessment(session, case)
    if target in _NEEDS_MODERATION and not moderation_is_current(assessment):
        raise Conflict(
            f"{case.reference} needs an agreed or varied moderation of its current assessment"
            " before the meeting",
            fields={"moderation": assessment.moderation},
        )
    if target == S.MODERATION and assessment.provisional:
        raise Conflict(
            "complete the threat-to-life assessment before moderation",
            fields={"assessment": "provisional"},
        )


def _closing_outcome(case: Case, target: State, outcome: Any) -> OutcomeIn | None:
    if target != S.CLOSED:
        return None
    if outcome is None:
        if case.state in _NEEDS_GRADED_OUTCOME:
            raise Invalid(
                "outcome: required when closing active work (with a grade per 4P strand)",
                fields={"outcome": "required"},
            )
        return None
    outcome_in = validate(OutcomeIn, outcome)
    missing = [name for name in Strand(case.strands).names() if name not in outcome_in.grades]
    extra = [name for name in outcome_in.grades if name not in Strand(case.strands).names()]
    if missing or extra:
        raise Invalid(
            f"outcome.grades: grade each 4P strand of the case ({missing=}, {extra=})",
            fields={"outcome.grades": "one grade per strand of the case"},
        )
    return outcome_in


def close_case(session: Session, case: Case, outcome_in: OutcomeIn | None, now: datetime) -> None:
    """Close a case: no more operational review; its retention date from the schedule."""
    last = session.exec(
        select(Decision.outcome)
        .where(Decision.case_id == case.id)
        .order_by(col(Decision.decided_at).desc(), col(Decision.id).desc())
    ).first()
    case.closed_at = now
    case.next_review = None  # no operational review once closed: retention takes over
    case.retain_until = retention_date(case, last, now.date())
    if outcome_in is not None:
        case.outcome = outcome_in.outcome
        case.outcome_grades = json.dumps({k: v.value for k, v in outcome_in.grades.items()})


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
    """Log graded intelligence: sets the case's confidence and resets its intelligence age.

    A change of confidence is a change of the assessment: moderation starts again.
    """
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
    confidence = confidence_from_grading(intel_in.source_grade, intel_in.info_grade)
    if confidence != assessment.cf:
        assessment.cf = confidence
        refresh_vector(assessment)
        reassessed(
            session=session, actor=actor, case=case, assessment=assessment,
            reason="new graded intelligence changed the confidence",
        )  # fmt: skip
    assessment.intel_at = max(assessment.intel_at, received)
    session.add(assessment)
    score_case(session=session, case=case, assessment=assessment, reason=RunKind.EDIT, now=now)
    record_case_event(
        session,
        actor,
        case,
        "collection",
        "intel.log",
        detail={
            "entry": entry.id,
            "grading": f"{intel_in.source_grade}{intel_in.info_grade}{intel_in.handling}",
        },
    )
    return entry


__all__ = [
    "TRANSITIONS",
    "allowed_transitions",
    "answer_information_request",
    "awaits_moderation",
    "case_decisions",
    "confidence_from_grading",
    "information_requests",
    "log_intelligence",
    "moderate_score",
    "record_decision",
    "request_information",
    "retention_date",
    "set_marking",
    "transition",
]
