"""The BCU pathway: previewing a request's score, and a BCU's own requests and their outcomes.

A BCU requester sees only their own BCU's asset requests (docs/domain.md), and the
limit is part of every query here, never a filter applied afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

import scoring
from config.workflow import load_workflow
from tasking.models import (
    Case,
    CaseKind,
    CaseScore,
    Decision,
    InfoRequest,
    Role,
    ScoreHistory,
    State,
    Theme,
    User,
    utcnow,
)
from tasking.services.access import case_scope, require
from tasking.services.audit import record_event
from tasking.services.cases import lock_for_edit, record_case_event
from tasking.services.errors import Conflict, Forbidden, Invalid, NotFound
from tasking.services.schemas import TEXT_SHORT, AssessmentIn, validate
from tasking.services.scores import current_model, sync_board_row
from tasking.services.workflow import close_case

PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
CSV_LIMIT = 10_000


def preview_assessment(*, session: Session, data: Any) -> scoring.Explanation:
    """Score MoRiLE inputs under the current model without storing anything."""
    assessment = validate(AssessmentIn, data)
    _, model = current_model(session=session)
    values = assessment.model_dump(exclude={"rationale"})
    values["Cf"] = scoring.CONFIDENCE_LEVELS.index(values["Cf"])
    return scoring.explain(scoring.Inputs(**values), model=model)


@dataclass(frozen=True)
class RequestLine:
    """One of a BCU's requests as its officers see it."""

    case_id: int
    reference: str
    title: str
    state: str
    theme: str
    asset_type: str | None
    requested_hours: int
    allocated_hours: int
    submitted_at: datetime | None
    created_at: datetime
    band: int | None
    priority: float | None
    threat: int
    outcome: str | None
    decided_at: date | None
    reason: str
    marking: str = "OFFICIAL-SENSITIVE"  # the case's handling marking


@dataclass(frozen=True)
class RequestPage:
    """A page of a BCU's requests, newest first."""

    lines: list[RequestLine]
    page: int
    pages: int
    total: int


def _own_bcu(actor: User) -> int:
    require(actor, "request.submit")
    if actor.role != Role.BCU_REQUESTER or actor.unit_id is None:
        raise Forbidden("only a BCU's requesting officers follow its requests here")
    return actor.unit_id


def _scoped(actor: User) -> Any:
    """The WHERE clause of everything a BCU requester may see: their BCU's requests,
    none marked above their clearance (access.case_scope)."""
    bcu = _own_bcu(actor)
    return and_(col(Case.kind) == int(CaseKind.REQUEST), col(Case.bcu_id) == bcu, case_scope(actor))


def _latest_decisions(session: Session, case_ids: list[int]) -> dict[int, Decision]:
    if not case_ids:
        return {}
    rows = session.exec(
        select(Decision)
        .where(col(Decision.case_id).in_(case_ids))
        .order_by(col(Decision.decided_at), col(Decision.id))
    ).all()
    return {row.case_id: row for row in rows}  # the last one per case wins


def decision_reason(decision: Decision | None) -> str:
    """What the BCU is told of a decision: the reason or referral, the action, the conditions."""
    if decision is None:
        return ""
    parts = []
    if decision.decline_reason.strip():
        parts.append(f"Declined because: {decision.decline_reason.strip()}")
    if decision.referral_destination:
        partner = load_workflow().partner(decision.referral_destination)
        parts.append(f"Referred to {partner.name if partner else decision.referral_destination}.")
    parts.append(decision.action.strip())
    if decision.conditions.strip():
        parts.append(f"Conditions: {decision.conditions.strip()}")
    return " ".join(part for part in parts if part)


def _lines(session: Session, rows: list[Any]) -> list[RequestLine]:
    decisions = _latest_decisions(session, [case.id for case, *_ in rows])
    lines = []
    for case, score, theme_name in rows:
        decision = decisions.get(case.id)
        lines.append(
            RequestLine(
                case_id=case.id,
                reference=case.reference,
                title=case.title,
                state=case.state,
                theme=theme_name,
                asset_type=case.asset_type,
                requested_hours=case.requested_hours,
                allocated_hours=case.allocated_hours,
                submitted_at=case.submitted_at,
                created_at=case.created_at,
                band=score.band if score else None,
                priority=score.priority if score else None,
                threat=score.threat if score else 0,
                outcome=decision.outcome if decision else None,
                decided_at=decision.decided_at.date() if decision else None,
                reason=decision_reason(decision),
                marking=case.marking,
            )
        )
    return lines


def _query(actor: User) -> Any:
    return (
        select(Case, CaseScore, Theme.name)
        .join(CaseScore, col(CaseScore.case_id) == col(Case.id), isouter=True)
        .join(Theme, col(Theme.id) == col(Case.theme_id))
        .where(_scoped(actor))
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
    )


