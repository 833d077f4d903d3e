"""The ranked board: open cases in docs/scoring.md order, one indexed keyset query.

Nothing is scored at read time. The order is the stored ascending sort keys
of `CaseScore` (see tasking.models.scores), walked on the partial board
index; a page continues after the last row of the previous one (keyset, no
OFFSET). BCU users are limited to their BCU inside the query itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from threading import Lock
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Select,
    any_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

import scoring
from scoring.vector import format_age
from tasking.models import (
    ASSET_TYPES,
    BOARD_ORDER,
    NO_DEADLINE,
    Assessment,
    Case,
    CaseKind,
    CaseScore,
    ModelVersion,
    RankSnapshot,
    State,
    User,
)
from tasking.models.scores import FILTER_INDEXES
from tasking.services.access import case_scope, is_bcu_scoped, require
from tasking.services.errors import Invalid
from tasking.services.runs import decode_snapshot
from tasking.services.scores import INPUT_SHIFTS, engine_model

MAX_PAGE = 200
_ORDER_COLUMNS = [getattr(CaseScore, name) for name in BOARD_ORDER]
# A filter whose case facts match at most this many open cases takes the selective
# path: their ids through a filter index, then those few rows ordered (one sort of at
# most this many keys). Above it the board index is walked. Measured at 1M cases
# (bench_web filter timings): 800 left fewer combinations over 20 ms than 2,000, whose
# sort of up to 2,000 rows cost as much as the walks it replaced.
SELECTIVE_MAX = 800
# Filters on case facts a rescore never writes (the filter indexes' columns).
_STABLE_FILTERS = ("hub_id", "bcu_id", "theme_id", "asset_type", "state", "kind")
# Those that lead a filter index: a combination with one of them finds its few cases fast.
_LEADING = frozenset(columns[0] for columns in FILTER_INDEXES.values())
# The page's columns, read as Core rows (no ORM entities): the board keys, the score,
# the case's facts and the moderation state.
_SCORE_FIELDS = (
    "threat", "vector", "age_days", "harm_base", "total_harm", "risk", "freshness", "priority",
    "band", "position", "position_grade", "score_version", "scored_at", "inputs",
)  # fmt: skip
_CASE_FIELDS = (
    "reference", "codename", "title", "kind", "state", "theme_id", "strands", "bcu_id",
    "hub_id", "asset_type", "requested_hours", "allocated_hours", "opportunity_deadline",
    "next_review", "marking", "lead_id",
)  # fmt: skip
_PAGE_COLUMNS = [
    *_ORDER_COLUMNS,
    *(getattr(CaseScore, name) for name in _SCORE_FIELDS),
    *(getattr(Case, name) for name in _CASE_FIELDS),
    col(Assessment.moderation),
]
# Built once: a page's query adds its conditions to this (selects are immutable).
_PAGE_SELECT = (
    select(*_PAGE_COLUMNS)
    .join(Case, col(Case.id) == col(CaseScore.case_id))
    .join(Assessment, col(Assessment.case_id) == col(CaseScore.case_id))
)
MAX_ID = 2**31 - 1
# Total harm bands of the risk matrix (lower edge inclusive). With the default
# numbers total harm runs 0..28.8 (16 x 1.8 x 1.5), and most cases sit low.
HARM_BANDS: tuple[tuple[float, float | None, str], ...] = (
    (0.0, 4.0, "Low"),
    (4.0, 8.0, "Moderate"),
    (8.0, 12.0, "Substantial"),
    (12.0, 18.0, "Serious"),
    (18.0, None, "Critical"),
)
LIKELIHOODS = (1, 2, 3, 4, 5)
_L_SHIFT = INPUT_SHIFTS["L"]
# Counts for a filter (band counts and the risk matrix) are kept this long per process:
# counting a whole board of a million cases is the slowest part of a page.
COUNTS_TTL_S = 30.0
COUNTS_STALE_S = 300.0


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
    harm_band: int | None = None  # index into HARM_BANDS
    likelihood: int | None = None  # 1..5

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return any(getattr(self, name) is not None for name in _FILTER_NAMES)

    def to_params(self) -> dict[str, str]:
        """The query parameters that give these filters back through `from_params`."""
        params: dict[str, str] = {}
        for name in ("hub_id", "bcu_id", "theme_id", "asset_type", "state", "likelihood"):
            value = getattr(self, name)
            if value is not None:
                params[name] = str(value)
        if self.band is not None:
            params["band"] = scoring.BANDS[self.band]
        if self.kind is not None:
            params["kind"] = CaseKind(self.kind).name.lower()
        if self.harm_band is not None:
            params["harm"] = str(self.harm_band)
        return params

    def with_(self, **changes: Any) -> BoardFilter:
        """A copy with some filters changed."""
        return replace(self, **changes)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> BoardFilter:
        """Filters from query parameters (strings); raises Invalid naming a bad one."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for name in ("hub_id", "bcu_id", "theme_id"):
            raw = params.get(name)
            if raw not in (None, ""):
                number = _whole(raw, 1, MAX_ID)
                if number is None:
                    problems[name] = "must be a whole number"
                else:
                    values[name] = number
        harm = params.get("harm")
        if harm not in (None, ""):
            values["harm_band"] = _whole(harm, 0, len(HARM_BANDS) - 1)
            if values["harm_band"] is None:
                problems["harm"] = f"must be a harm band 0..{len(HARM_BANDS) - 1}"
        likelihood = params.get("likelihood")
        if likelihood not in (None, ""):
            values["likelihood"] = _whole(likelihood, 1, 5)
            if values["likelihood"] is None:
                problems["likelihood"] = "must be 1..5"
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
            if str(asset_type) in ASSET_TYPES:
                values["asset_type"] = str(asset_type)
            else:
                problems["asset_type"] = "unknown asset type"
        if problems:
            summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
            raise Invalid(f"invalid filter: {summary}", fields=problems)
        return cls(**values)


