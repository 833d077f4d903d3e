"""Ranked boards over the API: the same filters and keyset cursors as the web board."""

from __future__ import annotations

from typing import Any

import scoring
from tasking.models import CaseKind, Strand
from tasking.services.board import BoardFilter, BoardRow, band_counts, board_page
from tasking.web.api import bp
from tasking.web.api.schemas import BoardOut, BoardQuery, BoardRowOut
from tasking.web.api.spec import operation
from tasking.web.audit.disclose import disclosed
from tasking.web.db import db
from tasking.web.filters import mark_page
from tasking.web.security import BOARD_ROLES, actor


def kind_name(kind: int) -> str:
    """A case kind code as its API name: operation, intelligence or request."""
    return CaseKind(kind).name.lower()


def row_out(row: BoardRow) -> BoardRowOut:
    """A board line as the API shows it (codes as names)."""
    mark_page(row.marking)  # the answer's X-Handling-Marking
    return BoardRowOut(
        rank=row.rank,
        id=row.case_id,
        reference=row.reference,
        codename=row.codename,
        title=row.title,
        kind=kind_name(row.kind),
        state=row.state,
        theme_id=row.theme_id,
        strands=Strand(row.strands).names(),
        bcu_id=row.bcu_id,
        hub_id=row.hub_id,
        asset_type=row.asset_type,
        requested_hours=row.requested_hours,
        allocated_hours=row.allocated_hours,
        opportunity_deadline=row.opportunity_deadline,
        next_review=row.next_review,
        marking=row.marking,
        lead_id=row.lead_id,
        moderation=row.moderation,
        threat_to_life=bool(row.threat),
        vector=row.vector,
        age_days=row.age_days,
        harm_base=row.harm_base,
        total_harm=row.total_harm,
        risk=row.risk,
        freshness=row.freshness,
        priority=row.priority,
        band=scoring.BANDS[row.band],
        position=row.position,
        position_grade=scoring.GRADES[row.position_grade],
        score_version=row.score_version,
        scored_at=row.scored_at,
    )


@bp.get("/board")
@operation(BOARD_ROLES, tag="boards", resp=BoardOut, query=BoardQuery)
def board(query: BoardQuery) -> BoardOut:
    """One page of the ranked board (docs/scoring.md order), filtered as the web board is.

    Pass the answer's `next_cursor` as `cursor` (with the same filters) for the
    next page, null on the last page; `prev_cursor` as `before` for the page
    before, null on the first. `harm` and `likelihood` pick a cell of the risk
    matrix. `band_counts` counts the filtered board.
    """
    params: dict[str, Any] = query.model_dump(
        exclude={"cursor", "before", "limit"}, exclude_none=True
    )
    filters = BoardFilter.from_params({name: str(value) for name, value in params.items()})
    session, user = db(), actor()
    page = board_page(
        session=session,
        actor=user,
        filters=filters,
        cursor=query.cursor,
        before=query.before,
        limit=query.limit,
    )
    out = BoardOut(
        rows=[row_out(row) for row in page.rows],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
        band_counts=band_counts(session=session, actor=user, filters=filters),
    )
    disclosed(user, "api.board", [row.reference for row in out.rows], params)
    return out
