"""The coordinators' ranked board (`GET /board`): filters, keyset pages, counts, risk matrix.

The view reads the query string, asks the board service for one page, its
counts and the rank movement since the last nightly snapshot, and renders.
Bad parameters never fail the page: the board is drawn without them, with
an error summary naming each one (422).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, g, render_template, request, url_for
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
from tasking.services.board import (
    HARM_BANDS,
    LIKELIHOODS,
    BoardFilter,
    BoardPage,
    board_counts,
    board_page,
    rank_movement,
)
from tasking.services.errors import Invalid
from tasking.services.scores import INPUT_SHIFTS, engine_model
from tasking.web.board.heatmap import harm_band_label, risk_matrix_svg
from tasking.web.db import db
from tasking.web.filters import mark_page
from tasking.web.security import BOARD_ROLES, actor, roles

bp = Blueprint("board", __name__)

PAGE_SIZE = 50
PINNED = 10
FILTER_PARAMS = (
    "hub_id", "bcu_id", "theme_id", "asset_type", "band", "state", "kind", "harm", "likelihood",
)  # fmt: skip
LABELS = {
    "hub_id": "Hub", "bcu_id": "Requesting BCU", "theme_id": "Theme", "asset_type": "Asset type",
    "band": "Band", "state": "Status", "kind": "Type", "harm": "Total harm",
    "likelihood": "Likelihood", "cursor": "Page", "before": "Page",
}  # fmt: skip
MAX_PARAM = 512
# How long a page waits for its counts before it is drawn without them (a million
# cases take seconds to count; a small board takes milliseconds).
COUNTS_WAIT_S = 0.05
_MARK = "REFERENCE-PLACEHOLDER"
# 4P strands by bit set, named once (the shared filter iterates a flag enum per call).
STRAND_NAMES = {bits: ", ".join(Strand(bits).names()) or "-" for bits in range(16)}
KIND_NAMES = {1: "Operation", 2: "Intelligence case", 3: "BCU asset request"}


@bp.route("/board")
@roles(BOARD_ROLES)
def board() -> tuple[str, int]:
    """The ranked board of open cases, as docs/domain.md lists it, for the current filters."""
    user = actor()
    session = db()
    raw = {
        name: request.args.get(name, "")[:MAX_PARAM]
        for name in (*FILTER_PARAMS, "cursor", "before")
    }
    errors: dict[str, str] = {}
    filters = _filters(raw, errors)
    page = _page(session, user, filters, raw, errors)
    wait = current_app.config.get("TASKING_BOARD_COUNTS_WAIT_S", COUNTS_WAIT_S)
    counts = board_counts(session=session, actor=user, filters=filters, wait_s=wait)
    movement = rank_movement(session=session, actor=user, page=page)
    pinned = _pinned(session, user, filters, page)
    shown = [*page.rows, *(pinned.rows if pinned else [])]
    mark_page(*(row.marking for row in shown))
    context = _lookups(session, shown)
    params = filters.to_params()
    options = _options(session)
    status = 422 if errors else 200
    return render_template(
        "board/board.html",
        page=page,
        pinned=pinned,
        counts=counts,
        movement=movement,
        filters=filters,
        params=params,
        values={**params, **{k: v for k, v in raw.items() if k in errors}},
        errors=errors,
        labels=LABELS,
        today=datetime.now(UTC).date(),
        matrix_svg=risk_matrix_svg(counts.matrix, filters, lambda f: board_url(f.to_params()))
        if counts
        else None,
        harm_bands=HARM_BANDS,
        likelihoods=LIKELIHOODS,
        board_url=board_url,
        case_url=case_url,
        unpack=unpack_inputs,
        options=options,
        theme_names=options["theme_names"],
        kind_names=KIND_NAMES,
        strand_names=STRAND_NAMES,
        unit_codes=options["unit_codes"],
        harm_options=[(str(i), harm_band_label(i)) for i in range(len(HARM_BANDS))],
        likelihood_options=[(str(level), str(level)) for level in LIKELIHOODS],
        all_cells_url=board_url(filters.with_(harm_band=None, likelihood=None).to_params()),
        **context,
    ), status


def _filters(raw: dict[str, str], errors: dict[str, str]) -> BoardFilter:
    """The valid filters; each bad one is named in `errors` and left out."""
    try:
        return BoardFilter.from_params(raw)
    except Invalid as exc:
        errors.update(exc.fields)
        good = {k: v for k, v in raw.items() if k not in exc.fields}
        return BoardFilter.from_params(good)


def _page(
    session: Session, user: User, filters: BoardFilter, raw: dict[str, str], errors: dict[str, str]
) -> BoardPage:
    """The asked-for page; the first page when its cursor is malformed."""
    for name in ("cursor", "before"):
        if raw[name]:
            try:
                return board_page(
                    session=session, actor=user, filters=filters, limit=PAGE_SIZE,
                    **{name: raw[name]},
                )  # fmt: skip
            except Invalid:
                errors[name] = "the page link is not valid; showing the first page"
            break
    return board_page(session=session, actor=user, filters=filters, limit=PAGE_SIZE)


def _pinned(
    session: Session, user: User, filters: BoardFilter, page: BoardPage
) -> BoardPage | None:
    """Threat-to-life cases of this board, kept in sight above every later page."""
    if page.prev_cursor is None or filters.band not in (None, 0):
        return None  # the first page starts with them anyway
    pinned = board_page(session=session, actor=user, filters=filters.with_(band=0), limit=PINNED)
    return pinned if pinned.rows else None


def _lookups(session: Session, rows: list[Any]) -> dict[str, Any]:
    """Names for the ids on the page: themes, units, leads, and the current model's grading."""
    lead_ids = {row.lead_id for row in rows if row.lead_id is not None}
    leads = {}
    if lead_ids:
        leads = {
            u.id: u.display_name
            for u in session.exec(select(User).where(col(User.id).in_(lead_ids))).all()
        }
    version = session.exec(select(ModelVersion).where(col(ModelVersion.is_current))).first()
    grading = engine_model(version).grading if version is not None else None
    return {"leads": leads, "grading": grading}


