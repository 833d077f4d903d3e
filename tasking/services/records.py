"""Records duties (DPA 2018 s.39): review dates, what is due, and keep/dispose decisions.

Reviews and retention are separate dates: `next_review` is operational (set from
the schedule `review_days` in config/workflow.toml whenever a case enters a
state without one being given (never later than a review already pending), or
by a decision or a reviewer's keep; cleared on closing);
`retain_until` is set when a case closes, from the schedule by kind and outcome.
Drafts untouched for longer than `draft_max_age_days` are listed for deletion.

A reviewer (the coordinator: the centre reviews its own records) keeps a case
with a reason and the next review date, or disposes of it
(tasking.services.disposal). Auditors and data protection officers read the
lists and the decisions; they change nothing. Every decision is a
`RecordReview` row and an audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, or_, select

from config.workflow import load_workflow
from tasking.models import OPEN_STATES, Case, CaseKind, RecordReview, Role, State, User, utcnow
from tasking.services.access import case_scope, require
from tasking.services.audit import record_event
from tasking.services.errors import Forbidden, Invalid, NotFound
from tasking.services.schemas import TEXT_SHORT, StrictIn, validate

MAX_LIST = 500
# Reviews falling due within this many days are listed as "due soon".
DUE_SOON_DAYS = 7
# Who records keep or dispose: the coordinator, whose centre holds the records.
REVIEWERS = frozenset({Role.COORDINATOR})
KINDS = {CaseKind.OPERATION: "operation", CaseKind.INTELLIGENCE: "intelligence"}
DUE_LISTS = ("review", "retention", "draft")


def review_date(kind: int, state: str, entered: date) -> date | None:
    """The next review date of a case of this kind entering this state, from the schedule."""
    name = KINDS.get(CaseKind(int(kind)), "request")
    days = load_workflow().review_after(name, state)
    return entered + timedelta(days=days) if days else None


def _schedule_reviews(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Before every flush: a case entering a state with no review date given gets one.

    A date set in the same change (a decision's review date, closing's None) wins.
    Otherwise the next review is the earlier of the pending one and the new state's
    scheduled one: moving a case on never postpones (or hides) a review already due.
    """
    today = utcnow().date()
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, Case):
            continue
        if obj in session.new:
            if obj.next_review is not None:
                continue  # given with the new case
        else:
            attrs = inspect(obj).attrs
            if not attrs["state"].history.has_changes():
                continue  # no new state
            if attrs["next_review"].history.has_changes():
                continue  # the change gave its own date (or cleared it, on closing)
        due = review_date(obj.kind, obj.state, today)
        if due is not None and (obj.next_review is None or due < obj.next_review):
            obj.next_review = due  # a change of state never puts off a pending review


if not event.contains(OrmSession, "before_flush", _schedule_reviews):
    event.listen(OrmSession, "before_flush", _schedule_reviews)


def retention_due(
    *, session: Session, actor: User, today: date | None = None, limit: int = MAX_LIST
) -> list[Case]:
    """Closed cases whose retention date has come, oldest date first (need-to-know applies)."""
    require(actor, "retention.view")
    day = today or utcnow().date()
    return list(
        session.exec(
            select(Case)
            .where(col(Case.retain_until) <= day, case_scope(actor))
            .order_by(col(Case.retain_until), col(Case.id))
            .limit(max(1, min(limit, MAX_LIST)))
        ).all()
    )


def drafts_due_for_deletion(
    *, session: Session, actor: User, today: date | None = None, limit: int = MAX_LIST
) -> list[Case]:
    """Drafts not touched for longer than the configured age (and not kept), oldest first."""
    require(actor, "retention.view")
    day = today or utcnow().date()
    age = timedelta(days=load_workflow().draft_max_age_days)
    cutoff = datetime.combine(day, time.min, tzinfo=UTC) - age
    return list(
        session.exec(
            select(Case)
            .where(
                Case.state == State.DRAFT.value,
                col(Case.updated_at) < cutoff,
                # A draft a reviewer kept is listed again on the date they gave.
                or_(col(Case.next_review).is_(None), col(Case.next_review) <= day),
                case_scope(actor),
            )
            .order_by(col(Case.updated_at), col(Case.id))
            .limit(max(1, min(limit, MAX_LIST)))
        ).all()
    )


