"""Records reviews (`/reviews`, DPA 2018 s.39): what is due, and keep or dispose.

Who: the SCTaC coordinator decides (the centre reviews the records it holds,
and coordinators already review and task the work); the auditor (data
protection officer) reads the same lists and every decision but changes
nothing, as the domain's auditor role does. Administrators manage the system,
not the records, so they have no access here. Need-to-know applies to every
list (tasking.services.access.case_scope).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import col, select

from tasking.models import Case, Role, RunKind, RunStatus, ScoringRun, User
from tasking.services import records
from tasking.services.access import case_scope, require
from tasking.services.audit import record_event
from tasking.services.disposal import dispose
from tasking.services.errors import Invalid, NotFound
from tasking.web.db import db
from tasking.web.filters import mark_page
from tasking.web.security import actor, roles

bp = Blueprint("reviews", __name__, url_prefix="/reviews")

READERS = (Role.COORDINATOR, Role.AUDITOR)


@bp.get("/")
@roles(*READERS)
def index() -> ResponseReturnValue:
    """Reviews due and overdue, retention due, stale drafts, and the latest decisions."""
    session = db()
    lists = records.due_lists(session=session, actor=actor())
    decisions = records.decisions_of(session=session, actor=actor())
    cases = {
        c.id: c
        for c in session.exec(
            select(Case).where(
                Case.id.in_({d.case_id for d in decisions}),  # type: ignore[union-attr]
                case_scope(actor()),
            )
        ).all()
    }
    reviewers = {u.id: u for u in session.exec(select(User)).all()}
    shown = [*lists.reviews, *lists.retention, *lists.drafts, *cases.values()]
    mark_page(*(c.marking for c in shown))
    nightly = session.exec(
        select(ScoringRun)
        .where(
            ScoringRun.kind == RunKind.NIGHTLY.value, ScoringRun.status == RunStatus.COMPLETED.value
        )
        .order_by(col(ScoringRun.id).desc())
    ).first()
    listed = json.loads(nightly.summary or "{}") if nightly else {}
    return render_template(
        "reviews/index.html", lists=lists, decisions=decisions, cases=cases, nightly=nightly,
        nightly_overdue=len(listed.get("overdue_reviews", [])),
        nightly_retention=len(listed.get("retention_due", [])),
        reviewers=reviewers, may_decide=records.may_decide(actor()),
    )  # fmt: skip


def _case(case_id: int) -> Case:
    require(actor(), "retention.view")
    case = db().exec(select(Case).where(Case.id == case_id, case_scope(actor()))).first()
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def _page(
    case_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = db(write=True)  # viewing the record for review is logged
    case = _case(case_id)
    record_event(
        session=session, actor=actor(), category="consultation", action="review.view",
        entity_type="case", entity_id=case.id,
    )  # fmt: skip
    mark_page(case.marking)
    history = [
        d for d in records.decisions_of(session=session, actor=actor()) if d.case_id == case_id
    ]
    return render_template(
        "reviews/case.html", case=case, due=records.due_list_of(case), values=values or {},
        errors=errors or {}, history=history, may_decide=records.may_decide(actor()),
        disposed=records.disposed(session, case_id),
    ), status  # fmt: skip


@bp.get("/<int:case_id>")
@roles(*READERS)
def case(case_id: int) -> ResponseReturnValue:
    """One case due for review: what it is, its dates, and the keep or dispose forms."""
    return _page(case_id)


def _form(*names: str) -> dict[str, str]:
    return {n: request.form.get(n, "").strip() for n in names}


@bp.post("/<int:case_id>/keep")
@roles(Role.COORDINATOR)
def keep(case_id: int) -> ResponseReturnValue:
    """Keep the case with a reason until the date given."""
    values = _form("keep_reason", "next_review")
    data: dict[str, Any] = {"reason": values["keep_reason"], "next_review": values["next_review"]}
    try:
        records.keep(session=db(), actor=actor(), case_id=case_id, data=data)
    except Invalid as exc:
        errors = {("keep_reason" if k == "reason" else k): v for k, v in exc.fields.items()}
        return _page(case_id, values=values, errors=errors, status=422)
    flash(f"Kept until {values['next_review']}.", "success")
    return redirect(url_for("reviews.index"))


@bp.post("/<int:case_id>/dispose")
@roles(Role.COORDINATOR)
def dispose_case(case_id: int) -> ResponseReturnValue:
    """Dispose of the case: its content is erased; its reference, score and outcomes stay."""
    values = _form("dispose_reason", "confirm")
    errors: dict[str, str] = {}
    if values["confirm"] != "yes":
        errors["confirm"] = "Confirm that the content is to be erased"
    try:
        if not errors:
            review = dispose(
                session=db(),
                actor=actor(),
                case_id=case_id,
                data={"reason": values["dispose_reason"]},
            )
    except Invalid as exc:
        errors.update(
            {("dispose_reason" if k == "reason" else k): v for k, v in exc.fields.items()}
        )
    if errors:
        if "confirm" in errors and not values["dispose_reason"]:
            errors["dispose_reason"] = "Say why the record is disposed of"
        return _page(case_id, values=values, errors=errors, status=422)
    reference = db().get(Case, review.case_id)
    flash(f"{reference.reference if reference else 'The case'} is disposed of.", "success")
    return redirect(url_for("reviews.index"))