def _whole(raw: Any, low: int, high: int) -> int | None:
    """A whole number in low..high from a query string, else None."""
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    number = int(text)
    return number if low <= number <= high else None


def harm_band_of(total_harm: float) -> int:
    """The risk matrix's harm band (index into HARM_BANDS) of a total harm."""
    for index, (_low, high, _label) in enumerate(HARM_BANDS):
        if high is None or total_harm < high:
            return index
    return len(HARM_BANDS) - 1


_FILTER_NAMES = tuple(f.name for f in fields(BoardFilter))


@dataclass(frozen=True)
class BoardRow:
    """One line of a board, as docs/domain.md lists it."""

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
    inputs: int = 0  # packed factor codes (scores.pack_inputs)


@dataclass(frozen=True)
class BoardPage:
    """A page of a board and the cursor of the next page (None at the end)."""

    rows: list[BoardRow]
    next_cursor: str | None
    filters: BoardFilter = field(default_factory=BoardFilter)
    # The cursor of the page before this one (None on the first page).
    prev_cursor: str | None = None


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
            _utc(datetime.fromisoformat(submitted)),
            int(case_id),
        )
        # Values the columns could never hold are as malformed as bad JSON.
        if (
            keys[0] not in (0, 1)
            or not math.isfinite(keys[1])
            or not -100 <= keys[2] <= 0
            or not 0 <= keys[5] <= MAX_ID
            or not 0 <= int(rank) <= MAX_ID
        ):
            raise ValueError("cursor out of range")
        return keys, int(rank)
    except (ValueError, TypeError, OverflowError, binascii.Error, json.JSONDecodeError):
        raise Invalid("cursor: malformed page cursor", fields={"cursor": "malformed"}) from None


