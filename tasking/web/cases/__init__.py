"""The case page: facts beside the assessment, the score explained, history, and the forms.

`GET /cases/<reference>` shows one case; each form posts to its own route
under it and comes back to the page (303, with a flash message) on success.
On an error the page is drawn again with the user's input kept and each
problem named: 422 for invalid input, 409 for a stale version or a move the
state does not allow, 403 when the service refuses the actor. The services
decide everything; the views only translate forms and errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlmodel import Session

from tasking.models import MARKING_ORDER, Case, OutcomeGrade, User
from tasking.services.cases import get_case, get_case_by_reference, update_assessment
from tasking.services.decisions import record_decision
from tasking.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from tasking.services.links import LINKERS, link_cases, unlink_cases
from tasking.services.markings import set_marking
from tasking.services.moderation import moderate_score
from tasking.services.questions import request_information
from tasking.services.workflow import log_intelligence, transition
from tasking.web.audit import reasons
from tasking.web.cases import forms
from tasking.web.cases.labels import (
    FACTORS,
    GRADING_TEXT,
    HANDLING,
    INFO_GRADES,
    KIND_LABELS,
    LABELS,
    LINK_TYPE_OPTIONS,
    OUTCOMES,
    SOURCE_GRADES,
    STRANDS,
)
from tasking.web.cases.page import build_page, decision_values
from tasking.web.db import db
from tasking.web.filters import mark_page
from tasking.web.security import BOARD_ROLES, actor, roles

bp = Blueprint("cases", __name__, url_prefix="/cases")

# The fields each form shows: a service's complaint about any other field is
# shown as a message at the top of the form instead of beside an input.
FORM_FIELDS = {
    "assessment": {*forms.ASSESSMENT_KEYS, "rationale", "reason"},
    "intel": set(forms.INTEL_KEYS),
    "moderation": {"decision", "note", "varied", *(f"varied.{k}" for k in forms.ASSESSMENT_KEYS)},
    "transition": {"reason", "outcome", "grades"},
    "question": {"question"},
    "marking": {"marking", "reason"},
    "link": {"reference", "link_type", "reason"},
    "unlink": {"reason", "link_id"},
    "decision": {
        *forms.DECISION_TEXT,
        *forms.DECISION_OPTIONAL,
        "strands",
        "grading_varied",
        "assets",
        *(f"assets.{i}.{k}" for i in range(forms.ASSET_ROWS) for k in ("asset_id", "hours")),
    },
}
# Where each form lives on the page (section ids).
ANCHORS = {
    "assessment": "assessment",
    "intel": "intelligence",
    "moderation": "moderation",
    "transition": "state",
    "question": "state",
    "marking": "record",
    "decision": "decisions",
    "link": "links",
    "unlink": "links",
}
# Plainer words for the data models' commonest complaints.
PLAIN = {
    "Field required": "Enter or choose a value",
    "Input should be a valid integer, unable to parse string as an integer": "Enter a whole number",
    "Input should be a valid integer": "Enter a whole number",
    "Input should be a valid date or datetime, input is too short": "Enter a date and time",
    "Input should be a valid date or datetime, invalid character in year": "Enter a date and time",
}
_PLAIN_PATTERNS = (
    (
        re.compile(r"^String should have at least (\d+) characters?$"),
        r"Enter at least \1 characters",
    ),
    (re.compile(r"^String should have at most (\d+) characters?$"), r"Use at most \1 characters"),
    (re.compile(r"^Input should be greater than or equal to (\d+)$"), r"Enter \1 or more"),
    (re.compile(r"^Input should be less than or equal to (\d+)$"), r"Enter \1 or less"),
    (re.compile(r"^Input should be (?:'[^']*'(?:, | or )?)+$"), "Choose one of the options"),
    (re.compile(r"^Input should be a valid date.*$"), "Enter a real date"),
    (re.compile(r"^Value error, (.*)$"), r"\1"),
)


def plain(message: str) -> str:
    """A data model's message in the words of the form."""
    if message in PLAIN:
        return PLAIN[message]
    for pattern, words in _PLAIN_PATTERNS:
        if pattern.search(message):
            return pattern.sub(words, message)
    return message


@bp.get("/<reference>")
@roles(BOARD_ROLES)
def case_page(reference: str) -> ResponseReturnValue:
    """One case: facts, assessment, breakdown, history, intelligence, moderation, decisions.

    A case marked above OFFICIAL-SENSITIVE asks first why it is viewed (reasons.py);
    the view is logged with that reason.
    """
    session = db(write=True)  # the service logs this consultation
    user = actor()
    case = get_case_by_reference(session=session, actor=user, reference=reference, log_view=False)
    if reasons.restricted(case.marking):
        given = reasons.granted(case.reference)
        if given is None:
            return reasons.prompt(case)
        g.audit_reason = given
    case = get_case(session=session, actor=user, case_id=_id(case))  # logged
    return _render(session, case)


