"""Bulk generator of plausible fictional cases, for benchmarks and for a board under load.

Everything is made up: titles and codenames come from the word lists below,
never from real people, places or operations. Cases are drawn with a seeded
NumPy generator (skewed harm, mostly low priority, about 0.5% threat to
life), scored with one `score_arrays` call per batch, and written with the
raw driver: executemany inside one BEGIN IMMEDIATE transaction per batch on
SQLite, COPY on PostgreSQL. Each case gets its facts, its assessment and its
current score (exactly what `score_case` would store at `now`, score version
1) but no ScoreHistory row: history starts at the first rescore, which keeps
generation fast. The same seed, count, batch size, organisation and `now`
give the same cases.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine
from sqlmodel import select

import scoring
from scoring.vector import KEY_RANGES
from tasking.db import SQLITE_DATETIME, is_sqlite, session_scope
from tasking.models import (
    ASSET_TYPES,
    NO_DEADLINE,
    OPEN_STATES,
    Asset,
    Marking,
    ModerationState,
    Role,
    State,
    Theme,
    Unit,
    UnitKind,
    User,
    as_utc,
    utcnow,
)
from tasking.services.errors import Invalid
from tasking.services.scores import (
    ages_at,
    current_model,
    pack_input_columns,
    score_columns,
)

__all__ = ["generate_cases"]

Ints = npt.NDArray[np.int64]
Objects = npt.NDArray[np.object_]

# Neutral words for codenames ("Op AMBER KITE"); chosen to mean nothing.
ADJECTIVES = (
    "AMBER", "BRASS", "COPPER", "DAWN", "EMBER", "FALLOW", "GRANITE", "HAZEL", "IVORY", "JADE",
    "LINEN", "MAPLE", "OAKEN", "PALE", "QUIET", "RUSSET", "SILVER", "TAWNY", "VELVET",
    "WINTER", "ASHEN", "BRIGHT", "CINDER", "DUSKY", "FROSTED", "GILDED", "HOLLOW", "LOFTY",
    "MISTY", "NIMBLE", "OCHRE", "PLAIN", "ROUGH", "SLATE", "TIDAL", "UMBER", "VIVID",
    "WOOLLEN",
)  # fmt: skip
NOUNS = (
    "ANCHOR", "BEACON", "CANAL", "DRIFT", "ECHO", "FERN", "GATE", "HARBOUR", "ISLAND",
    "JUNIPER", "KITE", "LEDGER", "MILL", "NEEDLE", "ORCHARD", "PEBBLE", "QUARRY", "RAVEN",
    "SPIRE", "THISTLE", "VALLEY", "WILLOW", "ACORN", "BRIDGE", "COMPASS", "DIAL", "FURROW",
    "GARNET", "HERON", "KEEL", "LANTERN", "MEADOW", "NETTLE", "OTTER", "PLOVER", "RUDDER",
    "SPINDLE", "TOWER",
)  # fmt: skip
SUBJECTS = (
    "prolific burglar", "shoplifting gang", "arson hotspot", "knife sales",
    "street robbery series", "stolen vehicle ring", "doorstep fraud ring",
    "cannabis grow network", "county line runners", "catalytic converter thefts",
    "plant and tool thefts", "cash machine attacks", "moped-enabled thefts",
    "dealing from a flat", "online weapon sales", "cuckooing", "fuel theft group",
    "livestock theft", "metal theft group", "illegal money lending", "forged documents",
    "counterfeit goods stall", "dog theft group", "rogue trader gang", "threats-to-life feud",
    "night-time violence", "exploitation of a vulnerable adult", "firearm storage address",
    "courier fraud against elderly", "puppy farming", "romance fraud", "card skimming",
    "exploited car washes", "online grooming", "money mule recruitment",
)  # fmt: skip
AREAS = (
    "north", "south", "east", "west", "central", "riverside", "coastal", "upland",
    "harbour", "forest", "moorland", "valley",
)  # fmt: skip
ASSET_PHRASES = {
    "surveillance": "surveillance",
    "technical": "technical support",
    "firearms": "firearms support",
    "financial": "financial investigator",
    "covert": "covert deployment",
    "dogs": "dogs",
    "drones": "drone support",
    "test_purchase": "test purchase",
}
OUTCOMES = ("disruption: significant", "disruption: moderate", "disruption: minor", "no trace")
SUMMARY = "Generated for load testing (fictional)."

# Kinds in CaseKind order (operation, intelligence, request) and, per kind, how
# often a case is serious, how often it names a BCU and how often it wants an asset.
KIND_P = (0.15, 0.40, 0.45)
SERIOUS_P = np.array([0.45, 0.20, 0.12])
BCU_P = np.array([0.30, 0.70, 1.0])
ASSET_P = np.array([0.60, 0.30, 1.0])
STATE_P = {
    State.DRAFT: 0.04, State.SUBMITTED: 0.15, State.TRIAGE: 0.10, State.SCORING: 0.08,
    State.MODERATION: 0.07, State.AWAITING_MEETING: 0.15, State.ADOPTED: 0.05,
    State.DEFERRED: 0.06, State.DECLINED: 0.05, State.REFERRED: 0.02, State.ACTIVE: 0.15,
    State.UNDER_REVIEW: 0.04, State.CLOSED: 0.04,
}  # fmt: skip
MODERATED = frozenset(STATE_P) - {
    State.DRAFT, State.SUBMITTED, State.TRIAGE, State.SCORING, State.MODERATION,
}  # fmt: skip
TASKED = frozenset({State.ADOPTED, State.ACTIVE, State.UNDER_REVIEW, State.CLOSED})
THREAT_P = 0.005
DEADLINE_P = 0.30
US_PER_DAY = 86_400 * 1_000_000
EPOCH = datetime(1970, 1, 1)

CASE_COLUMNS = (
    "id", "reference", "kind", "codename", "title", "summary", "justification", "theme_id",
    "strands", "bcu_id", "hub_id", "asset_type", "requested_hours", "allocated_hours",
    "opportunity_deadline", "next_review", "marking", "state", "outcome", "lead_id",
    "created_by_id", "created_at", "submitted_at", "updated_at", "version",
)  # fmt: skip
ASSESSMENT_COLUMNS = (
    "case_id", "p", "ps", "f", "c", "s", "v", "l", "cf", "ca", "cb", "o", "t", "vector",
    "intel_at", "rationale", "assessed_by_id", "assessed_at", "moderation", "moderated_by_id",
    "moderated_at", "moderation_note",
)  # fmt: skip
SCORE_COLUMNS = (
    "case_id", "on_board", "state", "kind", "bcu_id", "hub_id", "theme_id", "asset_type",
    "harm_base", "total_harm", "risk", "freshness", "age_days", "priority", "band", "position",
    "position_grade", "threat", "vector", "inputs", "intel_epoch", "model_version_id",
    "scored_at", "score_version", "bk_threat", "bk_priority", "bk_position", "bk_deadline",
    "bk_submitted",
)  # fmt: skip


@dataclass(frozen=True)
class _Org:
    """What the generated cases point at, read once before generating."""

    bcu_ids: Ints
    hub_ids: Ints
    theme_ids: Ints
    theme_p: npt.NDArray[np.float64]
    asset_types: Objects
    asset_hubs: Ints | None  # the owning hub of each entry of asset_types, when assets exist
    staff_ids: Ints
    requesters: dict[int, Ints]  # BCU id -> its requesting officers
    model_version_id: int
    model: scoring.Model


def _load_org(engine: Engine, rng: np.random.Generator) -> _Org:
    """The units, themes, users, assets and current model that cases will point at."""
    with session_scope(engine) as session:
        units = session.exec(select(Unit)).all()
        themes = session.exec(select(Theme).order_by(Theme.id)).all()  # type: ignore[arg-type]
        users = session.exec(select(User).where(User.is_active)).all()
        assets = session.exec(select(Asset).order_by(Asset.id)).all()  # type: ignore[arg-type]
        bcus = sorted(u.id for u in units if u.kind == UnitKind.BCU and u.id is not None)
        # Specialist hubs and central units both own assets and run work.
        hubs = sorted(u.id for u in units if u.kind != UnitKind.BCU and u.id is not None)
        missing = [
            name
            for name, rows in (("BCUs", bcus), ("hubs", hubs), ("themes", themes), ("users", users))
            if not rows
        ]
        if missing:
            raise Invalid(
                f"no {', '.join(missing)} in the database: run `tasking seed-demo` first",
                fields={name: "none" for name in missing},
            )
        version, model = current_model(session=session)
        assert version.id is not None
        staff = sorted(
            u.id for u in users if u.role in (Role.COORDINATOR, Role.ANALYST) and u.id is not None
        ) or sorted(u.id for u in users if u.id is not None)
        requesters: dict[int, list[int]] = {}
        for user in users:
            if user.role == Role.BCU_REQUESTER and user.unit_id in bcus and user.id is not None:
                requesters.setdefault(user.unit_id, []).append(user.id)
        theme_ids = np.array([t.id for t in themes], dtype=np.int64)
        if assets:
            types = np.array([a.asset_type for a in assets], dtype=object)
            asset_hubs: Ints | None = np.array([a.hub_id for a in assets], dtype=np.int64)
        else:
            types, asset_hubs = np.array(list(ASSET_TYPES), dtype=object), None
        return _Org(
            bcu_ids=np.array(bcus, dtype=np.int64),
            hub_ids=np.array(hubs, dtype=np.int64),
            theme_ids=theme_ids,
            # Some themes carry far more work than others (drugs more than bribery).
            theme_p=rng.dirichlet(np.full(len(theme_ids), 1.5)),
            asset_types=types,
            asset_hubs=asset_hubs,
            staff_ids=np.array(staff, dtype=np.int64),
            requesters={
                k: np.array(sorted(requesters[k]), dtype=np.int64) for k in sorted(requesters)
            },
            model_version_id=version.id,
            model=model,
        )


_VECTOR_GROUPS = (("P", "Ps", "F", "C"), ("S", "V", "L"), ("Cf", "Ca", "Cb", "O", "T"))


@cache
def _vector_tables() -> tuple[Objects, ...]:
    """Per group of keys, its slice of the canonical vector for every combination of codes."""
    lows = {key: lo for key, (lo, _) in KEY_RANGES.items()}
    tables, start = [], 0
    for group in _VECTOR_GROUPS:
        ranges = [range(KEY_RANGES[k][0], KEY_RANGES[k][1] + 1) for k in group]
        entries = []
        for combo in itertools.product(*ranges):
            # Slice format_vector's own output so the pieces are canonical by construction.
            parts = scoring.format_vector({**lows, **dict(zip(group, combo, strict=True))})
            pieces = parts.split("/")[1 + start : 1 + start + len(group)]
            entries.append(("MoRiLE:1/" if start == 0 else "/") + "/".join(pieces))
        tables.append(np.array(entries, dtype=object))
        start += len(group)
    return tuple(tables)


def _vectors(inputs: dict[str, Ints]) -> Objects:
    """Canonical vectors (without age) of a batch, by table look-up instead of formatting."""
    result: Objects | None = None
    for group, table in zip(_VECTOR_GROUPS, _vector_tables(), strict=True):
        code = np.zeros(len(inputs["P"]), dtype=np.int64)
        for key in group:  # mixed radix, last key fastest, as itertools.product counts
            lo, hi = KEY_RANGES[key]
            code = code * (hi - lo + 1) + (inputs[key] - lo)
        piece: Objects = table[code]
        result = piece if result is None else result + piece
    assert result is not None
    return result


def _stamps(us: Ints, null: Any, mask: npt.NDArray[np.bool_] | None = None) -> Objects:
    """'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite format, also valid PostgreSQL input)."""
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us")
    text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(" ")  # 'T' -> ' ' in place
    out: Objects = text.astype(object)
    if mask is not None:
        out[~mask] = null
    return out