def _options(session: Session) -> dict[str, Any]:
    """Choices for the filter form (small tables, read whole)."""
    units = session.exec(select(Unit).order_by(col(Unit.name))).all()
    themes = session.exec(select(Theme).order_by(col(Theme.name))).all()
    return {
        "hubs": [(u.id, u.name) for u in units if u.kind == UnitKind.HUB],
        "bcus": [(u.id, u.name) for u in units if u.kind == UnitKind.BCU],
        "unit_names": {u.id: u.name for u in units},
        "unit_codes": {u.id: u.code for u in units},
        "themes": [(t.id, t.name) for t in themes],
        "theme_names": {t.id: t.name for t in themes},
        "states": [
            (s.value, s.value.replace("_", " ").capitalize()) for s in State if s in OPEN_STATES
        ],
        "kinds": [(k.name.lower(), KIND_NAMES[int(k)]) for k in CaseKind],
        "bands": [(b, b) for b in scoring.BANDS],
    }


def board_url(params: dict[str, str], **extra: str | None) -> str:
    """The board's address with these filters (and a page cursor)."""
    args = {**params, **{k: v for k, v in extra.items() if v}}
    base = url_for("board.board")
    return f"{base}?{urlencode(args)}" if args else base


def case_url(reference: str) -> str:
    """A case page's address (the cases blueprint may not be registered yet).

    One `url_for` per request, then plain string work: building a URL per row
    took longer than drawing the row.
    """
    base: str | None = g.get("board_case_base")
    if base is None:
        base = "/cases/" + _MARK
        if "cases.case_page" in current_app.view_functions:
            base = url_for("cases.case_page", reference=_MARK)
        g.board_case_base = base
    return base.replace(_MARK, quote(reference, safe=""))


def unpack_inputs(packed: int) -> dict[str, int]:
    """Factor codes of a row from its packed inputs."""
    return {key: (int(packed) >> shift) & 7 for key, shift in INPUT_SHIFTS.items()}
