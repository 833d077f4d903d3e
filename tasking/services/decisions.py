"""Decisions of the tasking meeting: what the meeting saw, what it decided, and who sees it.

A decision stores the exact score the meeting saw (the vector with the age
used, the model's name, version number and content hash, priority, band,
grading and rank), so `scoring.score_vectors([decision.vector_shown],
model=...)` gives the same numbers from the record alone. It is refused when a
person changed the assessment since the meeting's papers (the assessment
version read), never because the nightly run aged the score meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, true, tuple_
from sqlmodel import Session, col, select

from config.workflow import load_workflow
from tasking.models import (
    BOARD_ORDER,
    REVIEWED_OUTCOMES,
    Assessment,
    Asset,
    Case,
    CaseScore,
    Decision,
    DecisionAsset,
    DecisionOutcome,
    ModelVersion,
    ModerationState,
    Role,
    State,
    Strand,
    User,
    pk,
    utcnow,
)
from tasking.services.access import is_bcu_scoped, require
from tasking.services.cases import get_assessment, get_case, lock_for_edit, record_case_event
from tasking.services.errors import Conflict, Invalid
from tasking.services.schemas import DecisionIn, validate
from tasking.services.scores import engine_model, sync_board_row

# Where a threat to life may be decided at once, before the meeting and moderation.
IMMEDIATE_FROM = frozenset(
    {
        State.SUBMITTED,
        State.TRIAGE,
        State.INFORMATION_REQUESTED,
        State.SCORING,
        State.MODERATION,
        State.AWAITING_MEETING,
    }
)


def moderation_is_current(assessment: Assessment) -> bool:
    """True when an agreed or varied moderation applies to the assessment as it stands."""
    return (
        assessment.moderation in (ModerationState.AGREED, ModerationState.VARIED)
        and assessment.moderated_version == assessment.version
        and not assessment.provisional
    )


def board_rank(session: Session, score: CaseScore) -> int | None:
    """The case's rank on the whole centre's board now (None when it is not on the board)."""
    if not score.on_board:
        return None
    keys = [getattr(CaseScore, name) for name in BOARD_ORDER]
    ahead = session.execute(
        select(func.count())
        .select_from(CaseScore)
        .where(
            col(CaseScore.on_board) == true(),
            tuple_(*keys) < tuple_(*(getattr(score, name) for name in BOARD_ORDER)),
        )
    ).scalar_one()
    return int(ahead) + 1


def _check_decision(
    session: Session, actor: User, case: Case, decision_in: DecisionIn, today: date
) -> tuple[int, list[Asset]]:
    """The chair and assets of a valid decision; raises naming every rule broken."""
    problems: dict[str, str] = {}
    chair_id = decision_in.chair_id or pk(actor)
    chair = session.get(User, chair_id)
    if chair is None or chair.role != Role.CHAIR or not chair.is_active:
        problems["chair_id"] = "the decision must name a tasking chair"
    if decision_in.immediate and chair_id != actor.id:
        problems["chair_id"] = "an immediate decision is the duty senior officer's own"
    if decision_in.owner_id is not None and session.get(User, decision_in.owner_id) is None:
        problems["owner_id"] = "no such user"
    if decision_in.grading_varied and not decision_in.variation_rationale.strip():
        problems["variation_rationale"] = "required when the chair varies the grading"
    outcome = DecisionOutcome(decision_in.outcome)
    assets: list[Asset] = []
    for i, granted in enumerate(decision_in.assets):
        asset = session.get(Asset, granted.asset_id)
        if asset is None:
            problems[f"assets.{i}.asset_id"] = "no such asset"
        else:
            assets.append(asset)
    if outcome == DecisionOutcome.ADOPTED and not decision_in.assets:
        problems["assets"] = "adopting tasks at least one asset, with hours"
    if outcome != DecisionOutcome.ADOPTED and decision_in.assets:
        problems["assets"] = "only an adopted decision tasks assets"
    mismatched = [a.code for a in assets if case.asset_type and a.asset_type != case.asset_type]
    if mismatched and not decision_in.asset_type_reason.strip():
        problems["asset_type_reason"] = (
            f"the case asked for {case.asset_type}; say why {', '.join(mismatched)} instead"
        )
    if outcome == DecisionOutcome.REFERRED:
        code = decision_in.referral_destination or ""
        if load_workflow().partner(code) is None:
            problems["referral_destination"] = "choose a partner agency from the configured list"
    elif decision_in.referral_destination:
        problems["referral_destination"] = "only a referral names a destination"
    if outcome == DecisionOutcome.DECLINED and not decision_in.decline_reason.strip():
        problems["decline_reason"] = "required: the requesting BCU is told why"
    if outcome in REVIEWED_OUTCOMES:
        if decision_in.next_review is None:
            problems["next_review"] = f"required for {outcome.value}"
        elif decision_in.next_review <= today:
            problems["next_review"] = "must be after today"
    if problems:
        summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise Invalid(f"invalid decision: {summary}", fields=problems)
    return chair_id, assets


# The decision's own fields, stored as the meeting gave them (DecisionIn); the rest of
# the record is what the meeting saw (_what_the_meeting_saw) or computed here.
_COPIED = {
    "outcome", "grading_varied", "variation_rationale", "information", "threat_risk",
    "powers_policy", "options", "action", "asset_type_reason", "referral_destination",
    "decline_reason", "conditions", "owner_id", "next_review", "dissent", "immediate",
}  # fmt: skip


def _check_meeting_gate(case: Case, assessment: Assessment, decision_in: DecisionIn) -> None:
    """A decision is for work awaiting the meeting with a current moderation (or, immediate,
    a threat to life not yet decided), on the assessment version the papers showed."""
    if decision_in.immediate:
        if assessment.t != 1 or case.state not in IMMEDIATE_FROM:
            raise Conflict(
                "an immediate decision is for a threat to life not yet decided",
                fields={"immediate": "not a threat to life awaiting a decision"},
            )
    else:
        if case.state != State.AWAITING_MEETING:
            raise Conflict(
                f"{case.reference} is {case.state}; decisions are for work awaiting the meeting",
                fields={"state": case.state},
            )
        if not moderation_is_current(assessment):
            raise Conflict(
                "the assessment has no agreed or varied moderation of its current version",
                fields={"moderation": assessment.moderation},
            )
    if decision_in.assessment_version != assessment.version:
        raise Conflict(
            f"the assessment changed since the meeting's papers (now version"
            f" {assessment.version}, papers {decision_in.assessment_version}); review it first",
            fields={"assessment_version": "stale"},
        )


def _what_the_meeting_saw(session: Session, score: CaseScore) -> dict[str, Any]:
    """The score as the meeting saw it, with the model that made it (docs/domain.md)."""
    version = session.exec(
        select(ModelVersion).where(ModelVersion.id == score.model_version_id)
    ).one()
    return {
        "vector_shown": score.scored_vector,
        "age_days_shown": score.age_days,
        "priority_shown": score.priority,
        "band_shown": score.band,
        "grading_shown": engine_model(version).grading_text(score.band, score.position_grade),
        "rank_shown": board_rank(session, score),
        "model_version_id": score.model_version_id,
        "model_name": version.name,
        "model_number": version.version,
        "model_hash": version.content_hash,
    }


def record_decision(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    data: Any,
    now: datetime | None = None,
) -> Decision:
    """Record the meeting's decision with the exact score it saw (DecisionIn)."""
    require(actor, "decision.record")
    decision_in = validate(DecisionIn, data)
    if decision_in.immediate:
        require(actor, "decision.immediate")
    case = lock_for_edit(
        session=session, actor=actor, case_id=case_id, expected_version=expected_version
    )
    assessment = get_assessment(session, case)
    _check_meeting_gate(case, assessment, decision_in)
    now = now or utcnow()
    chair_id, assets = _check_decision(session, actor, case, decision_in, now.date())
    score = session.get(CaseScore, case.id)
    if score is None:
        raise Conflict(f"{case.reference} has no score", fields={"score": "missing"})
    hours = sum(granted.hours for granted in decision_in.assets)
    decision = Decision(
        case_id=pk(case),
        score_version=score.score_version,
        assessment_version=assessment.version,
        papers_score_version=decision_in.score_version,
        **_what_the_meeting_saw(session, score),
        **decision_in.model_dump(include=_COPIED),
        chair_id=chair_id,
        recorded_by_id=pk(actor),
        decided_at=now,
        asset_id=assets[0].id if assets else None,
        hours_granted=hours,
        strands=int(Strand.parse(decision_in.strands)),
    )
    session.add(decision)
    session.flush()
    session.add_all(
        DecisionAsset(decision_id=pk(decision), asset_id=pk(asset), hours=granted.hours)
        for asset, granted in zip(assets, decision_in.assets, strict=True)
    )
    case.state = decision_in.outcome
    case.allocated_hours = hours
    case.next_review = decision_in.next_review
    session.add(case)
    sync_board_row(session=session, case=case)
    session.flush()
    record_case_event(
        session,
        actor,
        case,
        "alteration",
        "decision.record",
        detail={
            "decision": decision.id,
            "outcome": decision.outcome,
            "immediate": decision.immediate,
            "score_version": score.score_version,
            "assessment_version": assessment.version,
        },
    )
    return decision


