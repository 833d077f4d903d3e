"""Auditor pages (docs/reliability.md U3): who consulted a case and why, what one user saw
in a period, every disclosure, each as a page and as CSV; and the state of the hash chain.

Only the auditor role may use them, and each use is itself logged: a page as a
consultation, a CSV file as a disclosure with the reason asked for first (the
download is the POST of a small reason form under the table).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from sqlmodel import Session, select

from tasking.models import Case, Marking, Role, User
from tasking.services import audit
from tasking.services.errors import Invalid, NotFound
from tasking.web.audit import reasons
from tasking.web.db import db
from tasking.web.exports import csv_response
from tasking.web.filters import highest_marking, mark_page
from tasking.web.security import actor, roles

bp = Blueprint("audit", __name__, url_prefix="/audit")

DEFAULT_DAYS = 30
CSV_HEADER = [
    "seq", "when (UTC)", "who", "role", "category", "action", "record", "record marking",
    "reason", "reason details", "origin", "address", "session or token", "user agent", "detail",
]  # fmt: skip


@bp.get("")
@roles(Role.AUDITOR)
def index() -> ResponseReturnValue:
    """The auditor's questions, and whether the chain was found whole."""
    session = db(write=True)  # this view is logged
    user = actor()
    state = audit.chain_state(session=session, actor=user)
    _log(session, user, "audit.index", "audit_event", None, {})
    mark_page(Marking.OFFICIAL_SENSITIVE.value)
    start, end = _default_period()
    return render_template(
        "audit/index.html",
        state=state,
        values={"start": start.isoformat(), "end": end.isoformat()},
        errors={},
        reason_label=audit.reason_label,
    )


@bp.route("/case", methods=["GET", "POST"])
@roles(Role.AUDITOR)
def case() -> ResponseReturnValue:
    """Who consulted (or changed, or disclosed) one case, when, from where and why."""
    values = {"reference": _arg("reference", 32)}

    def ask(session: Session, user: User) -> tuple[audit.Trail, dict[str, Any]]:
        if not values["reference"]:
            raise Invalid("reference: required", fields={"reference": "Enter a case reference"})
        _within(values, "reference", 32, "case reference")
        trail = audit.case_trail(session=session, actor=user, reference=values["reference"])
        found = session.exec(select(Case.id).where(Case.reference == values["reference"])).first()
        return trail, {"entity": ("case", found), "reference": values["reference"]}

    return _question("case", values, ask)


@bp.route("/user", methods=["GET", "POST"])
@roles(Role.AUDITOR)
def user_seen() -> ResponseReturnValue:
    """What one user saw (consultations and disclosures) in a period: for a subject access
    request or a complaint."""
    values = {"username": _arg("username", 64), **_period_values()}

    def ask(session: Session, user: User) -> tuple[audit.Trail, dict[str, Any]]:
        start, end = _period(values, require_user=True)
        _within(values, "username", 64, "username")
        trail = audit.user_trail(
            session=session, actor=user, username=values["username"], start=start, end=end
        )
        found = session.exec(select(User.id).where(User.username == values["username"])).first()
        return trail, {"entity": ("user", found), "start": values["start"], "end": values["end"]}

    return _question("user", values, ask)


@bp.route("/disclosures", methods=["GET", "POST"])
@roles(Role.AUDITOR)
def disclosures() -> ResponseReturnValue:
    """Every disclosure (CSV exports, API lists, audit exports) in a period."""
    values = _period_values()

    def ask(session: Session, user: User) -> tuple[audit.Trail, dict[str, Any]]:
        start, end = _period(values)
        trail = audit.disclosure_trail(session=session, actor=user, start=start, end=end)
        about = {"entity": ("audit_event", None), "start": values["start"], "end": values["end"]}
        return trail, about

    return _question("disclosures", values, ask)