def _utc(moment: datetime) -> datetime:
    """An aware UTC datetime (stored keys are aware; a naive one is taken as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


def _filtered(query: AnySelect, actor: User, filters: BoardFilter) -> AnySelect:
    # `= true` (not IS) so SQLite sees the partial board index's own predicate.
    query = query.where(col(CaseScore.on_board) == true(), case_scope(actor, on="score"))
    return query.where(*_stable_terms(filters), *_score_terms(filters))


def _stable_terms(filters: BoardFilter) -> list[ColumnElement[bool]]:
    """The filters on case facts (never written by a rescore)."""
    return [
        getattr(CaseScore, name) == getattr(filters, name)
        for name in _STABLE_FILTERS
        if getattr(filters, name) is not None
    ]


def _score_terms(filters: BoardFilter) -> list[ColumnElement[bool]]:
    """The filters on the score: band and the risk matrix's cell."""
    terms: list[ColumnElement[bool]] = []
    if filters.band is not None:
        terms.append(col(CaseScore.band) == filters.band)
    if filters.harm_band is not None:
        low, high, _label = HARM_BANDS[filters.harm_band]
        terms.append(col(CaseScore.total_harm) >= low)
        if high is not None:
            terms.append(col(CaseScore.total_harm) < high)
    if filters.likelihood is not None:
        terms.append(_likelihood_column() == filters.likelihood)
    return terms


def _likelihood_column() -> ColumnElement[int]:
    """Likelihood (L) unpacked from `case_score.inputs` in SQL."""
    return col(CaseScore.inputs).op(">>")(literal(_L_SHIFT)).op("&")(literal(7))