def _dates(days: Ints, null: Any, mask: npt.NDArray[np.bool_]) -> Objects:
    """'YYYY-MM-DD' for days since 1970 where mask is set, the null value elsewhere."""
    out: Objects = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)
    out[~mask] = null
    return out


def _or_null(values: npt.NDArray[Any], null: Any, mask: npt.NDArray[np.bool_]) -> Objects:
    """Values where mask is set, the null value elsewhere."""
    out: Objects = values.astype(object)
    out[~mask] = null
    return out


def _pick(rng: np.random.Generator, values: npt.NDArray[Any], n: int) -> npt.NDArray[Any]:
    return values[rng.integers(0, len(values), n)]


@dataclass
class _Batch:
    """One batch of generated cases as Python lists per column (ids come at insert time)."""

    columns: dict[str, list[Any]]
    n: int


@dataclass
class _Assessed:
    """A batch's MoRiLE inputs, intelligence times and scores."""

    inputs: dict[str, Ints]
    intel_us: Ints
    ages: npt.NDArray[np.floating[Any]]
    scores: dict[str, npt.NDArray[Any]]


def _assess(rng: np.random.Generator, org: _Org, kind_index: Ints, now_us: int) -> _Assessed:
    """Skewed MoRiLE inputs and intelligence ages, scored in one score_arrays call."""
    n = len(kind_index)
    serious = rng.random(n) < SERIOUS_P[kind_index]
    # A latent seriousness drives all harms together: most cases are routine, a few grave.
    severity = np.where(serious, rng.beta(4.0, 2.5, n), rng.beta(1.2, 4.0, n))
    inputs: dict[str, Ints] = {}
    for key in ("P", "Ps", "F", "C"):
        inputs[key] = rng.binomial(4, np.clip(severity * rng.uniform(0.4, 1.4, n), 0.0, 1.0))
    inputs["S"] = 1 + rng.binomial(4, 0.15 + 0.5 * severity)
    inputs["V"] = np.where(
        serious, rng.choice(3, n, p=[0.3, 0.35, 0.35]), rng.choice(3, n, p=[0.6, 0.3, 0.1])
    )
    inputs["L"] = 1 + rng.binomial(4, 0.35 + 0.4 * severity)
    inputs["Cf"] = np.where(
        serious, rng.choice(3, n, p=[0.1, 0.4, 0.5]), rng.choice(3, n, p=[0.3, 0.5, 0.2])
    )
    for key in ("Ca", "Cb", "O"):
        inputs[key] = rng.choice(3, n, p=[0.3, 0.4, 0.3])
    inputs["T"] = (rng.random(n) < THREAT_P).astype(np.int64)
    # Intelligence ages 0-400 days, mostly recent; serious work is refreshed more often.
    age_days = np.where(serious, rng.exponential(30.0, n), rng.exponential(100.0, n))
    age_days = np.where(age_days > 400.0, rng.uniform(0.0, 400.0, n), age_days)
    intel_us = now_us - (age_days * US_PER_DAY).astype(np.int64)
    # The stored intelligence epoch (exact: int64 microseconds over 10**6) and the one age rule.
    ages = ages_at(intel_us / 1_000_000, now_us / 1_000_000)
    engine_columns = {key: inputs[key].astype(np.int8) for key in scoring.INTEGER_KEYS}
    scores = scoring.score_arrays({**engine_columns, "A": ages}, model=org.model)
    return _Assessed(inputs=inputs, intel_us=intel_us, ages=ages, scores=scores)


