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
from sqlmodel import Session

from tasking.models import User
from tasking.services.audit import record_event
from tasking.services.board import (
    HARM_BANDS,
    LIKELIHOODS,
    BoardCounts,
    BoardFilter,
    BoardPage,
    board_counts,
    board_page,
    rank_movement,
)
from tasking.services.errors import Invalid
from tasking.web.board.heatmap import harm_band_label, risk_matrix_svg
from tasking.web.board.lines import Names, board_lines
from tasking.web.board.lookups import (
    ESCAPED_KINDS,
    ESCAPED_STRANDS,
    BoardLookups,
    board_lookups,
)
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
HARM_OPTIONS = [(str(i), harm_band_label(i)) for i in range(len(HARM_BANDS))]
LIKELIHOOD_OPTIONS = [(str(level), str(level)) for level in LIKELIHOODS]


@bp.route("/board")
@roles(BOARD_ROLES)
def board() -> tuple[str, int]:
    """The ranked board of open cases, as docs/domain.md lists it, for the current filters.

    A page that shows cases is a consultation (DPA 2018 s.62): it is logged once
    drawn, in a short write transaction of its own (the reads end first).
    """
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
    marking = mark_page(*(row.marking for row in shown))
    lookups = board_lookups()
    reference = lookups.reference(session)
    names = Names(
        themes=reference.theme_names,
        unit_codes=reference.unit_codes,
        kinds=ESCAPED_KINDS,
        strands=ESCAPED_STRANDS,
        leads=lookups.leads(session, (row.lead_id for row in page.rows)),
        grading=reference.grading,
    )
    params = filters.to_params()
    html = render_template(
        "board/board.html",
        page=page,
        lines=board_lines(
            page.rows,
            movement=movement,
            names=names,
            today=datetime.now(UTC).date(),
            case_url=case_url,
        ),
        pinned=pinned,
        counts=counts,
        movement=movement,
        filters=filters,
        params=params,
        values={**params, **{k: v for k, v in raw.items() if k in errors}},
        errors=errors,
        labels=LABELS,
        matrix_svg=_matrix(lookups, counts, filters),
        board_url=board_url,
        case_url=case_url,
        options=reference.options,
        harm_options=HARM_OPTIONS,
        likelihood_options=LIKELIHOOD_OPTIONS,
        all_cells_url=board_url(filters.with_(harm_band=None, likelihood=None).to_params()),
    )
    if shown:
        _log_view(user, page, params, [row.reference for row in shown], marking)
    return html, 422 if errors else 200


def _log_view(
    user: User, page: BoardPage, params: dict[str, str], references: list[str], marking: str
) -> None:
    """One consultation row: the filters, the ranks and the references shown (pinned last)."""
    record_event(
        session=db(write=True),  # the page's reads end here; the writer holds only this row
        actor=user,
        category="consultation",
        action="board.view",
        entity_type="case",
        entity_id=None,
        detail={
            "filters": params,
            "ranks": f"{page.rows[0].rank}-{page.rows[-1].rank}" if page.rows else "",
            "rows": len(references),
            "references": references,
            "marking": marking,
        },
    )


def _matrix(lookups: BoardLookups, counts: BoardCounts | None, filters: BoardFilter) -> Any:
    """The risk matrix SVG, drawn once per counts and filter (counts are kept 30 s)."""
    if counts is None:
        return None
    key = (counts.counted_at, tuple(map(tuple, counts.matrix)), filters, request.script_root)
    drawn = lookups.drawn.get(key)
    if drawn is None:
        drawn = risk_matrix_svg(counts.matrix, filters, lambda f: board_url(f.to_params()))
        lookups.remember(key, drawn)
    return drawn


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