def board_page(
    *,
    session: Session,
    actor: User,
    filters: BoardFilter | None = None,
    cursor: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> BoardPage:
    """One page of a board in docs/scoring.md order, scoped to what the actor may see.

    `cursor` continues after a page (its `next_cursor`); `before` goes back to
    the page before one (its `prev_cursor`), by the same index read backwards.
    A filter whose case facts match few cases reads those cases through a filter
    index and orders them (`_selected`) instead of walking the board index: the
    same rows, ranks and cursors either way.
    """
    require(actor, "board.view")
    filters = filters or BoardFilter()
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit: must be 1..{MAX_PAGE}", fields={"limit": f"must be 1..{MAX_PAGE}"})
    candidates = _candidates(session, actor, filters)
    if before:
        keys, rank_before = decode_cursor(before)
        earlier = _fetch(session, actor, filters, candidates, keys, limit + 1, backwards=True)
        if len(earlier) <= limit:  # at (or, after changes, near) the top: the first page
            return board_page(session=session, actor=actor, filters=filters, limit=limit)
        results = list(reversed(earlier[:limit]))
        start_rank = max(rank_before - limit, 1)  # a row before this page remains
        results.append(results[-1])  # there is a next page: the one we came from
    else:
        start_rank, keys = 0, None
        if cursor:
            keys, start_rank = decode_cursor(cursor)
        results = _fetch(session, actor, filters, candidates, keys, limit + 1, backwards=False)
    rows = [_row(row, start_rank + i + 1) for i, row in enumerate(results[:limit])]
    next_cursor = prev_cursor = None
    if len(results) > limit:
        next_cursor = encode_cursor(_keys_of(results[limit - 1]), start_rank + limit)
    if rows and start_rank > 0:
        prev_cursor = encode_cursor(_keys_of(results[0]), start_rank)
    return BoardPage(rows=rows, next_cursor=next_cursor, filters=filters, prev_cursor=prev_cursor)


def _fetch(
    session: Session,
    actor: User,
    filters: BoardFilter,
    candidates: list[int] | None,
    keys: tuple[Any, ...] | None,
    want: int,
    *,
    backwards: bool,
) -> list[Any]:
    """Up to `want` page rows after (or before) the keys, by whichever path suits the filter."""
    query = _filtered(_PAGE_SELECT, actor, filters)
    if candidates is not None:
        return _selected(session, query, filters, candidates, keys, want, backwards=backwards)
    return _walk(session, query, _segments(session, filters), keys, want, backwards=backwards)


def _candidates(session: Session, actor: User, filters: BoardFilter) -> list[int] | None:
    """Ids of every open case the actor may see that the filter's case facts match, if few.

    Read through one filter index (its columns only, never a table row), at most
    SELECTIVE_MAX + 1 of them; None when there are more (or no filter index fits).
    The score filters (band, risk matrix) are left to the page query.
    """
    if not any(getattr(filters, name) is not None for name in _LEADING):
        # No filter, or kind alone: every kind (and every BCU's own board) holds a large
        # share of the board; counting a BCU user's scope first was measured slower.
        return None
    wanted = {name: getattr(filters, name) for name in _STABLE_FILTERS}
    wanted = {name: value for name, value in wanted.items() if value is not None}
    known = set(wanted)
    if is_bcu_scoped(actor):  # the scope is two more case facts (access.case_scope)
        known |= {"kind", "bcu_id"}
    prefix = _best_prefix(known)
    sqlite = session.get_bind().dialect.name == "sqlite"
    terms = [
        _column(name, steer=sqlite and name not in prefix) == value
        for name, value in wanted.items()
    ]
    query = (
        select(col(CaseScore.case_id))
        .where(_filter_index_predicate(sqlite), case_scope(actor, on="score"), *terms)
        .limit(SELECTIVE_MAX + 1)
    )
    ids = list(session.execute(query).scalars())
    return ids if len(ids) <= SELECTIVE_MAX else None


# Filters by how finely they usually divide a force's board (BCUs and themes a dozen
# or more, hubs and kinds three), to choose between filter indexes equally long.
_FINENESS = ("bcu_id", "theme_id", "state", "asset_type", "hub_id", "kind")


def _best_prefix(names: set[str]) -> tuple[str, ...]:
    """The longest leading run of a filter index's columns among the filtered ones."""
    best: tuple[str, ...] = ()
    for columns in FILTER_INDEXES.values():
        length = 0
        while length < len(columns) and columns[length] in names:
            length += 1
        prefix = columns[:length]
        finer = bool(best) and _FINENESS.index(columns[0]) < _FINENESS.index(best[0])
        if len(prefix) > len(best) or (prefix and len(prefix) == len(best) and finer):
            best = prefix
    return best


def _column(name: str, *, steer: bool) -> Any:
    """A case_score column; with `steer`, SQLite's `+column`, which no index can serve.

    Without ANALYZE, SQLite chooses between filter indexes whose leading columns are
    equally constrained as it likes; this leaves it only the one _best_prefix chose.
    """
    column = getattr(CaseScore, name)
    if not steer:
        return column
    return literal_column(f"+{CaseScore.__tablename__}.{name}", type_=column.type)


def _filter_index_predicate(sqlite: bool) -> ColumnElement[bool]:
    """The filter indexes' own partial-index condition (see tasking.models.scores)."""
    if sqlite:
        return col(CaseScore.on_board) > literal_column("0")
    return col(CaseScore.on_board) == true()


def _among(column: Any, ids: list[int], dialect: str) -> ColumnElement[bool]:
    """`column IN ids` with the ids as one parameter (thousands of bind parameters cost ms)."""
    clause: ColumnElement[bool]
    if dialect == "sqlite":
        values = func.json_each(bindparam("candidate_ids", json.dumps(ids))).table_valued("value")
        clause = column.in_(select(values.c.value))
    elif dialect == "postgresql":
        clause = column == any_(bindparam("candidate_ids", ids, type_=ARRAY(BigInteger)))
    else:
        clause = column.in_(ids)
    return clause


def _selected(
    session: Session,
    query: Any,
    filters: BoardFilter,
    candidates: list[int],
    keys: tuple[Any, ...] | None,
    want: int,
    *,
    backwards: bool,
) -> list[Any]:
    """The selective path: order the few candidate cases by their board keys, then read a page.

    The candidates are already scoped and matched on the case facts; the score
    filters and the cursor apply here. Only the page's rows are then read with
    their case (a join per candidate would cost more than the ordering itself).
    """
    if not candidates:
        return []
    order = [c.desc() for c in _ORDER_COLUMNS] if backwards else _ORDER_COLUMNS
    picked = select(col(CaseScore.case_id)).where(
        col(CaseScore.on_board) == true(),
        _among(col(CaseScore.case_id), candidates, session.get_bind().dialect.name),
        *_score_terms(filters),
    )
    if keys is not None:
        bound = _keys_param(keys)
        picked = picked.where(
            tuple_(*_ORDER_COLUMNS) < bound if backwards else tuple_(*_ORDER_COLUMNS) > bound
        )
    page_ids = list(session.execute(picked.order_by(*order).limit(want)).scalars())
    if not page_ids:
        return []
    rows = session.execute(query.where(col(CaseScore.case_id).in_(page_ids)).order_by(*order))
    return list(rows.all())


def _walk(
    session: Session,
    query: Any,
    segments: list[tuple[int | None, list[Any]]],
    keys: tuple[Any, ...] | None,
    want: int,
    *,
    backwards: bool,
) -> list[Any]:
    """Up to `want` rows after (or before) the keys, segment by segment in board order.

    A segment fixes the threat key and bounds the priority key, so the walk of
    the board index starts and stops where the segment's rows can be. Within a
    segment the cursor is a row value over the remaining keys (an index seek).
    """
    results: list[Any] = []
    for threat, extra in reversed(segments) if backwards else segments:
        segment = query.where(*extra)
        columns = _ORDER_COLUMNS
        if threat is not None:
            segment = segment.where(col(CaseScore.bk_threat) == threat)
            if keys is not None and keys[0] != threat:
                if (keys[0] < threat) == backwards:
                    continue  # the whole segment lies on the other side of the cursor
                keys_here = None
            else:
                keys_here = keys[1:] if keys is not None else None
            columns = _ORDER_COLUMNS[1:]
        else:
            keys_here = keys
        if keys_here is not None:
            bound = _keys_param(keys_here, columns)
            segment = segment.where(
                tuple_(*columns) < bound if backwards else tuple_(*columns) > bound
            )
        order = [c.desc() for c in _ORDER_COLUMNS] if backwards else _ORDER_COLUMNS
        rows = session.execute(segment.order_by(*order).limit(want - len(results))).all()
        results += rows
        if len(results) >= want:
            break
    return results


_bounds_cache: dict[tuple[Any, ...], tuple[float, ...]] = {}


def _model_bounds(session: Session) -> tuple[float, ...]:
    """Thresholds and multipliers over every stored model: (min/max P1, min/max P2, ...).

    A row's band and priority come from the model that scored it, so a priority
    range derived from a filter must hold under any stored model.
    """
    versions = session.execute(select(func.count(), func.max(col(ModelVersion.id)))).one()
    key = (_engine_key(session), int(versions[0]), versions[1])
    found = _bounds_cache.get(key)
    if found is None:
        models = [engine_model(v) for v in session.exec(sqlmodel_select(ModelVersion)).all()]
        if not models:
            return ()
        found = (
            min(m.p1_threshold for m in models), max(m.p1_threshold for m in models),
            min(m.p2_threshold for m in models), max(m.p2_threshold for m in models),
            min(min(m.confidence) for m in models) * min(m.decay.floor for m in models),
            max(max(m.confidence) for m in models),
            # the highest total harm any model can give (every harm level 4)
            max(4 * sum(m.weights) * max(m.scope) * max(m.vulnerability) for m in models),
        )  # fmt: skip
        _bounds_cache.clear()
        _bounds_cache[key] = found
    return found


def _segments(session: Session, filters: BoardFilter) -> list[tuple[int | None, list[Any]]]:
    """The board's key segments for these filters: (threat key or None, priority bounds).

    Bands and risk-matrix cells bound `priority` (stored negated as bk_priority),
    so their rows are walked from where they can start; a band also fixes the
    threat key (P0 is exactly the threat-to-life cases). Bounds are widened by
    a relative 1e-9 so that rounding can never leave a row out.
    """
    bounds = _model_bounds(session) if (filters.band or filters.harm_band is not None) else ()
    key = col(CaseScore.bk_priority)
    low: float | None = None  # priority bounds, inclusive
    high: float | None = None
    if bounds and filters.band in (1, 2, 3):
        t1_min, t1_max, t2_min, t2_max = bounds[:4]
        low, high = {1: (t1_min, None), 2: (t2_min, t1_max), 3: (None, t2_max)}[filters.band]
    if bounds and filters.harm_band is not None:
        h_low, h_high, _label = HARM_BANDS[filters.harm_band]
        levels = [filters.likelihood] if filters.likelihood else list(LIKELIHOODS)
        cell_low = h_low * min(levels) * bounds[4]
        cell_high = (h_high if h_high is not None else bounds[6]) * max(levels) * bounds[5]
        low = cell_low if low is None else max(low, cell_low)
        high = cell_high if high is None else min(high, cell_high)
    extra: list[Any] = []
    if low is not None:
        extra.append(key <= -low * (1 - 1e-9))
    if high is not None:
        extra.append(key >= -high * (1 + 1e-9))
    if filters.band is not None:
        return [(0 if filters.band == 0 else 1, extra)]
    if extra:
        return [(0, extra), (1, extra)]
    return [(None, [])]


def _keys_of(row: Any) -> tuple[Any, ...]:
    """The board keys of a page row (its first columns)."""
    return tuple(row[: len(BOARD_ORDER)])


def _keys_param(keys: tuple[Any, ...], columns: list[Any] = _ORDER_COLUMNS) -> Any:
    return tuple_(
        *(
            bindparam(f"k{i}", value, type_=column.type)
            for i, (column, value) in enumerate(zip(columns, keys, strict=True))
        )
    )


def _row(row: Any, rank: int) -> BoardRow:
    """A board line from one page row (the columns of _PAGE_COLUMNS, unpacked by position)."""
    (
        _threat_key, _priority_key, _position_key, _deadline_key, _submitted_key, case_id,
        threat, vector, age_days, harm_base, total_harm, risk, freshness, priority, band,
        position, position_grade, score_version, scored_at, inputs,
        reference, codename, title, kind, state, theme_id, strands, bcu_id, hub_id, asset_type,
        requested_hours, allocated_hours, opportunity_deadline, next_review, marking, lead_id,
        moderation,
    ) = row  # fmt: skip
    return BoardRow(
        rank=rank,
        case_id=case_id,
        reference=reference,
        codename=codename,
        title=title,
        kind=kind,
        state=state,
        theme_id=theme_id,
        strands=strands,
        bcu_id=bcu_id,
        hub_id=hub_id,
        asset_type=asset_type,
        requested_hours=requested_hours,
        allocated_hours=allocated_hours,
        opportunity_deadline=opportunity_deadline,
        next_review=next_review,
        marking=marking,
        lead_id=lead_id,
        moderation=moderation,
        threat=threat,
        vector=_scored_vector(vector, age_days),
        age_days=age_days,
        harm_base=harm_base,
        total_harm=total_harm,
        risk=risk,
        freshness=freshness,
        priority=priority,
        band=band,
        position=position,
        position_grade=position_grade,
        score_version=score_version,
        scored_at=scored_at,
        inputs=inputs,
    )


def _scored_vector(vector: str, age_days: float) -> str:
    """CaseScore.scored_vector from its two columns (the vector is canonical, A last)."""
    return vector if age_days == 0 else f"{vector}/A:{format_age(age_days)}"


def band_counts(
    *, session: Session, actor: User, filters: BoardFilter | None = None
) -> dict[str, int]:
    """How many open cases the actor may see in each band (P0..P3)."""
    require(actor, "board.view")
    band = col(CaseScore.band)
    query = _filtered(select(band, func.count()), actor, filters or BoardFilter())
    counts: dict[int, int] = {b: n for b, n in session.execute(query.group_by(band)).all()}
    return {name: int(counts.get(code, 0)) for code, name in enumerate(scoring.BANDS)}


@dataclass(frozen=True)
class BoardCounts:
    """Band counts of a filtered board and its risk matrix, as counted at `counted_at`."""

    bands: dict[str, int]
    # matrix[harm band][likelihood - 1]: cases in the cell, under the board's filters
    # other than harm band and likelihood (so the matrix stays a way to move around).
    matrix: list[list[int]]
    counted_at: datetime


_counts_cache: dict[tuple[Any, ...], tuple[float, BoardCounts]] = {}
_counts_pending: dict[tuple[Any, ...], Future[BoardCounts]] = {}
_counts_lock = Lock()
# One counting thread per process: counts queue rather than compete with pages.
_counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="board-counts")
MAX_QUEUED_COUNTS = 8
_CACHE_ENTRIES = 512
log = logging.getLogger(__name__)


