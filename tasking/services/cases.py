"""Creating, reading and editing cases and their MoRiLE assessments.

Each function is one transaction's worth of work in the caller's session:
validate everything first, then write the case, its assessment, its score
and one audit event together (the caller commits or rolls back as a whole).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import Session, select

import scoring
from tasking.models import (
    ASSESSMENT_COLUMNS,
    REASSESSABLE_STATES,
    Assessment,
    Case,
    CaseKind,
    ModerationState,
    RunKind,
    State,
    Strand,
    Theme,
    Unit,
    UnitKind,
    User,
    pk,
    utcnow,
)
from tasking.services.access import case_scope, is_bcu_scoped, require
from tasking.services.audit import record_event
from tasking.services.errors import Conflict, Invalid, NotFound
from tasking.services.records import review_date as review_date  # registers the schedule
from tasking.services.schemas import (
    TEXT_LONG,
    AssessmentIn,
    AssetRequestIn,
    CaseFactsIn,
    CaseIn,
    validate,
)
from tasking.services.scores import score_case, sync_board_row

# The inputs entered as numbers (Cf is entered as its letter and stored as its code).
_INPUT_FIELDS = {key: column for key, column in ASSESSMENT_COLUMNS.items() if key != "Cf"}


# A threat to life submitted with the facts alone: placeholder inputs with T=1 (band P0,
# first on every board) until an analyst completes the assessment.
PROVISIONAL_THREAT = AssessmentIn(
    P=0, Ps=0, F=0, C=0, S=1, V=0, L=1, Cf="L", Ca=0, Cb=0, O=0, T=1,
    rationale="Threat to life submitted with the facts alone; assessment to follow.",
)  # fmt: skip

In = TypeVar("In", bound=BaseModel)


def assessment_values(data: AssessmentIn) -> dict[str, Any]:
    """Assessment row values (narrow integer codes and canonical vector) from validated input."""
    values: dict[str, Any] = {column: getattr(data, key) for key, column in _INPUT_FIELDS.items()}
    values["cf"] = scoring.CONFIDENCE_LEVELS.index(data.Cf)
    inputs = {key: getattr(data, key) for key in _INPUT_FIELDS}
    values["vector"] = scoring.format_vector({**inputs, "Cf": values["cf"]})
    values["rationale"] = data.rationale
    return values


def _check_refs(session: Session, facts: CaseFactsIn, bcu_id: int | None) -> None:
    problems: dict[str, str] = {}
    if session.get(Theme, facts.theme_id) is None:
        problems["theme_id"] = "no such Control Strategy theme"
    if facts.hub_id is not None:
        hub = session.get(Unit, facts.hub_id)
        if hub is None or hub.kind == UnitKind.BCU:
            problems["hub_id"] = "no such specialist crime hub"
    if bcu_id is not None:
        bcu = session.get(Unit, bcu_id)
        if bcu is None or bcu.kind != UnitKind.BCU:
            problems["bcu_id"] = "no such BCU"
    if problems:
        raise Invalid(
            "invalid input: " + "; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems
        )


def _insert_case(
    session: Session,
    *,
    actor: User,
    kind: CaseKind,
    facts: CaseFactsIn,
    bcu_id: int | None,
    assessment: AssessmentIn | None,
    state: State,
    now: datetime,
) -> Case:
    case = Case(
        reference=f"TMP-{uuid.uuid4().hex[:24]}",  # replaced by the id-based reference below
        kind=int(kind),
        codename=facts.codename or None,
        title=facts.title,
        summary=facts.summary,
        justification=facts.justification,
        theme_id=facts.theme_id,
        strands=int(Strand.parse(facts.strands)),
        bcu_id=bcu_id,
        hub_id=facts.hub_id,
        asset_type=facts.asset_type,
        requested_hours=facts.requested_hours,
        opportunity_deadline=facts.opportunity_deadline,
        next_review=facts.next_review,
        state=state.value,
        created_by_id=pk(actor),
        lead_id=actor.id,
        created_at=now,
        submitted_at=now if state != State.DRAFT else None,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    case.reference = f"{kind.prefix}-{case.id:03d}"
    row = Assessment(
        case_id=pk(case),
        assessed_by_id=pk(actor),
        assessed_at=now,
        intel_at=now,
        provisional=assessment is None,
        **assessment_values(assessment or PROVISIONAL_THREAT),
    )
    session.add_all([case, row])
    session.flush()
    score_case(session=session, case=case, assessment=row, reason=RunKind.SUBMIT, now=now)
    return case


def submit_asset_request(
    *,
    session: Session,
    actor: User,
    data: Any,
    bcu_id: int | None = None,
    draft: bool = False,
    now: datetime | None = None,
) -> Case:
    """A BCU asks for a specialist asset; scored inline and on the board when it commits."""
    require(actor, "request.submit")
    request_in = validate(AssetRequestIn, data)
    if is_bcu_scoped(actor):
        bcu_id = actor.unit_id  # a BCU user always asks for their own BCU
    if bcu_id is None:
        raise Invalid("invalid input: bcu_id: required", fields={"bcu_id": "required"})
    _check_refs(session, request_in, bcu_id)
    now = now or utcnow()
    case = _insert_case(
        session,
        actor=actor,
        kind=CaseKind.REQUEST,
        facts=request_in,
        bcu_id=bcu_id,
        assessment=request_in.assessment,
        state=State.DRAFT if draft else State.SUBMITTED,
        now=now,
    )
    record_case_event(
        session, actor, case, "collection", "request.submit", detail={"state": case.state}
    )
    return case


def create_case(*, session: Session, actor: User, data: Any, now: datetime | None = None) -> Case:
    """The centre opens an operation or an intelligence case (submitted straight away)."""
    require(actor, "case.create")
    case_in = validate(CaseIn, data)
    _check_refs(session, case_in, case_in.bcu_id)
    kind = CaseKind.OPERATION if case_in.kind == "operation" else CaseKind.INTELLIGENCE
    case = _insert_case(
        session,
        actor=actor,
        kind=kind,
        facts=case_in,
        bcu_id=case_in.bcu_id,
        assessment=case_in.assessment,
        state=State.SUBMITTED,
        now=now or utcnow(),
    )
    record_case_event(
        session, actor, case, "collection", "case.create", detail={"kind": kind.name.lower()}
    )
    return case


def get_case(*, session: Session, actor: User, case_id: int, log_view: bool = True) -> Case:
    """A case the actor may see (need-to-know, access.case_scope); 404 otherwise. Logs the view."""
    require(actor, "case.view")
    case = session.exec(select(Case).where(Case.id == case_id, case_scope(actor))).first()
    if case is None:
        raise NotFound(f"case {case_id} not found")
    if log_view:
        record_case_event(session, actor, case, "consultation", "case.view")
    return case


def open_edit(
    *,
    session: Session,
    actor: User,
    permission: str,
    schema: type[In],
    data: Any,
    case_id: int,
    expected_version: int,
) -> tuple[In, Case]:
    """How every human edit of a case opens: the actor's permission, the input checked
    (nothing is claimed when it is invalid), then the case claimed at the version the
    user saw (lock_for_edit). Returns the checked input and the case."""
    require(actor, permission)
    values = validate(schema, data)
    case = lock_for_edit(
        session=session, actor=actor, case_id=case_id, expected_version=expected_version
    )
    return values, case


def record_case_event(
    session: Session,
    actor: User,
    case: Case,
    category: str,
    action: str,
    *,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One audit row about a case (tasking.services.audit.record_event), in the caller's
    transaction."""
    record_event(
        session=session, actor=actor, category=category, action=action, entity_type="case",
        entity_id=case.id, reason=reason, detail=detail,
    )  # fmt: skip