def list_bcu_requests(
    *, session: Session, actor: User, page: int = 1, per_page: int = PAGE_SIZE
) -> RequestPage:
    """The actor's BCU's requests, newest first, one page."""
    scope = _scoped(actor)
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    total = session.exec(select(func.count()).select_from(Case).where(scope)).one()
    pages = max(1, -(-int(total) // per_page))
    page = max(1, min(page, pages))
    rows = session.exec(_query(actor).offset((page - 1) * per_page).limit(per_page)).all()
    return RequestPage(lines=_lines(session, list(rows)), page=page, pages=pages, total=int(total))


def export_bcu_requests(*, session: Session, actor: User) -> list[RequestLine]:
    """All the actor's BCU's requests (up to CSV_LIMIT) for export; logged as a disclosure."""
    rows = session.exec(_query(actor).limit(CSV_LIMIT)).all()
    lines = _lines(session, list(rows))
    record_event(
        session=session, actor=actor, category="disclosure", action="requests.export",
        entity_type="unit", entity_id=actor.unit_id, detail={"rows": len(lines), "format": "csv"},
    )  # fmt: skip
    return lines


@dataclass(frozen=True)
class RequestDetail:
    """One request as its BCU sees it: the facts, the score, the decisions, the score history."""

    case: Case
    line: RequestLine
    score: CaseScore | None
    decisions: list[Decision]
    history: list[ScoreHistory]
    questions: list[InfoRequest]

    @property
    def open_question(self) -> InfoRequest | None:
        """The question the BCU has still to answer, if any."""
        return next((q for q in self.questions if q.answered_at is None), None)


def get_bcu_request(
    *, session: Session, actor: User, reference: str, log_view: bool = True
) -> RequestDetail:
    """One of the actor's BCU's requests by reference (404 for anything else); logs the view."""
    row = session.exec(_query(actor).where(col(Case.reference) == reference[:32])).first()
    if row is None:
        raise NotFound(f"no request {reference[:32]} for your BCU")
    case, score, _theme = row
    line = _lines(session, [row])[0]
    decisions = list(
        session.exec(
            select(Decision).where(Decision.case_id == case.id).order_by(col(Decision.decided_at))
        ).all()
    )
    history = list(
        session.exec(
            select(ScoreHistory)
            .where(ScoreHistory.case_id == case.id)
            .order_by(col(ScoreHistory.scored_at), col(ScoreHistory.score_version))
        ).all()
    )
    questions = list(
        session.exec(
            select(InfoRequest).where(InfoRequest.case_id == case.id).order_by(col(InfoRequest.id))
        ).all()
    )
    if log_view:
        record_case_event(session, actor, case, "consultation", "request.view")
    return RequestDetail(
        case=case, line=line, score=score, decisions=decisions, history=history,
        questions=questions,
    )  # fmt: skip


# A request may be withdrawn until the tasking meeting has decided it.
WITHDRAWABLE = frozenset(
    {
        State.DRAFT, State.SUBMITTED, State.TRIAGE, State.INFORMATION_REQUESTED,
        State.SCORING, State.MODERATION, State.AWAITING_MEETING,
    }
)  # fmt: skip
WITHDRAWN = "withdrawn by the BCU"


def withdraw_request(
    *, session: Session, actor: User, reference: str, expected_version: int, reason: str
) -> Case:
    """The BCU withdraws one of its requests that is not yet decided; it closes with the reason."""
    found = get_bcu_request(session=session, actor=actor, reference=reference, log_view=False)
    reason = reason.strip()
    if len(reason) < 3:
        raise Invalid("reason: say why the request is withdrawn", fields={"reason": "required"})
    if len(reason) > TEXT_SHORT:
        raise Invalid(f"reason: at most {TEXT_SHORT} characters", fields={"reason": "too long"})
    if found.case.state not in WITHDRAWABLE:
        raise Conflict(
            f"{found.case.reference} is {found.case.state}: only requests not yet decided can"
            " be withdrawn",
            fields={"state": found.case.state},
        )
    case = lock_for_edit(
        session=session,
        actor=actor,
        case_id=int(found.case.id or 0),
        expected_version=expected_version,
    )
    before = case.state
    case.state = State.CLOSED.value
    close_case(session, case, None, utcnow())
    case.outcome = WITHDRAWN
    session.add(case)
    sync_board_row(session=session, case=case)
    record_case_event(
        session,
        actor,
        case,
        "alteration",
        "request.withdraw",
        reason=reason,
        detail={"from": before, "to": case.state},
    )
    session.flush()
    return case


__all__ = [
    "WITHDRAWABLE",
    "RequestDetail",
    "RequestLine",
    "RequestPage",
    "decision_reason",
    "export_bcu_requests",
    "get_bcu_request",
    "list_bcu_requests",
    "preview_assessment",
    "withdraw_request",
]
