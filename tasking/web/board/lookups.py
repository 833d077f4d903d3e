"""What a board page names besides its cases, read once and kept a few seconds per process.

Units, themes and the current model's grading change only when an administrator
changes them, and lead names when a user's name changes; reading them again
for every page took a millisecond and a half of each board page. Each web
process keeps them for REFRESH_S seconds (a plain time to live, no validity
query): an administrator's change shows on the boards within five seconds.
The copy belongs to the application object, so every app (and every test)
starts with its own. Names are kept escaped for lines.py as well as plain for
the form.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from markupsafe import escape
from sqlmodel import Session, col, select

import scoring
from tasking.models import (
    OPEN_STATES,
    CaseKind,
    ModelVersion,
    State,
    Strand,
    Theme,
    Unit,
    UnitKind,
    User,
)
from tasking.services.scores import engine_model

REFRESH_S = 5.0
MAX_DRAWN = 256
_EXTENSION = "tasking_board_lookups"
KIND_NAMES = {1: "Operation", 2: "Intelligence case", 3: "BCU asset request"}
# 4P strands by bit set, named once (the shared filter iterates a flag enum per call).
STRAND_NAMES = {bits: ", ".join(Strand(bits).names()) or "-" for bits in range(16)}
_STATIC_OPTIONS: dict[str, Any] = {
    "states": [
        (s.value, s.value.replace("_", " ").capitalize()) for s in State if s in OPEN_STATES
    ],
    "kinds": [(k.name.lower(), KIND_NAMES[int(k)]) for k in CaseKind],
    "bands": [(b, b) for b in scoring.BANDS],
}
ESCAPED_KINDS = {key: str(escape(name)) for key, name in KIND_NAMES.items()}
ESCAPED_STRANDS = {key: str(escape(name)) for key, name in STRAND_NAMES.items()}


@dataclass(frozen=True)
class Reference:
    """The organisation's names and the filter form's choices, as read at `loaded_at`."""

    loaded_at: float
    options: dict[str, Any]  # choices of the filter form: (value, text) lists
    theme_names: dict[int, str]  # escaped
    unit_codes: dict[int, str]  # escaped
    grading: tuple[tuple[str, ...], ...] | None  # the current model's, escaped


class BoardLookups:
    """One process's copy; stale after `refresh_s` seconds."""

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self.refresh_s = refresh_s
        self._reference: Reference | None = None
        self._leads: dict[int, str] = {}
        self._leads_at = 0.0
        # Drawn risk matrices by (counted at, counts, filters): counts are kept 30 s.
        self.drawn: dict[tuple[Any, ...], Any] = {}

    def reference(self, session: Session, now: float | None = None) -> Reference:
        """Units, themes and grading: the kept copy, or a fresh one when it is too old."""
        clock = time.monotonic() if now is None else now
        kept = self._reference
        if kept is None or clock - kept.loaded_at >= self.refresh_s:
            kept = self._reference = _read_reference(session, clock)
        return kept

    def leads(
        self, session: Session, ids: Iterable[int | None], now: float | None = None
    ) -> dict[int, str]:
        """Display names (escaped) of these users, reading only those not kept."""
        clock = time.monotonic() if now is None else now
        if clock - self._leads_at >= self.refresh_s:
            self._leads, self._leads_at = {}, clock
        known = self._leads
        missing = {i for i in ids if i is not None and i not in known}
        if missing:
            query = select(col(User.id), col(User.display_name)).where(col(User.id).in_(missing))
            for user_id, name in session.exec(query).all():
                known[user_id or 0] = str(escape(name))
        return known

    def remember(self, key: tuple[Any, ...], drawn: Any) -> None:
        """Keep a drawn matrix (the oldest are forgotten all at once past MAX_DRAWN)."""
        if len(self.drawn) >= MAX_DRAWN:
            self.drawn.clear()
        self.drawn[key] = drawn


def board_lookups() -> BoardLookups:
    """This application's copy (made on first use)."""
    found: BoardLookups | None = current_app.extensions.get(_EXTENSION)
    if found is None:
        found = current_app.extensions[_EXTENSION] = BoardLookups()
    return found


def _read_reference(session: Session, clock: float) -> Reference:
    units = session.exec(select(Unit).order_by(col(Unit.name))).all()
    themes = session.exec(select(Theme).order_by(col(Theme.name))).all()
    version = session.exec(select(ModelVersion).where(col(ModelVersion.is_current))).first()
    grading = None
    if version is not None:
        grading = tuple(
            tuple(str(escape(text)) for text in row) for row in engine_model(version).grading
        )
    options = {
        "hubs": [(u.id, u.name) for u in units if u.kind == UnitKind.HUB],
        "bcus": [(u.id, u.name) for u in units if u.kind == UnitKind.BCU],
        "themes": [(t.id, t.name) for t in themes],
        **_STATIC_OPTIONS,
    }
    return Reference(
        loaded_at=clock,
        options=options,
        theme_names={int(t.id or 0): str(escape(t.name)) for t in themes},
        unit_codes={int(u.id or 0): str(escape(u.code)) for u in units},
        grading=grading,
    )