def lock_for_edit(*, session: Session, actor: User, case_id: int, expected_version: int) -> Case:
    """Claim the case for a human edit: raises Conflict if someone saved since it was read."""
    case = get_case(session=session, actor=actor, case_id=case_id, log_view=False)
    claimed = session.connection().execute(
        update(Case)
        .where(Case.id == case_id, Case.version == expected_version)  # type: ignore[arg-type]
        .values(version=expected_version + 1, updated_at=utcnow())
    )
    if claimed.rowcount != 1:
        session.refresh(case)
        raise Conflict(
            f"case {case.reference} was changed by someone else (now version {case.version},"
            f" you edited version {expected_version}); reload to see their change",
            fields={"version": "stale"},
        )
    session.refresh(case)
    return case


def get_assessment(session: Session, case: Case) -> Assessment:
    """The assessment row of a case (every case has exactly one)."""
    row = session.get(Assessment, case.id)
    if row is None:
        raise NotFound(f"case {case.reference} has no assessment")
    return row


def update_assessment(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    data: Any,
    reason: str = "",
    now: datetime | None = None,
) -> Case:
    """Change a case's MoRiLE inputs; rescored inline; moderation starts again.

    Work already moderated goes back to `moderation` (from `awaiting_meeting`) with
    the reason recorded; a provisional threat-to-life assessment is completed here,
    whatever the case's state, then moderated like any other.
    """
    require(actor, "assessment.edit")
    assessment_in = validate(AssessmentIn, data)
    if len(reason) > TEXT_LONG:
        raise Invalid(
            f"reason: at most {TEXT_LONG} characters",
            fields={"reason": f"String should have at most {TEXT_LONG} characters"},
        )
    case = lock_for_edit(
        session=session, actor=actor, case_id=case_id, expected_version=expected_version
    )
    row = get_assessment(session, case)
    completing = row.provisional and case.state != State.CLOSED
    if case.state not in REASSESSABLE_STATES and not completing:
        raise Conflict(f"a {case.state} case cannot be re-assessed", fields={"state": case.state})
    if completing and assessment_in.T != 1:
        raise Invalid(
            "T: a threat-to-life case keeps T=1 when its assessment is completed",
            fields={"T": "must stay 1"},
        )
    now = now or utcnow()
    before = row.vector
    for key, value in assessment_values(assessment_in).items():
        setattr(row, key, value)
    row.assessed_by_id, row.assessed_at = actor.id, now  # type: ignore[assignment]
    row.provisional = False
    why = reason.strip() or ("assessment completed" if completing else "assessment changed")
    reassessed(session=session, actor=actor, case=case, assessment=row, reason=why)
    score_case(session=session, case=case, assessment=row, reason=RunKind.EDIT, now=now)
    record_case_event(
        session,
        actor,
        case,
        "alteration",
        "assessment.update",
        reason=why,
        detail={"from": before, "to": row.vector, "assessment_version": row.version},
    )
    return case


