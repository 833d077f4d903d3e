"""The BCU pathway: ask for an asset with a live score preview; follow your BCU's requests."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlmodel import Session, col, select

from config.workflow import load_workflow
from tasking.models import ASSET_TYPES, Marking, Role, Strand, Theme
from tasking.services import requests as service
from tasking.services.cases import submit_asset_request
from tasking.services.errors import Conflict, Invalid
from tasking.services.questions import answer_information_request
from tasking.web.audit import reasons
from tasking.web.db import db
from tasking.web.exports import csv_response
from tasking.web.filters import band as band_name
from tasking.web.filters import mark_page, state_label
from tasking.web.requests.guide import FACTOR_KEYS, FACTORS, LABELS
from tasking.web.security import actor, roles

bp = Blueprint("requests", __name__, url_prefix="/requests")

FACT_FIELDS = (
    "title",
    "theme_id",
    "asset_type",
    "requested_hours",
    "opportunity_deadline",
    "justification",
    "summary",
)


def _form_values() -> dict[str, Any]:
    """What the officer typed, kept as typed (strings), to show back on any error."""
    values: dict[str, Any] = {name: request.form.get(name, "") for name in FACT_FIELDS}
    values.update({key: request.form.get(key, "") for key in FACTOR_KEYS})
    values["rationale"] = request.form.get("rationale", "")
    values["strands"] = request.form.getlist("strands")
    return values


def _assessment_input(values: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {key: values[key] for key in FACTOR_KEYS}
    data["T"] = values["T"] or "0"
    data["rationale"] = values["rationale"]
    return data


def _request_input(values: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {name: values[name] for name in FACT_FIELDS}
    data["opportunity_deadline"] = values["opportunity_deadline"] or None
    data["strands"] = values["strands"]
    data["assessment"] = _assessment_input(values)
    return data


def _field_errors(exc: Invalid) -> dict[str, str]:
    """Service field names (e.g. 'assessment.P') as form names, with messages in plain words."""
    errors: dict[str, str] = {}
    for name, reason in exc.fields.items():
        field = name.removeprefix("assessment.").split(".")[0]
        label = LABELS.get(field, field.replace("_", " ").capitalize())
        errors[field] = _plain(label, field, reason)
    return errors


def _plain(label: str, field: str, reason: str) -> str:
    lowered = reason.lower()
    if field in FACTOR_KEYS or field in ("theme_id", "asset_type"):
        return f"Choose the {label.lower()}"
    if field == "requested_hours":
        return "Enter the hours wanted as a whole number from 1 to 10,000"
    if field == "opportunity_deadline":
        return "Enter the deadline as a real date, for example 2027-03-31"
    if "at least" in lowered or "required" in lowered or "missing" in lowered:
        return f"Enter the {label.lower()}" + (f" ({reason})" if "at least" in lowered else "")
    return f"{label}: {reason}"


def _themes(session: Session) -> list[tuple[int, str]]:
    rows = session.exec(select(Theme).order_by(col(Theme.name))).all()
    return [(int(theme.id or 0), theme.name) for theme in rows]


def _render_form(
    session: Session,
    values: dict[str, Any],
    errors: dict[str, str],
    preview: Any = None,
    status: int = 200,
) -> ResponseReturnValue:
    mark_page(Marking.OFFICIAL_SENSITIVE.value)
    return render_template(
        "requests/new.html",
        values=values,
        errors=errors,
        labels=LABELS,
        factors=FACTORS,
        themes=_themes(session),
        asset_types=list(ASSET_TYPES.items()),
        strand_names=[s.name.capitalize() for s in Strand if s.name],
        preview=preview,
        today=date.today().isoformat(),
    ), status


def _preview(session: Session, values: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    try:
        return service.preview_assessment(session=session, data=_assessment_input(values)), {}
    except Invalid as exc:
        return None, _field_errors(exc)


@bp.context_processor
def _request_rules() -> dict[str, Any]:
    partners = {p.code: p.name for p in load_workflow().partner_agencies}
    return {
        "withdrawable": {state.value for state in service.WITHDRAWABLE},
        "withdrawing": False,
        "partner_name": lambda code: partners.get(code, code),
    }


@bp.route("/new")
@roles(Role.BCU_REQUESTER)
def new() -> ResponseReturnValue:
    """The asset request form, every MoRiLE input explained beside its field."""
    values: dict[str, Any] = {"strands": [], "T": "0"}
    return _render_form(db(), values, {})


@bp.route("", methods=["POST"])
@roles(Role.BCU_REQUESTER)
def submit() -> ResponseReturnValue:
    """Submit the request (scored inline, on the board when this commits), or preview its score."""
    session = db()
    values = _form_values()
    if request.form.get("action") == "preview":
        preview, errors = _preview(session, values)
        return _render_form(session, values, errors, preview, 422 if errors else 200)
    try:
        case = submit_asset_request(session=session, actor=actor(), data=_request_input(values))
    except Invalid as exc:
        preview, _ = _preview(session, values)
        return _render_form(session, values, _field_errors(exc), preview, 422)
    flash(f"Request {case.reference} submitted. It is on the SCTaC board now.", "success")
    return redirect(url_for("requests.detail", reference=case.reference), code=303)


@bp.route("/preview", methods=["POST"])
@roles(Role.BCU_REQUESTER)
def preview() -> ResponseReturnValue:
    """The score panel alone, for the form's live preview (sent by tasking.js)."""
    session = db()
    explanation, errors = _preview(session, _form_values())
    return render_template(
        "requests/_preview.html", preview=explanation, errors=errors, labels=LABELS
    )