def board_counts(
    *,
    session: Session,
    actor: User,
    filters: BoardFilter | None = None,
    now: float | None = None,
    wait_s: float | None = None,
) -> BoardCounts | None:
    """Band counts and risk matrix counts for a filter, shared by actors of the same scope.

    Counting a broad filter over a million cases takes seconds, so counts are
    made by one background thread per process and kept: fresh for COUNTS_TTL_S,
    then served while a new count is made, for up to COUNTS_STALE_S. A caller
    waits at most `wait_s` (None: until counted; only the request that asks
    first waits) and gets None when the count is not ready yet (or too many
    counts are queued).
    """
    require(actor, "board.view")
    filters = filters or BoardFilter()
    key = (_engine_key(session), _scope_key(actor), filters)
    clock = time.monotonic() if now is None else now
    with _counts_lock:
        cached = _counts_cache.get(key)
        if cached is not None and clock - cached[0] < COUNTS_TTL_S:
            return cached[1]
        stale = cached[1] if cached is not None and clock - cached[0] < COUNTS_STALE_S else None
        pending = _counts_pending.get(key)
        if pending is not None and wait_s is not None:
            return stale  # another request already waits for this count
        if pending is None:
            if len(_counts_pending) >= MAX_QUEUED_COUNTS:
                return stale
            pending = _counter.submit(_count_later, session.get_bind(), actor, filters, key, clock)
            _counts_pending[key] = pending
    if stale is not None:
        return stale
    try:
        return pending.result(timeout=wait_s)
    except FuturesTimeout:
        return None
    except SQLAlchemyError:
        log.exception("board counts failed")  # the page is drawn without them
        return None