def reassessed(
    *, session: Session, actor: User, case: Case, assessment: Assessment, reason: str
) -> None:
    """After a human change of the inputs or confidence: a new assessment version, moderation
    pending again, and work awaiting the meeting back in `moderation` (reason recorded)."""
    assessment.version += 1
    assessment.moderation = ModerationState.PENDING.value
    assessment.moderated_by_id = assessment.moderated_at = assessment.moderated_version = None
    assessment.varied_from = ""
    session.add(assessment)
    if case.state == State.AWAITING_MEETING:
        case.state = State.MODERATION.value
        session.add(case)
        sync_board_row(session=session, case=case)
        record_case_event(
            session,
            actor,
            case,
            "alteration",
            "case.transition",
            reason=f"back to moderation: {reason}",
            detail={"from": State.AWAITING_MEETING.value, "to": State.MODERATION.value},
        )


def update_facts(
    *,
    session: Session,
    actor: User,
    case_id: int,
    expected_version: int,
    data: Any,
) -> Case:
    """Change a case's factual record (title, theme, deadline...); its board row follows."""
    facts, case = open_edit(
        session=session,
        actor=actor,
        permission="case.edit",
        schema=CaseFactsIn,
        data=data,
        case_id=case_id,
        expected_version=expected_version,
    )
    _check_refs(session, facts, None)
    changed = []
    for key in (
        "title",
        "codename",
        "summary",
        "justification",
        "theme_id",
        "hub_id",
        "asset_type",
        "requested_hours",
        "opportunity_deadline",
        "next_review",
    ):
        value = getattr(facts, key)
        if getattr(case, key) != value:
            setattr(case, key, value)
            changed.append(key)
    strands = int(Strand.parse(facts.strands))
    if case.strands != strands:
        case.strands = strands
        changed.append("strands")
    session.add(case)
    sync_board_row(session=session, case=case)
    record_case_event(session, actor, case, "alteration", "case.update", detail={"fields": changed})
    session.flush()
    return case


def get_case_by_reference(
    *, session: Session, actor: User, reference: str, log_view: bool = True
) -> Case:
    """`get_case` by reference (e.g. OP-001): the same scoping and consultation log; 404 otherwise.

    A case that exists but is out of the actor's scope gets the same answer as
    one that does not exist, message included.
    """
    require(actor, "case.view")
    case_id = session.exec(select(Case.id).where(Case.reference == reference[:32])).first()
    try:
        if case_id is None:
            raise NotFound(f"case {reference} not found")
        return get_case(session=session, actor=actor, case_id=case_id, log_view=log_view)
    except NotFound:
        raise NotFound(f"case {reference[:32]} not found") from None