@dataclass(frozen=True)
class DecisionView:
    """A decision as the actor may see it: BCU requesters get the outcome, the reason,
    the conditions, the review date and where it was referred; `record` (the whole
    decision) and `assets` are for the centre only."""

    outcome: str
    decided_at: datetime
    decline_reason: str
    conditions: str
    next_review: date | None
    referral_destination: str | None
    immediate: bool
    record: Decision | None
    assets: list[tuple[Asset, int]]


def case_decisions(*, session: Session, actor: User, case_id: int) -> list[DecisionView]:
    """The decisions on a case the actor may see, oldest first."""
    case = get_case(session=session, actor=actor, case_id=case_id, log_view=False)
    decisions = session.exec(
        select(Decision).where(Decision.case_id == case.id).order_by(col(Decision.id))
    ).all()
    views = []
    centre = not is_bcu_scoped(actor)
    for decision in decisions:
        assets = session.exec(
            select(Asset, DecisionAsset.hours)
            .join(DecisionAsset, col(DecisionAsset.asset_id) == col(Asset.id))
            .where(DecisionAsset.decision_id == decision.id)
            .order_by(col(Asset.code))
        ).all()
        views.append(
            DecisionView(
                outcome=decision.outcome,
                decided_at=decision.decided_at,
                decline_reason=decision.decline_reason,
                conditions=decision.conditions,
                next_review=decision.next_review,
                referral_destination=decision.referral_destination,
                immediate=decision.immediate,
                record=decision if centre else None,
                assets=[(asset, hours) for asset, hours in assets] if centre else [],
            )
        )
    return views