def _count(session: Session, actor: User, filters: BoardFilter) -> BoardCounts:
    return BoardCounts(
        bands=band_counts(session=session, actor=actor, filters=filters),
        matrix=risk_matrix(
            session=session, actor=actor, filters=filters.with_(harm_band=None, likelihood=None)
        ),
        counted_at=datetime.now(UTC).replace(microsecond=0),
    )


def _count_later(
    bind: Any, actor: User, filters: BoardFilter, key: tuple[Any, ...], clock: float
) -> BoardCounts:
    """Count on the counting thread (a read on its own session) and keep the result."""
    try:
        with Session(bind) as session:
            counts = _count(session, actor, filters)
        with _counts_lock:
            if len(_counts_cache) >= _CACHE_ENTRIES:
                _counts_cache.clear()
            _counts_cache[key] = (clock, counts)  # the asking request's clock
        return counts
    finally:
        with _counts_lock:
            _counts_pending.pop(key, None)


def _scope_key(actor: User) -> str:
    """The actor's scope as SQL text: actors who see the same rows share counts."""
    clause = _filtered(select(col(CaseScore.case_id)), actor, BoardFilter()).whereclause
    return str(clause.compile(compile_kwargs={"literal_binds": True})) if clause is not None else ""


def clear_caches() -> None:
    """Forget cached counts and decoded snapshots (tests, or after a bulk change)."""
    with _counts_lock:
        _counts_cache.clear()
        _counts_pending.clear()
    with _snapshot_lock:
        _snapshot_cache.clear()