@bp.route("")
@roles(Role.BCU_REQUESTER)
def index() -> ResponseReturnValue:
    """The officer's BCU's requests, newest first, with state, band and decision."""
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and len(page) < 7 else 1
    listing = service.list_bcu_requests(session=db(), actor=actor(), page=number)
    mark_page(*(line.marking for line in listing.lines))
    return render_template("requests/index.html", listing=listing)


@bp.route("/export.csv", methods=["GET", "POST"])
@roles(Role.BCU_REQUESTER)
def export() -> ResponseReturnValue:
    """The same list as CSV, the handling marking on its first line; logged as a disclosure.

    GET asks why the export is needed; the download is the POST of that reason, which
    the disclosure's audit row carries.
    """
    if request.method == "GET":
        return _export_reason({}, {})
    values = {k: request.form.get(k, "")[:600] for k in ("reason_code", "reason")}
    try:
        reasons.use(*reasons.form_reason())
    except Invalid as exc:
        return _export_reason(values, exc.fields)
    lines = service.export_bcu_requests(session=db(write=True), actor=actor())
    marking = mark_page(*(line.marking for line in lines))  # the highest of what it holds
    header = [
        "reference", "title", "state", "theme", "asset type", "hours wanted", "hours granted",
        "submitted", "band", "priority", "decision", "decided", "reason",
    ]  # fmt: skip
    rows = [
        [
            line.reference,
            line.title,
            state_label(line.state),
            line.theme,
            ASSET_TYPES.get(line.asset_type or "", line.asset_type or ""),
            line.requested_hours,
            line.allocated_hours,
            line.submitted_at.date().isoformat() if line.submitted_at else "",
            band_name(line.band) if line.band is not None else "",
            f"{line.priority:.1f}" if line.priority is not None else "",
            line.outcome or "",
            line.decided_at.isoformat() if line.decided_at else "",
            line.reason,
        ]
        for line in lines
    ]
    return csv_response("bcu-requests.csv", marking, [header, *rows])


def _export_reason(values: dict[str, str], errors: dict[str, str]) -> ResponseReturnValue:
    mark_page(Marking.OFFICIAL_SENSITIVE.value)
    page = render_template(
        "audit/reason.html",
        title="Why do you need this export?",
        lead=(
            "The CSV file holds your BCU's requests. Once downloaded it is outside this"
            " service: say why you need it. Your reason is kept in the audit log with the"
            " export."
        ),
        action=url_for("requests.export"),
        back=url_for("requests.index"),
        button="Download the CSV file",
        options=reasons.reason_options(),
        values=values,
        errors=errors,
    )
    return page, 422 if errors else 200


@bp.route("/<reference>")
@roles(Role.BCU_REQUESTER)
def detail(reference: str) -> ResponseReturnValue:
    """One of the BCU's requests: what was asked, its score, decisions and history."""
    found = service.get_bcu_request(session=db(write=True), actor=actor(), reference=reference)
    mark_page(found.case.marking)
    return render_template("requests/detail.html", found=found, values={}, errors={})


@bp.route("/<reference>/answer", methods=["POST"])
@roles(Role.BCU_REQUESTER)
def answer(reference: str) -> ResponseReturnValue:
    """Answer the centre's request for more information; the request goes back to triage."""
    session = db()
    found = service.get_bcu_request(
        session=session, actor=actor(), reference=reference, log_view=False
    )
    values = {"answer": request.form.get("answer", "")}
    version = request.form.get("version", "")
    try:
        answer_information_request(
            session=session,
            actor=actor(),
            case_id=int(found.case.id or 0),
            expected_version=_version(version),
            data=values,
        )
    except (Invalid, Conflict) as exc:
        errors = {"answer": _answer_problem(exc)}
        mark_page(found.case.marking)
        status = 409 if isinstance(exc, Conflict) else 422
        page = render_template("requests/detail.html", found=found, values=values, errors=errors)
        return page, status
    flash("Thank you: your answer was sent and the request is back with the SCTaC.", "success")
    return redirect(url_for("requests.detail", reference=reference), code=303)


@bp.route("/<reference>/withdraw", methods=["POST"])
@roles(Role.BCU_REQUESTER)
def withdraw(reference: str) -> ResponseReturnValue:
    """Withdraw a request the meeting has not decided; it closes with the officer's reason."""
    session = db()
    values = {"reason": request.form.get("reason", "")}
    version = request.form.get("version", "")
    try:
        service.withdraw_request(
            session=session,
            actor=actor(),
            reference=reference,
            expected_version=_version(version),
            reason=values["reason"],
        )
    except (Invalid, Conflict) as exc:
        found = service.get_bcu_request(
            session=session, actor=actor(), reference=reference, log_view=False
        )
        mark_page(found.case.marking)
        errors = {
            "reason": "Say why you are withdrawing it (3 to 200 characters)"
            if "reason" in exc.fields
            else exc.message
        }
        status = 409 if isinstance(exc, Conflict) else 422
        page = render_template(
            "requests/detail.html", found=found, values=values, errors=errors, withdrawing=True
        )
        return page, status
    flash(f"Request {reference} was withdrawn.", "success")
    return redirect(url_for("requests.detail", reference=reference), code=303)


def _version(text: str) -> int:
    """The version a form was read at; anything else is simply stale (-1), never a crash
    (a 100,000-digit or non-ASCII "number" made int() raise)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else -1


def _answer_problem(exc: Invalid | Conflict) -> str:
    if isinstance(exc, Conflict):
        return "The request changed while you were writing: " + exc.message
    return "Enter your answer (at least 3 characters)"