@bp.post("/<reference>/reason")
@roles(BOARD_ROLES)
def view_reason(reference: str) -> ResponseReturnValue:
    """The reason for viewing a restricted case: kept for a short while, then the page."""
    case = get_case_by_reference(session=db(), actor=actor(), reference=reference, log_view=False)
    return reasons.take(case)


@bp.post("/<reference>/assessment")
@roles(BOARD_ROLES)
def assessment(reference: str) -> ResponseReturnValue:
    """Change the MoRiLE assessment (rescored at once; moderation starts again)."""
    values, data = forms.assessment(request.form)

    def act(session: Session, user: User, case: Case) -> str:
        update_assessment(
            session=session,
            actor=user,
            case_id=_id(case),
            expected_version=forms.version(request.form),
            data=data,
            reason=values["reason"],
        )
        return "Assessment saved and the case rescored."

    return _handle(reference, "assessment", values, act)


@bp.post("/<reference>/intelligence")
@roles(BOARD_ROLES)
def intelligence(reference: str) -> ResponseReturnValue:
    """Log graded (3x5x2) intelligence: it sets confidence and resets the intelligence age."""
    values, data = forms.intelligence(request.form)

    def act(session: Session, user: User, case: Case) -> str:
        log_intelligence(
            session=session,
            actor=user,
            case_id=_id(case),
            expected_version=forms.version(request.form),
            data=data,
        )
        return "Intelligence logged and the case rescored."

    return _handle(reference, "intel", values, act)


@bp.post("/<reference>/moderation")
@roles(BOARD_ROLES)
def moderation(reference: str) -> ResponseReturnValue:
    """A second analyst agrees with or varies the score, with a reason."""
    values, varied = forms.moderation(request.form)

    def act(session: Session, user: User, case: Case) -> str:
        choice = values["decision"]
        # Named here for a plainer message; the service refuses both cases anyway.
        if choice not in ("agree", "vary"):
            raise Invalid("decision: choose agree or vary", fields={"decision": "Choose one"})
        if choice == "vary" and not values["note"].strip():
            raise Invalid("note: required", fields={"note": "Say why you vary the score"})
        moderate_score(
            session=session,
            actor=user,
            case_id=_id(case),
            expected_version=forms.version(request.form),
            agree=choice == "agree",
            note=values["note"],
            varied=varied,
        )
        return "Moderation recorded." if choice == "agree" else "Score varied at moderation."

    return _handle(reference, "moderation", values, act)


@bp.post("/<reference>/transition")
@roles(BOARD_ROLES)
def change_state(reference: str) -> ResponseReturnValue:
    """Move the case to another state, with the reason recorded."""
    values, outcome = forms.transition(request.form)

    def act(session: Session, user: User, case: Case) -> str:
        moved = transition(
            session=session,
            actor=user,
            case_id=_id(case),
            expected_version=forms.version(request.form),
            to_state=values["to_state"],
            reason=values["reason"],
            outcome=outcome,
        )
        return f"{moved.reference} moved to {moved.state.replace('_', ' ')}."

    return _handle(reference, "transition", values, act)


@bp.post("/<reference>/marking")
@roles(BOARD_ROLES)
def marking(reference: str) -> ResponseReturnValue:
    """Set or raise the case's handling marking, with the reason (lowering needs the chair)."""
    values = {key: request.form.get(key, "")[: forms.MAX_FIELD] for key in ("marking", "reason")}

    def act(session: Session, user: User, case: Case) -> str:
        changed = set_marking(
            session=session,
            actor=user,
            case_id=_id(case),
            expected_version=forms.version(request.form),
            data=values,
        )
        return f"Handling marking now {changed.marking}."

    return _handle(reference, "marking", values, act)


@bp.post("/<reference>/question")
@roles(BOARD_ROLES)
def question(reference: str) -> ResponseReturnValue:
    """Ask the requesting BCU for more information (the request waits for the answer)."""
    values = forms.question(request.form)

    def act(session: Session, user: User, case: Case) -> str:
        request_information(
            session=session,
            actor=user,
            case_id=_id(case),
            expected_version=forms.version(request.form),
            data=values,
        )
        return "Question sent to the requesting BCU."

    return _handle(reference, "question", values, act)


@bp.post("/<reference>/decision")
@roles(BOARD_ROLES)
def decision(reference: str) -> ResponseReturnValue:
    """Record the tasking meeting's decision against the score version it saw."""
    values, data = forms.decision(request.form)

    def act(session: Session, user: User, case: Case) -> str:
        record = record_decision(
            session=session,
            actor=user,
            case_id=_id(case),
            expected_version=forms.version(request.form),
            data=data,
        )
        return f"Decision recorded: {record.outcome}."

    return _handle(reference, "decision", values, act)