def _question(
    name: str,
    values: dict[str, str],
    ask: Callable[[Session, User], tuple[audit.Trail, dict[str, Any]]],
) -> ResponseReturnValue:
    """Answer a question as a page (GET) or as CSV after a reason (POST); log either."""
    session, user = db(write=True), actor()
    reason_values = {k: request.form.get(k, "")[:600] for k in ("reason_code", "reason")}
    try:
        trail, about = ask(session, user)
    except (Invalid, NotFound) as exc:
        errors = exc.fields or {next(iter(values)): exc.message}
        return _page(name, values, None, errors, {}, 422 if isinstance(exc, Invalid) else 404)
    kind, entity_id = about.pop("entity")
    detail = {**about, "rows": len(trail.rows)}
    if request.method == "GET":
        _log(session, user, f"audit.{name}", kind, entity_id, detail)
        return _page(name, values, trail, {}, {}, 200)
    try:
        reasons.use(*reasons.form_reason())
    except Invalid as exc:
        _log(session, user, f"audit.{name}", kind, entity_id, detail)
        return _page(name, values, trail, {}, exc.fields, 422, reason_values)
    record = audit.record_event(
        session=session, actor=user, category="disclosure", action=f"audit.{name}.csv",
        entity_type=kind, entity_id=entity_id, detail={**detail, "format": "csv"},
    )  # fmt: skip
    return _csv(name, trail, record)


def _page(
    name: str,
    values: dict[str, str],
    trail: audit.Trail | None,
    errors: dict[str, str],
    reason_errors: dict[str, str],
    status: int,
    reason_values: dict[str, str] | None = None,
) -> ResponseReturnValue:
    mark_page(*(trail.markings if trail else []))
    return render_template(
        "audit/trail.html",
        name=name,
        values=values,
        trail=trail,
        errors=errors,
        reason_errors=reason_errors,
        reason_values=reason_values or {},
        options=reasons.reason_options(),
        reason_label=audit.reason_label,
        max_rows=audit.MAX_ROWS,
    ), status


def _csv(name: str, trail: audit.Trail, record: Any) -> Response:
    summary = (
        f"{trail.title}; exported by audit row {record.seq} on"
        f" {record.at:%Y-%m-%d %H:%M} UTC; {len(trail.rows)} rows"
        + ("; cut at the first rows: narrow the question" if trail.truncated else "")
    )
    rows = [
        [
            row.seq, row.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), row.who,
            row.role, row.category, row.action, row.record, row.marking,
            audit.reason_label(row.reason_code) if row.reason_code else "", row.reason,
            row.origin, row.address, row.credential, row.user_agent, row.detail,
        ]
        for row in trail.rows
    ]  # fmt: skip
    marking = highest_marking(*trail.markings)
    return csv_response(f"audit-{name}.csv", marking, [[summary], CSV_HEADER, *rows])


def _log(
    session: Session,
    user: User,
    action: str,
    kind: str,
    entity_id: int | None,
    detail: dict[str, Any],
) -> None:
    audit.record_event(
        session=session, actor=user, category="consultation", action=action,
        entity_type=kind, entity_id=entity_id, detail=detail,
    )  # fmt: skip


def _arg(name: str, limit: int) -> str:
    """A form value, kept one character past its limit so that `_within` can refuse it."""
    return (request.values.get(name) or "").strip()[: limit + 1]


def _within(values: dict[str, str], name: str, limit: int, label: str) -> None:
    """Refuse an over-long value by name (never cut it and answer about something else)."""
    if len(values[name]) > limit:
        raise Invalid(
            f"{name}: at most {limit} characters",
            fields={name: f"Enter a {label} of at most {limit} characters"},
        )


def _default_period() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=DEFAULT_DAYS), today


def _period_values() -> dict[str, str]:
    start, end = _default_period()
    return {
        "start": _arg("start", 10) or start.isoformat(),
        "end": _arg("end", 10) or end.isoformat(),
    }


def _period(values: dict[str, str], *, require_user: bool = False) -> tuple[datetime, datetime]:
    """From the start of the first day to the end of the last (UTC); Invalid names the field."""
    errors: dict[str, str] = {}
    if require_user and not values.get("username"):
        errors["username"] = "Enter a username"
    days: dict[str, date] = {}
    for key in ("start", "end"):
        try:
            days[key] = date.fromisoformat(values[key])
        except ValueError:
            errors[key] = "Enter a real date, for example 2026-12-01"
    if not errors and days["end"] < days["start"]:
        errors["end"] = "The last day must be on or after the first"
    if errors:
        raise Invalid("check the question", fields=errors)
    start = datetime.combine(days["start"], datetime.min.time(), UTC)
    end = datetime.combine(days["end"] + timedelta(days=1), datetime.min.time(), UTC)
    return start, end