def risk_matrix(
    *, session: Session, actor: User, filters: BoardFilter | None = None
) -> list[list[int]]:
    """Open cases per (total harm band, likelihood 1..5) cell, scoped and filtered."""
    require(actor, "board.view")
    harm = col(CaseScore.total_harm)
    whens = [(harm < high, index) for index, (_l, high, _n) in enumerate(HARM_BANDS) if high]
    band_column = case(*whens, else_=len(HARM_BANDS) - 1)
    likelihood = _likelihood_column()
    query = _filtered(
        select(band_column, likelihood, func.count()), actor, filters or BoardFilter()
    ).group_by(band_column, likelihood)
    matrix = [[0 for _ in LIKELIHOODS] for _ in HARM_BANDS]
    for band, level, count in session.execute(query).all():
        if 1 <= int(level) <= len(LIKELIHOODS):
            matrix[int(band)][int(level) - 1] += int(count)
    return matrix


def _engine_key(session: Session) -> tuple[int, str]:
    bind = session.get_bind()
    return id(bind), str(getattr(bind, "url", ""))


@dataclass(frozen=True)
class Movement:
    """A row's place at the last nightly snapshot, and how far it moved since (+ = up)."""

    was: int | None  # rank on the whole board at the snapshot; None if not on it then
    moved: int | None  # None when the page's ranks are not whole-board ranks


