"""Asking why: a restricted case is viewed, or an export taken, only with a reason given.

The reason (a code from `audit.REASONS` and text) is asked for on a small form
that works without JavaScript. For a case page it is kept in the signed
session cookie for `GRANT_MINUTES`, so the forms of the page (which come back
to it) do not ask again; every view in that time is logged with it. An export
asks every time: the reason goes with the download's own request.
"""

from __future__ import annotations

import time
from typing import Any

from flask import g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from tasking.models import MARKING_ORDER, Case, Marking
from tasking.services.audit import REASONS, check_reason
from tasking.services.errors import Invalid
from tasking.web.filters import mark_page

GRANT_MINUTES = 30
MAX_GRANTS = 8
_KEY = "view_reasons"
# Viewing a case marked above this asks for a reason first.
FREELY_VIEWED = Marking.OFFICIAL_SENSITIVE


def restricted(marking: str) -> bool:
    """True for a marking above OFFICIAL-SENSITIVE (SECRET)."""
    try:
        return MARKING_ORDER.index(Marking(marking)) > MARKING_ORDER.index(FREELY_VIEWED)
    except ValueError:
        return True  # an unknown marking is treated as restricted (fail closed)


def reason_options() -> list[tuple[str, str, str]]:
    """The reasons as radio options."""
    return [(code, words, "") for code, words in REASONS]


def form_reason() -> tuple[str, str]:
    """The reason posted with a form (Invalid if none, or "other" without words)."""
    return check_reason(request.form.get("reason_code", ""), request.form.get("reason", ""))


def granted(reference: str) -> tuple[str, str] | None:
    """The reason this browser gave for `reference` in the last GRANT_MINUTES, if any."""
    grants: dict[str, Any] = session.get(_KEY) or {}
    found = grants.get(reference)
    if not isinstance(found, list) or len(found) != 3 or found[2] < time.time():
        return None
    return str(found[0]), str(found[1])


def remember(reference: str, code: str, reason: str) -> None:
    """Keep a reason for `reference` for GRANT_MINUTES (a few cases at most)."""
    now = time.time()
    grants: dict[str, Any] = {
        ref: value
        for ref, value in (session.get(_KEY) or {}).items()
        if isinstance(value, list) and len(value) == 3 and value[2] >= now and ref != reference
    }
    grants[reference] = [code, reason, now + GRANT_MINUTES * 60]
    while len(grants) > MAX_GRANTS:
        grants.pop(min(grants, key=lambda ref: grants[ref][2]))
    session[_KEY] = grants


def prompt(
    case: Case, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> ResponseReturnValue:
    """The form asking why the restricted case is to be viewed (nothing of it shown yet)."""
    mark_page(case.marking)
    status = 422 if errors else 200
    return render_template(
        "audit/reason.html",
        title=f"Why do you need {case.reference}?",
        lead=(
            f"{case.reference} is marked {case.marking}. Say why you need to see it before it"
            " is shown. Your reason is kept in the audit log with this and every view of it"
            f" in the next {GRANT_MINUTES} minutes."
        ),
        action=url_for("cases.view_reason", reference=case.reference),
        back=url_for("board.board") if "board.board" in _views() else "",
        button="Show the case",
        options=reason_options(),
        values=values or {},
        errors=errors or {},
    ), status


def take(case: Case) -> ResponseReturnValue:
    """The posted reason for a restricted case: kept, then on to the page; or asked again."""
    values = {k: request.form.get(k, "")[:600] for k in ("reason_code", "reason")}
    try:
        code, reason = form_reason()
    except Invalid as exc:
        return prompt(case, values=values, errors=exc.fields)
    remember(case.reference, code, reason)
    return redirect(url_for("cases.case_page", reference=case.reference), 303)


def use(code: str, reason: str) -> None:
    """The reason this request's audit rows carry (tasking.web.db.request_context)."""
    g.audit_reason = (code, reason)


def _views() -> dict[str, Any]:
    from flask import current_app

    return current_app.view_functions