def reviews_due(
    *, session: Session, actor: User, today: date | None = None, limit: int = MAX_LIST
) -> list[Case]:
    """Open cases whose review is overdue or due within DUE_SOON_DAYS, earliest first."""
    require(actor, "retention.view")
    day = today or utcnow().date()
    return list(
        session.exec(
            select(Case)
            .where(
                col(Case.state).in_([s.value for s in OPEN_STATES]),
                col(Case.next_review) <= day + timedelta(days=DUE_SOON_DAYS),
                case_scope(actor),
            )
            .order_by(col(Case.next_review), col(Case.id))
            .limit(max(1, min(limit, MAX_LIST)))
        ).all()
    )


@dataclass(frozen=True)
class DueLists:
    """What a reviewer has to decide on today."""

    today: date
    reviews: list[Case]
    retention: list[Case]
    drafts: list[Case]


def due_lists(*, session: Session, actor: User, today: date | None = None) -> DueLists:
    """The three lists of the review page, each need-to-know scoped."""
    day = today or utcnow().date()
    return DueLists(
        today=day,
        reviews=reviews_due(session=session, actor=actor, today=day),
        retention=retention_due(session=session, actor=actor, today=day),
        drafts=drafts_due_for_deletion(session=session, actor=actor, today=day),
    )


class KeepIn(StrictIn):
    """Keep a case: why, and when it is next reviewed."""

    reason: str = Field(min_length=3, max_length=TEXT_SHORT)
    next_review: date


class DisposeIn(StrictIn):
    """Dispose of a case: why (the content itself is erased)."""

    reason: str = Field(min_length=3, max_length=TEXT_SHORT)


def may_decide(actor: User) -> bool:
    """True for the roles that record keep or dispose."""
    return actor.is_active and actor.role in REVIEWERS


def check_reviewer(actor: User) -> None:
    """Raise Forbidden unless the actor may record keep or dispose."""
    require(actor, "retention.view")
    if not may_decide(actor):
        raise Forbidden("your role may read reviews but not decide them")


def reviewable(session: Session, actor: User, case_id: int) -> Case:
    """A case the actor may decide on (need-to-know applies); NotFound once disposed of."""
    check_reviewer(actor)
    case = session.exec(select(Case).where(Case.id == case_id, case_scope(actor))).first()
    if case is None:
        raise NotFound(f"case {case_id} not found")
    if disposed(session, case_id):
        raise NotFound(f"case {case.reference} has been disposed of")
    return case


def due_list_of(case: Case) -> str:
    """Which list a case is reviewed on: draft, retention (closed) or review (open)."""
    if case.state == State.DRAFT:
        return "draft"
    if case.state == State.CLOSED or case.retain_until is not None:
        return "retention"
    return "review"


def keep(
    *, session: Session, actor: User, case_id: int, data: Any, today: date | None = None
) -> RecordReview:
    """Keep a case with a reason until its next review (audited, and recorded as a decision)."""
    check_reviewer(actor)
    keep_in = validate(KeepIn, data)
    day = today or utcnow().date()
    if keep_in.next_review <= day:
        raise Invalid("next_review: must be after today", fields={"next_review": "after today"})
    if keep_in.next_review > day + timedelta(days=3660):
        raise Invalid(
            "next_review: at most ten years ahead", fields={"next_review": "at most ten years"}
        )
    case = reviewable(session, actor, case_id)
    due = due_list_of(case)
    if due == "retention":
        case.retain_until = keep_in.next_review
    else:
        case.next_review = keep_in.next_review
    session.add(case)
    review = RecordReview(
        case_id=case_id, due=due, decision="keep", reason=keep_in.reason,
        reviewer_id=int(actor.id or 0), next_review=keep_in.next_review,
    )  # fmt: skip
    session.add(review)
    session.flush()
    record_event(
        session=session, actor=actor, category="alteration", action="record.keep",
        entity_type="case", entity_id=case_id, reason=keep_in.reason,
        detail={"list": due, "next_review": keep_in.next_review.isoformat()},
    )  # fmt: skip
    return review


def decisions_of(*, session: Session, actor: User, limit: int = 100) -> list[RecordReview]:
    """The latest keep/dispose decisions on cases the actor may know of, newest first."""
    require(actor, "retention.view")
    visible = select(Case.id).where(case_scope(actor))
    return list(
        session.exec(
            select(RecordReview)
            .where(col(RecordReview.case_id).in_(visible))
            .order_by(col(RecordReview.id).desc())
            .limit(max(1, min(limit, MAX_LIST)))
        ).all()
    )


def disposed(session: Session, case_id: int) -> bool:
    """True when a case has been disposed of (only its tombstone is left)."""
    found = session.exec(
        select(RecordReview.id).where(
            RecordReview.case_id == case_id, RecordReview.decision == "dispose"
        )
    ).first()
    return found is not None
