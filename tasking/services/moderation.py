"""Moderation: a second analyst, never the assessor, agrees with or varies an assessment.

Only in `moderation` (or, for a threat to life decided at once, once its
assessment is completed); a variation carries the varied inputs and a
rationale and becomes the assessment and the score; either applies to the
assessment version it was given on (decisions.moderation_is_current).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from tasking.models import (
    Assessment,
    Case,
    Decision,
    ModerationState,
    RunKind,
    State,
    User,
    utcnow,
)
from tasking.services.cases import (
    assessment_values,
    get_assessment,
    open_edit,
    record_case_event,
)
from tasking.services.decisions import moderation_is_current
from tasking.services.errors import Conflict, Forbidden, Invalid
from tasking.services.schemas import ModerationIn
from tasking.services.scores import score_case

S = State


def awaits_moderation(session: Session, case: Case, assessment: Assessment) -> bool:
    """True when a moderator may act: in `moderation`, or a threat to life decided at once
    whose completed assessment is not yet moderated."""
    if case.state == S.MODERATION:
        return True
    if assessment.provisional or moderation_is_current(assessment) or case.state == S.CLOSED:
        return False
    immediate = session.exec(
        select(Decision.id).where(Decision.case_id == case.id, col(Decision.immediate))
    ).first()
    return immediate is not None


def moderate_score(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    agree: bool,
    note: str = "",
    varied: Any = None,
    now: datetime | None = None,
) -> Case:
    """A second analyst agrees with the assessment, or varies it (inputs and rationale).

    Varied inputs become the assessment and the score; the assessor's vector is kept.
    """
    moderation_in, case = open_edit(
        session=session,
        actor=actor,
        permission="score.moderate",
        schema=ModerationIn,
        data={"agree": agree, "note": note, "varied": varied},
        case_id=case_id,
        expected_version=expected_version,
    )
    assessment = get_assessment(session, case)
    if not awaits_moderation(session, case, assessment):
        raise Conflict(
            f"{case.reference} is {case.state}; scores are moderated in moderation",
            fields={"state": case.state},
        )
    if assessment.assessed_by_id == actor.id:
        raise Forbidden("a score is moderated by someone other than its assessor")
    now = now or utcnow()
    before = assessment.vector
    if moderation_in.varied is not None:
        values = assessment_values(moderation_in.varied)
        if values["vector"] == assessment.vector:
            raise Invalid(
                "varied: these are the assessment's own inputs; agree instead",
                fields={"varied": "unchanged"},
            )
        if assessment.t == 1 and values["t"] != 1:
            raise Invalid("varied.T: a threat to life keeps T=1", fields={"varied.T": "must be 1"})
        values["rationale"] = assessment.rationale  # the assessor's rationale stays
        for key, value in values.items():
            setattr(assessment, key, value)
        assessment.varied_from = before
        assessment.version += 1
    assessment.moderation = (
        ModerationState.AGREED if moderation_in.agree else ModerationState.VARIED
    ).value
    assessment.moderated_by_id, assessment.moderated_at = actor.id, now
    assessment.moderated_version = assessment.version
    assessment.moderation_note = moderation_in.note
    session.add(assessment)
    if moderation_in.varied is not None:
        score_case(session=session, case=case, assessment=assessment, reason=RunKind.EDIT, now=now)
    record_case_event(
        session,
        actor,
        case,
        "alteration",
        "score.moderate",
        reason=moderation_in.note,
        detail={
            "agree": moderation_in.agree,
            "from": before,
            "to": assessment.vector,
            "assessment_version": assessment.version,
        },
    )
    session.flush()
    return case
