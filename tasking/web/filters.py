"""Jinja filters and globals: how numbers, dates, bands and states read on a page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app, g
from flask_login import current_user

import scoring
from tasking.models import ASSET_TYPES, CaseKind, Marking, Role, State, Strand

BAND_LABELS = {0: "P0", 1: "P1", 2: "P2", 3: "P3"}
POSITION_GRADES = ("Weak", "Adequate", "Strong")
CONFIDENCE = {0: "L", 1: "M", 2: "H"}
ROLE_LABELS = {
    Role.BCU_REQUESTER: "BCU requesting officer",
    Role.COORDINATOR: "SCTaC coordinator",
    Role.ANALYST: "Analyst",
    Role.CHAIR: "Tasking meeting chair",
    Role.ASSET_OWNER: "Asset owner",
    Role.AUDITOR: "Auditor",
    Role.ADMIN: "Administrator",
}
# Markings from lowest to highest: a page carries the highest of what it shows.
MARKING_ORDER = (Marking.OFFICIAL, Marking.OFFICIAL_SENSITIVE, Marking.SECRET)


def band(code: int | None) -> str:
    """A band code as its name, e.g. 1 -> 'P1'."""
    return BAND_LABELS.get(int(code), "?") if code is not None else "-"


def number(value: float | None, places: int = 1) -> str:
    """A score rounded for display only (scores are stored unrounded)."""
    return "-" if value is None else f"{value:.{places}f}"


def day(value: date | datetime | None) -> str:
    """A date as '4 Dec 2026'."""
    if value is None:
        return "-"
    return f"{value.day} {value:%b %Y}"


def moment(value: datetime | None) -> str:
    """A UTC time as '4 Dec 2026 07:05 UTC'."""
    if value is None:
        return "-"
    return f"{value.day} {value:%b %Y %H:%M} UTC"


def state_label(value: str | None) -> str:
    """A state as words, e.g. 'awaiting_meeting' -> 'Awaiting meeting'."""
    if not value:
        return "-"
    return value.replace("_", " ").capitalize()


def kind_label(value: int | None) -> str:
    """A case kind as words."""
    if value is None:
        return "-"
    label = CaseKind(int(value)).label
    return label[:1].upper() + label[1:]  # 'BCU asset request' keeps its capitals


def strand_names(value: int | None) -> str:
    """4P strands as 'Pursue, Protect'."""
    return ", ".join(Strand(int(value or 0)).names()) or "-"


def asset_label(value: str | None) -> str:
    """An asset type code as its name."""
    return ASSET_TYPES.get(value or "", value or "-")


def grade_label(value: int | None) -> str:
    """A position grade code as its name."""
    return POSITION_GRADES[int(value)] if value is not None else "-"


def highest_marking(*markings: str | None) -> str:
    """The highest handling marking among those given (OFFICIAL-SENSITIVE at least)."""
    best = MARKING_ORDER.index(Marking.OFFICIAL_SENSITIVE)
    for value in markings:
        if value in MARKING_ORDER:
            best = max(best, MARKING_ORDER.index(Marking(value)))
    return MARKING_ORDER[best].value


# Main navigation: (endpoint, label, roles); shown when the page exists and the role fits.
NAV = (
    ("board.board", "Board", {Role.COORDINATOR, Role.ANALYST, Role.CHAIR, Role.ASSET_OWNER}),
    ("requests.index", "My BCU's requests", {Role.BCU_REQUESTER}),
    ("requests.new", "New request", {Role.BCU_REQUESTER}),
    ("admin.index", "Administration", {Role.ADMIN}),
    ("audit.index", "Audit", {Role.AUDITOR}),
    ("reviews.index", "Reviews", {Role.COORDINATOR, Role.AUDITOR}),
    ("account.tokens", "API tokens", set(Role)),
)


def _globals() -> dict[str, Any]:
    user = current_user.row if current_user.is_authenticated else None
    views = current_app.view_functions
    nav = [
        (endpoint, label)
        for endpoint, label, allowed in NAV
        if user is not None and endpoint in views and user.role in allowed
    ]
    return {
        "nav_links": nav,
        "signed_in": user,
        "role_label": ROLE_LABELS.get(Role(user.role), user.role) if user else "",
        "page_marking": g.get("page_marking", Marking.OFFICIAL_SENSITIVE.value),
        "BANDS": scoring.BANDS,
        "STATES": [s.value for s in State],
        "ASSET_TYPES": ASSET_TYPES,
    }


def register(app: Flask) -> None:
    """Add the filters and per-request globals to the app's Jinja environment."""
    named: dict[str, Callable[..., str]] = {
        "band": band,
        "number": number,
        "day": day,
        "moment": moment,
        "state_label": state_label,
        "kind_label": kind_label,
        "strands": strand_names,
        "asset_label": asset_label,
        "grade_label": grade_label,
    }
    for name, func in named.items():
        app.add_template_filter(func, name)
    app.add_template_global(highest_marking, "highest_marking")
    app.jinja_env.globals["CONFIDENCE"] = CONFIDENCE
    app.context_processor(_globals)


def mark_page(*markings: str | None) -> str:
    """Set this page's handling marking to the highest of what it shows; returns it."""
    marking = highest_marking(g.get("page_marking"), *markings)
    g.page_marking = marking
    return marking
