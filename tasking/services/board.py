"""The ranked board: open cases in SCORING.md order, one indexed keyset query.

Nothing is scored at read time. The order is the stored ascending sort keys
of `CaseScore` (see tasking.models.scores), walked on the partial board
index; a page continues after the last row of the previous one (keyset, no
OFFSET). BCU users are limited to their BCU inside the query itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, select, true, tuple_
from sqlmodel import Session, col

import scoring
from tasking.models import (
    BOARD_ORDER,
    NO_DEADLINE,
    Assessment,
    Case,
    CaseKind,
    CaseScore,
    State,
    User,
)
from tasking.services.access import case_scope, require
from tasking.services.errors import Invalid

MAX_PAGE = 200
_ORDER_COLUMNS = [getattr(CaseScore, name) for name in BOARD_ORDER]


@dataclass(frozen=True)
class BoardFilter:
    """Optional filters of a board; None means all."""

    hub_id: int | None = None
    bcu_id: int | None = None
    theme_id: int | None = None
    asset_type: str | None = None
    band: int | None = None
    state: str | None = None
    kind: int | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> BoardFilter:
        """Filters from query parameters (strings); raises Invalid naming a bad one."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for name in ("hub_id", "bcu_id", "theme_id"):
            raw = params.get(name)
            if raw not in (None, ""):
                try:
                    values[name] = int(str(raw))
                except ValueError:
                    problems[name] = "must be a whole number"
        band = params.get("band")
        if band not in (None, ""):
            if str(band) in scoring.BANDS:
                values["band"] = scoring.BANDS.index(str(band))
            else:
                problems["band"] = "must be one of P0, P1, P2, P3"
        state = params.get("state")
        if state not in (None, ""):
            if str(state) in {s.value for s in State}:
                values["state"] = str(state)
            else:
                problems["state"] = "unknown state"
        kind = params.get("kind")
        if kind not in (None, ""):
            names = {k.name.lower(): int(k) for k in CaseKind}
            if str(kind) in names:
                values["kind"] = names[str(kind)]
            else:
                problems["kind"] = "must be operation, intelligence or request"
        asset_type = params.get("asset_type")
        if asset_type not in (None, ""):
            values["asset_type"] = str(asset_type)[:32]
        if problems:
            summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
            raise Invalid(f"invalid filter: {summary}", fields=problems)
        return cls(**values)


@dataclass(frozen=True)
class BoardRow:
    """One line of a board, as DOMAIN.md lists it."""

    rank: int
    case_id: int
    reference: str
    codename: str | None
    title: str
    kind: int
    state: str
    theme_id: int
    strands: int
    bcu_id: int | None
    hub_id: int | None
    asset_type: str | None
    requested_hours: int
    allocated_hours: int
    opportunity_deadline: date | None
    next_review: date | None
    marking: str
    lead_id: int | None
    moderation: str
    threat: int
    vector: str
    age_days: float
    harm_base: float
    total_harm: float
    risk: float
    freshness: float
    priority: float
    band: int
    position: int
    position_grade: int
    score_version: int
    scored_at: datetime


@dataclass(frozen=True)
class BoardPage:
    """A page of a board and the cursor of the next page (None at the end)."""

    rows: list[BoardRow]
    next_cursor: str | None
    filters: BoardFilter = field(default_factory=BoardFilter)