@dataclass(frozen=True)
class RankMovement:
    """Rank movement of a page's rows since the latest nightly snapshot."""

    snapshot_id: int
    taken_at: datetime
    whole_board: bool  # the page's ranks are whole-board ranks, so `moved` is set
    rows: dict[int, Movement]


_snapshot_cache: dict[tuple[Any, ...], np.ndarray] = {}
_snapshot_lock = Lock()


def rank_movement(*, session: Session, actor: User, page: BoardPage) -> RankMovement | None:
    """How the page's cases moved since the latest nightly snapshot (None without one).

    The snapshot is the whole board's order; its id -> rank table is decoded once
    per process and snapshot. Places moved are given where the page's ranks are
    whole-board ranks (no filter, an actor who sees the whole board); otherwise
    each row has its rank at the snapshot only.
    """
    require(actor, "board.view")
    latest = session.execute(
        select(col(RankSnapshot.id), col(RankSnapshot.taken_at))
        .where(col(RankSnapshot.kind) == "nightly")
        .order_by(col(RankSnapshot.taken_at).desc(), col(RankSnapshot.id).desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    snapshot_id, taken_at = int(latest[0]), latest[1]
    table = _snapshot_ranks(session, snapshot_id)
    whole = not page.filters.active and _sees_whole_board(actor)
    rows: dict[int, Movement] = {}
    for row in page.rows:
        was = int(table[row.case_id]) if row.case_id < len(table) else 0
        rows[row.case_id] = Movement(
            was=was or None, moved=(was - row.rank) if whole and was else None
        )
    return RankMovement(snapshot_id=snapshot_id, taken_at=taken_at, whole_board=whole, rows=rows)


def _snapshot_ranks(session: Session, snapshot_id: int) -> np.ndarray:
    """Rank (1-based; 0 = absent) indexed by case id, of one snapshot, cached."""
    key = (_engine_key(session), snapshot_id)
    with _snapshot_lock:
        table = _snapshot_cache.get(key)
    if table is not None:
        return table
    blob = session.execute(
        select(col(RankSnapshot.case_ids)).where(col(RankSnapshot.id) == snapshot_id)
    ).scalar_one()
    ids = decode_snapshot(blob)
    table = np.zeros(int(ids.max(initial=-1)) + 1, dtype=np.int32)
    table[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    with _snapshot_lock:
        if len(_snapshot_cache) >= 2:  # the latest one or two: a few MB each at 1M
            _snapshot_cache.clear()
        _snapshot_cache[key] = table
    return table


def _sees_whole_board(actor: User) -> bool:
    """True when the actor's scope adds nothing to the board's own condition."""
    scoped = _filtered(select(col(CaseScore.case_id)), actor, BoardFilter()).whereclause
    return str(scoped) == str(col(CaseScore.on_board) == true())


__all__ = [
    "HARM_BANDS",
    "LIKELIHOODS",
    "NO_DEADLINE",
    "BoardCounts",
    "BoardFilter",
    "BoardPage",
    "BoardRow",
    "Movement",
    "RankMovement",
    "band_counts",
    "board_counts",
    "board_page",
    "clear_caches",
    "harm_band_of",
    "rank_movement",
    "risk_matrix",
]