@bp.post("/<reference>/links")
@roles(LINKERS)
def link(reference: str) -> ResponseReturnValue:
    """Link another case to this one (deconfliction): how and why; logged as a combination."""
    values = {key: _posted(key) for key in ("reference", "link_type", "reason")}

    def act(session: Session, user: User, case: Case) -> str:
        try:
            link_cases(session=session, actor=user, case_id=_id(case), data=values)
        except NotFound as exc:
            if "reference" not in exc.fields:
                raise
            # The case to link is not one the user may see: a problem with what they typed.
            raise Invalid(exc.message, fields=exc.fields) from None
        return f"{case.reference} linked to {values['reference'].strip().upper()}."

    return _handle(reference, "link", values, act)


@bp.post("/<reference>/unlink")
@roles(LINKERS)
def unlink(reference: str) -> ResponseReturnValue:
    """Remove one of the case's links, with the reason (the audit log keeps what it said)."""
    values = {key: _posted(key) for key in ("link_id", "reason")}

    def act(session: Session, user: User, case: Case) -> str:
        unlink_cases(session=session, actor=user, case_id=_id(case), data=values)
        return "Link removed."

    return _handle(reference, "unlink", values, act)


def _posted(key: str) -> str:
    return request.form.get(key, "")[: forms.MAX_FIELD]


def _id(case: Case) -> int:
    assert case.id is not None
    return case.id


def _handle(
    reference: str,
    form: str,
    values: dict[str, Any],
    act: Callable[[Session, User, Case], str],
) -> ResponseReturnValue:
    """Run one service call; redirect on success, or draw the page again with the problem."""
    session, user = db(), actor()
    case = get_case_by_reference(session=session, actor=user, reference=reference, log_view=False)
    try:
        message = act(session, user, case)
    except (Invalid, Conflict, Forbidden) as exc:
        session.rollback()  # nothing of the refused change is shown, or kept
        case = get_case_by_reference(
            session=session, actor=actor(), reference=reference, log_view=False
        )
        return _render(session, case, form=form, values=values, problem=exc)
    flash(message, "success")
    return redirect(
        url_for("cases.case_page", reference=case.reference, _anchor=ANCHORS[form]), 303
    )


def _field(form: str, name: str) -> str:
    """The form field a service's error key belongs to (closing outcomes are nested)."""
    if form == "transition" and name.startswith("outcome.grades"):
        return "grades"
    if form == "transition" and name == "outcome.outcome":
        return "outcome"
    return name


def _render(
    session: Session,
    case: Case,
    *,
    form: str = "",
    values: dict[str, Any] | None = None,
    problem: DomainError | None = None,
) -> ResponseReturnValue:
    user = actor()
    page = build_page(session, actor=user, case=case)
    mark_page(case.marking, *(linked.case.marking for linked in page.links))
    errors: dict[str, str] = {}
    form_error = ""
    if problem is not None:
        shown = FORM_FIELDS.get(form, set())
        named = {_field(form, k): v for k, v in problem.fields.items()}
        errors = {k: plain(v) for k, v in named.items() if k in shown}
        if not errors or isinstance(problem, Conflict | Forbidden):
            form_error = problem.message
    values = dict(values or {})
    if form == "decision" and page.score is not None and page.assessment is not None:
        # What the page now shows: deciding again means deciding on it.
        values["score_version"] = page.score.score_version
        values["assessment_version"] = page.assessment.version
    status = problem.status if problem is not None else 200
    return render_template(
        "cases/case.html",
        page=page,
        form=form,
        form_anchor=ANCHORS.get(form, ""),
        values=values,
        errors=errors,
        form_error=form_error,
        stale=problem is not None and bool({"version", "assessment_version"} & set(problem.fields)),
        decision_defaults=decision_values(page, user),
        chair_options=[(p.id, p.display_name) for p in page.chairs],
        owner_options=[(p.id, p.display_name) for p in page.owners],
        partner_options=[(p.code, f"{p.name} ({p.kind})") for p in page.partners],
        marking_options=[(m.value, m.value) for m in MARKING_ORDER],
        grade_options=[(g.value, g.value.capitalize()) for g in OutcomeGrade],
        ASSET_ROWS=forms.ASSET_ROWS,
        asset_options=[
            (x.id, f"{x.name} ({x.weekly_capacity_hours} h a week)") for x in page.assets
        ],
        now_field=forms.utc_now_field(),
        FACTORS=FACTORS,
        SOURCE_GRADES=SOURCE_GRADES,
        INFO_GRADES=INFO_GRADES,
        HANDLING=HANDLING,
        GRADING_TEXT=GRADING_TEXT,
        OUTCOMES=OUTCOMES,
        LINK_TYPE_OPTIONS=LINK_TYPE_OPTIONS,
        STRAND_OPTIONS=STRANDS,
        LABELS=LABELS,
        KIND_LABELS=KIND_LABELS,
        user=user,
    ), status