def _titles(
    rng: np.random.Generator, org: _Org, kind: Ints, asset_index: Ints
) -> tuple[Objects, Objects]:
    """Made-up codenames and titles: "Op AMBER KITE", "dogs on cuckooing", "..., east BCU"."""
    n = len(kind)
    is_request = kind == 3
    adjectives, nouns = np.array(ADJECTIVES, dtype=object), np.array(NOUNS, dtype=object)
    codename = "Op " + _pick(rng, adjectives, n) + " " + _pick(rng, nouns, n)
    subject = _pick(rng, np.array(SUBJECTS, dtype=object), n)
    phrases = np.array([ASSET_PHRASES.get(str(t), str(t)) for t in org.asset_types], object)
    connector = np.array([" on ", ", "], dtype=object)[(rng.random(n) >= 0.6).astype(np.int64)]
    request_title = phrases[asset_index] + connector + subject
    intel_title = subject + ", " + _pick(rng, np.array(AREAS, dtype=object), n) + " BCU"
    title = np.where(kind == 1, codename, np.where(is_request, request_title, intel_title))
    return codename, title


def _draw(rng: np.random.Generator, org: _Org, n: int, now_us: int, null: Any) -> _Batch:
    """Draw one batch of fictional cases and score it with one engine call; NULLs as `null`."""
    kind_index = rng.choice(3, n, p=KIND_P)
    kind = kind_index + 1  # CaseKind values
    assessed = _assess(rng, org, kind_index, now_us)
    inputs, scores = assessed.inputs, assessed.scores

    state_index = rng.choice(len(STATE_P), n, p=np.array(list(STATE_P.values())))
    state = np.array([s.value for s in STATE_P], dtype=object)[state_index]
    is_draft = state_index == list(STATE_P).index(State.DRAFT)
    moderated = np.array([s in MODERATED for s in STATE_P])[state_index]
    tasked = np.array([s in TASKED for s in STATE_P])[state_index]
    on_board = np.array([s in OPEN_STATES for s in STATE_P])[state_index]

    theme_id = org.theme_ids[rng.choice(len(org.theme_ids), n, p=org.theme_p)]
    has_bcu = rng.random(n) < BCU_P[kind_index]
    bcu_id = _pick(rng, org.bcu_ids, n)
    has_asset = rng.random(n) < ASSET_P[kind_index]
    asset_index = rng.integers(0, len(org.asset_types), n)
    asset_type = org.asset_types[asset_index]
    hub_id = _pick(rng, org.hub_ids, n)
    if org.asset_hubs is not None:  # a request goes to the hub that owns the asset
        hub_id = np.where(has_asset, org.asset_hubs[asset_index], hub_id)
    staff = _pick(rng, org.staff_ids, n)
    created_by = staff.copy()
    is_request = kind == 3
    for bcu, officers in org.requesters.items():
        mine = is_request & (bcu_id == bcu)
        created_by[mine] = officers[rng.integers(0, len(officers), int(mine.sum()))]
    requested = np.where(
        has_asset, np.where(is_request, rng.integers(8, 201, n), rng.integers(20, 401, n)), 0
    )
    allocated = np.where(tasked, (requested * rng.uniform(0.5, 1.0, n)).astype(np.int64), 0)
    strands = np.where(rng.random(n) < 0.85, 1, 0) | np.where(inputs["V"] > 0, 4, 0)
    strands |= np.where(rng.random(n) < 0.15, 2, 0) | np.where(rng.random(n) < 0.03, 8, 0)
    strands = np.where(strands == 0, 1, strands)

    submitted_us = now_us - rng.integers(0, 365 * US_PER_DAY, n)
    created_us = submitted_us - np.where(is_request, rng.integers(0, 2 * US_PER_DAY, n), 0)
    moderated_us = np.minimum(now_us, submitted_us + rng.integers(US_PER_DAY, 5 * US_PER_DAY, n))
    created_at = _stamps(created_us, null)
    submitted_at = _stamps(submitted_us, null, ~is_draft)
    listed_at = np.where(is_draft, created_at, submitted_at)  # bk_submitted and assessed_at
    moderated_at = _stamps(moderated_us, null, moderated)
    today = now_us // US_PER_DAY
    has_deadline = rng.random(n) < DEADLINE_P
    deadline = _dates(today + rng.integers(-14, 121, n), null, has_deadline)
    review = _dates(submitted_us // US_PER_DAY + rng.integers(28, 121, n), null, ~is_draft)

    codename, title = _titles(rng, org, kind, asset_index)
    closed = state_index == list(STATE_P).index(State.CLOSED)
    outcome = _or_null(_pick(rng, np.array(OUTCOMES, dtype=object), n), null, closed)
    moderation = np.where(
        moderated,
        np.where(rng.random(n) < 0.9, ModerationState.AGREED.value, ModerationState.VARIED.value),
        ModerationState.PENDING.value,
    )

    vector = _vectors(inputs)
    no_deadline = NO_DEADLINE.isoformat()
    columns: dict[str, Any] = {
        "kind": kind,
        "codename": _or_null(codename, null, kind == 1),
        "title": title,
        "theme_id": theme_id,
        "strands": strands,
        "bcu_id": _or_null(bcu_id, null, has_bcu),
        "hub_id": hub_id,
        "asset_type": _or_null(asset_type, null, has_asset),
        "requested_hours": requested,
        "allocated_hours": allocated,
        "opportunity_deadline": deadline,
        "next_review": review,
        "state": state,
        "outcome": outcome,
        "lead_id": _or_null(staff, null, ~is_draft),
        "created_by_id": created_by,
        "created_at": created_at,
        "submitted_at": submitted_at,
        "updated_at": np.where(moderated, moderated_at, listed_at),
        **{key.lower(): inputs[key] for key in scoring.INTEGER_KEYS},
        "vector": vector,
        "intel_at": _stamps(assessed.intel_us, null),
        "assessed_by_id": staff,
        "assessed_at": listed_at,
        "moderation": moderation,
        "moderated_by_id": _or_null(_pick(rng, org.staff_ids, n), null, moderated),
        "moderated_at": moderated_at,
        "on_board": on_board.astype(np.int64),
        **score_columns({**scores, "age_days": assessed.ages}, slice(None)),
        "threat": inputs["T"],
        "inputs": pack_input_columns(inputs),
        "intel_epoch": assessed.intel_us / 1_000_000,  # exactly epoch_seconds(intel_at)
        "bk_threat": 1 - inputs["T"],
        "bk_deadline": np.where(has_deadline, deadline, no_deadline),
        "bk_submitted": listed_at,
    }
    # Lists once per column: executemany and COPY want Python objects, and
    # tolist() is far faster than indexing numpy arrays row by row.
    return _Batch(columns={k: np.asarray(v).tolist() for k, v in columns.items()}, n=n)


TABLES = (
    ("case_record", CASE_COLUMNS),
    ("assessment", ASSESSMENT_COLUMNS),
    ("case_score", SCORE_COLUMNS),
)


def _constants(org: _Org, now: datetime) -> dict[str, Any]:
    """Columns whose value is the same for every generated case."""
    return {
        "summary": SUMMARY,
        "justification": "",
        "marking": Marking.OFFICIAL_SENSITIVE.value,
        "version": 1,
        "rationale": "",
        "moderation_note": "",
        "model_version_id": org.model_version_id,
        "scored_at": now.strftime(SQLITE_DATETIME),  # text: valid input for PostgreSQL too
        "score_version": 1,
    }


def _number(batch: _Batch, first_id: int) -> None:
    """Give the batch its ids (first_id onwards) and the references derived from them."""
    ids = list(range(first_id, first_id + batch.n))
    batch.columns["id"] = batch.columns["case_id"] = ids
    batch.columns["reference"] = [f"GEN-{i:07d}" for i in ids]


def _rows(
    batch: _Batch, names: Iterable[str], constants: dict[str, Any]
) -> Iterator[tuple[Any, ...]]:
    """Row tuples for one table, constants repeated."""
    lists = [
        itertools.repeat(constants[name], batch.n) if name in constants else batch.columns[name]
        for name in names
    ]
    return zip(*lists, strict=True)


def _literal(value: Any) -> str:
    """A constant as an SQL literal (strings and whole numbers only)."""
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _write_sqlite(dbapi: Any, batch: _Batch, constants: dict[str, Any]) -> None:
    """Insert one batch in one BEGIN IMMEDIATE transaction (executemany per table)."""
    cursor = dbapi.cursor()
    # BEGIN IMMEDIATE takes the write lock first, so the max id read below stays ours.
    cursor.execute("BEGIN IMMEDIATE")
    try:
        first = cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM case_record").fetchone()[0]
        _number(batch, int(first))
        for table, names in TABLES:
            # Constants go in the statement, so each row binds only what varies.
            bound = [name for name in names if name not in constants]
            values = [_literal(constants[n]) if n in constants else "?" for n in names]
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(values)})"
            cursor.executemany(sql, _rows(batch, bound, {}))
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    finally:
        cursor.close()