def encode_cursor(keys: tuple[Any, ...], rank: int) -> str:
    """An opaque cursor holding the last row's sort keys and its rank."""
    threat, priority, position, deadline, submitted, case_id = keys
    payload = [
        threat,
        priority,
        position,
        deadline.isoformat(),
        submitted.isoformat(),
        case_id,
        rank,
    ]
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[tuple[Any, ...], int]:
    """Keys and rank from a cursor; raises Invalid for anything malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        threat, priority, position, deadline, submitted, case_id, rank = json.loads(raw)
        keys = (
            int(threat),
            float(priority),
            int(position),
            date.fromisoformat(deadline),
            datetime.fromisoformat(submitted),
            int(case_id),
        )
        return keys, int(rank)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise Invalid("cursor: malformed page cursor", fields={"cursor": "malformed"}) from None


AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


def _filtered(query: AnySelect, actor: User, filters: BoardFilter) -> AnySelect:
    # `= true` (not IS) so SQLite sees the partial board index's own predicate.
    query = query.where(col(CaseScore.on_board) == true(), case_scope(actor, on="score"))
    for name in ("hub_id", "bcu_id", "theme_id", "asset_type", "band", "state", "kind"):
        value = getattr(filters, name)
        if value is not None:
            query = query.where(getattr(CaseScore, name) == value)
    return query


def board_page(
    *,
    session: Session,
    actor: User,
    filters: BoardFilter | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> BoardPage:
    """One page of a board in SCORING.md order, scoped to what the actor may see."""
    require(actor, "board.view")
    filters = filters or BoardFilter()
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit: must be 1..{MAX_PAGE}", fields={"limit": f"must be 1..{MAX_PAGE}"})
    query = _filtered(
        select(CaseScore, Case, col(Assessment.moderation))
        .join(Case, col(Case.id) == col(CaseScore.case_id))
        .join(Assessment, col(Assessment.case_id) == col(CaseScore.case_id)),
        actor,
        filters,
    )
    start_rank = 0
    if cursor:
        keys, start_rank = decode_cursor(cursor)
        after = [
            bindparam(f"k{i}", value, type_=col.type)
            for i, (col, value) in enumerate(zip(_ORDER_COLUMNS, keys, strict=True))
        ]
        query = query.where(tuple_(*_ORDER_COLUMNS) > tuple_(*after))
    query = query.order_by(*_ORDER_COLUMNS).limit(limit + 1)
    results = session.execute(query).all()
    rows = [
        _row(score, case, moderation, start_rank + i + 1)
        for i, (score, case, moderation) in enumerate(results[:limit])
    ]
    next_cursor = None
    if len(results) > limit:
        last = results[limit - 1][0]
        next_cursor = encode_cursor(
            tuple(getattr(last, name) for name in BOARD_ORDER), start_rank + limit
        )
    return BoardPage(rows=rows, next_cursor=next_cursor, filters=filters)


def _row(score: CaseScore, case: Case, moderation: str, rank: int) -> BoardRow:
    return BoardRow(
        rank=rank,
        case_id=score.case_id,
        reference=case.reference,
        codename=case.codename,
        title=case.title,
        kind=case.kind,
        state=case.state,
        theme_id=case.theme_id,
        strands=case.strands,
        bcu_id=case.bcu_id,
        hub_id=case.hub_id,
        asset_type=case.asset_type,
        requested_hours=case.requested_hours,
        allocated_hours=case.allocated_hours,
        opportunity_deadline=case.opportunity_deadline,
        next_review=case.next_review,
        marking=case.marking,
        lead_id=case.lead_id,
        moderation=moderation,
        threat=score.threat,
        vector=score.scored_vector,
        age_days=score.age_days,
        harm_base=score.harm_base,
        total_harm=score.total_harm,
        risk=score.risk,
        freshness=score.freshness,
        priority=score.priority,
        band=score.band,
        position=score.position,
        position_grade=score.position_grade,
        score_version=score.score_version,
        scored_at=score.scored_at,
    )


def band_counts(
    *, session: Session, actor: User, filters: BoardFilter | None = None
) -> dict[str, int]:
    """How many open cases the actor may see in each band (P0..P3)."""
    require(actor, "board.view")
    band = col(CaseScore.band)
    query = _filtered(select(band, func.count()), actor, filters or BoardFilter())
    counts: dict[int, int] = {b: n for b, n in session.execute(query.group_by(band)).all()}
    return {name: int(counts.get(code, 0)) for code, name in enumerate(scoring.BANDS)}


__all__ = ["NO_DEADLINE", "BoardFilter", "BoardPage", "BoardRow", "band_counts", "board_page"]