def _write_postgres(dbapi: Any, batch: _Batch, constants: dict[str, Any]) -> None:
    """Insert one batch in one transaction with COPY per table."""
    try:
        with dbapi.cursor() as cursor:
            # Timestamps are sent as UTC text. The lock keeps concurrent inserts (and so
            # their nextval) out while we take ids above both the max id and the sequence.
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
            cursor.execute("LOCK TABLE case_record IN EXCLUSIVE MODE")
            cursor.execute(
                "SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM case_record) + 1,"
                " nextval(pg_get_serial_sequence('case_record', 'id')))"
            )
            first = int(cursor.fetchone()[0])
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('case_record', 'id'), %s)",
                (first + batch.n - 1,),
            )
            _number(batch, first)
            for table, names in TABLES:
                with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in _rows(batch, names, constants):
                        copy.write_row(row)
        dbapi.commit()
    except BaseException:
        dbapi.rollback()
        raise


def generate_cases(
    *,
    engine: Engine,
    count: int,
    seed: int = 0,
    now: datetime | None = None,
    batch: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert `count` scored fictional cases (current score only, no history); returns count."""
    if count < 0:
        raise Invalid("count: must not be negative", fields={"count": "must not be negative"})
    if batch < 1:
        raise Invalid("batch: must be at least 1", fields={"batch": "must be at least 1"})
    # Naive UTC from here on: the stored text formats carry no offset.
    now = as_utc(now or utcnow()).replace(tzinfo=None)
    now_us = (now - EPOCH) // timedelta(microseconds=1)
    rng = np.random.default_rng(seed)
    org = _load_org(engine, rng)
    constants = _constants(org, now)
    sqlite = is_sqlite(engine)
    # SQLite stores a bound NaN as NULL; binding None instead costs ~1 us per value in
    # the sqlite3 module's adapter look-up, which was most of the insert time.
    null = float("nan") if sqlite else None
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection  # with the engine's page cache (tasking.db)
        for start in range(0, count, batch):
            drawn = _draw(rng, org, min(batch, count - start), now_us, null)
            if sqlite:
                _write_sqlite(dbapi, drawn, constants)
            else:
                _write_postgres(dbapi, drawn, constants)
            if progress is not None:
                progress(drawn.n)
    finally:
        raw.close()
    return count
