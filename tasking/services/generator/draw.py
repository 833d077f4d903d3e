"""Drawing a batch of fictional cases: inputs, scores, facts and board keys."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

import scoring
from scoring.vector import KEY_RANGES
from tasking.models import (
    NO_DEADLINE,
    OPEN_STATES,
    CaseKind,
    ModerationState,
    State,
    Strand,
)
from tasking.services.generator.arrays import or_null, pick
from tasking.services.generator.decide import decisions
from tasking.services.generator.org import Ints, Objects, Org
from tasking.services.generator.titles import subject_themes, titles
from tasking.services.generator.vocab import (
    ASSET_P,
    BCU_P,
    DEADLINE_P,
    DECIDED,
    KIND_P,
    MODERATED,
    OUTCOMES,
    SERIOUS_P,
    STATE_P,
    SUBJECTS,
    TASKED,
    THREAT_P,
    US_PER_DAY,
    VARIED_NOTE,
)
from tasking.services.scores import (
    ages_at,
    pack_input_columns,
    score_columns,
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


@dataclass
class Batch:
    """One batch of generated cases as Python lists per column (ids come at insert time).

    `decisions` holds one decision per decided case (`decision_rows`: which cases of
    the batch) and `assets` one tasked asset per adopted case (`asset_rows`).
    """

    columns: dict[str, list[Any]]
    n: int
    decisions: dict[str, list[Any]] = field(default_factory=dict)
    decision_rows: list[int] = field(default_factory=list)
    assets: dict[str, list[Any]] = field(default_factory=dict)
    asset_rows: list[int] = field(default_factory=list)


@dataclass
class _Assessed:
    """A batch's MoRiLE inputs, intelligence times and scores."""

    inputs: dict[str, Ints]
    intel_us: Ints
    ages: npt.NDArray[np.floating[Any]]
    scores: dict[str, npt.NDArray[Any]]


def _assess(rng: np.random.Generator, org: Org, kind_index: Ints, now_us: int) -> _Assessed:
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


def _draw_people(
    rng: np.random.Generator, org: Org, is_request: npt.NDArray[np.bool_], bcu_id: Ints, n: int
) -> tuple[Ints, Ints, Ints]:
    """The assessing member of staff, a moderator who is never the assessor (another member
    of staff, if any), and who created the case (a BCU's own officer for a request)."""
    staff_index = rng.integers(0, len(org.staff_ids), n)
    staff = org.staff_ids[staff_index]
    others = max(1, len(org.staff_ids) - 1)
    moderator = org.staff_ids[(staff_index + rng.integers(1, others + 1, n)) % len(org.staff_ids)]
    created_by = staff.copy()
    for bcu, officers in org.requesters.items():
        mine = is_request & (bcu_id == bcu)
        created_by[mine] = officers[rng.integers(0, len(officers), int(mine.sum()))]
    return staff, moderator, created_by


@dataclass
class _States:
    """Each drawn case's state and what follows from it."""

    index: Ints  # into STATE_P
    value: Objects
    draft: npt.NDArray[np.bool_]
    moderated: npt.NDArray[np.bool_]
    tasked: npt.NDArray[np.bool_]
    on_board: npt.NDArray[np.bool_]
    closed: npt.NDArray[np.bool_]
    decided: npt.NDArray[np.bool_]


def _draw_states(rng: np.random.Generator, n: int) -> _States:
    index = rng.choice(len(STATE_P), n, p=np.array(list(STATE_P.values())))

    def of(states: Any) -> npt.NDArray[np.bool_]:
        return np.array([s in states for s in STATE_P])[index]

    return _States(
        index=index,
        value=np.array([s.value for s in STATE_P], dtype=object)[index],
        draft=index == list(STATE_P).index(State.DRAFT),
        moderated=of(MODERATED),
        tasked=of(TASKED),
        on_board=of(OPEN_STATES),
        closed=index == list(STATE_P).index(State.CLOSED),
        decided=of(DECIDED),
    )


def _draw_strands(rng: np.random.Generator, inputs: dict[str, Ints], n: int) -> Ints:
    """Mostly Pursue; Protect where someone is vulnerable; now and then Prevent or Prepare."""
    strands = np.where(rng.random(n) < 0.85, int(Strand.PURSUE), 0)
    strands |= np.where(inputs["V"] > 0, int(Strand.PROTECT), 0)
    strands |= np.where(rng.random(n) < 0.15, int(Strand.PREVENT), 0)
    strands |= np.where(rng.random(n) < 0.03, int(Strand.PREPARE), 0)
    return np.where(strands == 0, int(Strand.PURSUE), strands)


def draw_batch(rng: np.random.Generator, org: Org, n: int, now_us: int, null: Any) -> Batch:
    """Draw one batch of fictional cases and score it with one engine call; NULLs as `null`."""
    kind_index = rng.choice(3, n, p=KIND_P)
    kind = kind_index + 1  # CaseKind values
    is_operation, is_request = kind == CaseKind.OPERATION, kind == CaseKind.REQUEST
    assessed = _assess(rng, org, kind_index, now_us)
    inputs, scores = assessed.inputs, assessed.scores
    states = _draw_states(rng, n)
    moderated, tasked = states.moderated, states.tasked

    # Requests and intelligence cases name a subject in their title: its theme; operations
    # (titled by codename) any theme, skewed.
    subject_index = rng.integers(0, len(SUBJECTS), n)
    subject_theme = subject_themes(org)[subject_index]
    theme_id = org.theme_ids[rng.choice(len(org.theme_ids), n, p=org.theme_p)]
    theme_id = np.where(~is_operation & (subject_theme >= 0), subject_theme, theme_id)
    has_bcu = rng.random(n) < BCU_P[kind_index]
    bcu_id = pick(rng, org.bcu_ids, n)
    has_asset = rng.random(n) < ASSET_P[kind_index]
    asset_index = rng.integers(0, len(org.asset_types), n)
    asset_type = org.asset_types[asset_index]
    hub_id = pick(rng, org.hub_ids, n)
    if org.asset_hubs is not None:  # a request goes to the hub that owns the asset
        hub_id = np.where(has_asset, org.asset_hubs[asset_index], hub_id)
    staff, moderator, created_by = _draw_people(rng, org, is_request, bcu_id, n)
    moderated &= moderator != staff
    requested = np.where(
        has_asset, np.where(is_request, rng.integers(8, 201, n), rng.integers(20, 401, n)), 0
    )
    # Tasked work has hours granted (adopting tasks at least one asset for at least an hour).
    asked = np.where(has_asset, requested, rng.integers(8, 41, n))
    allocated = np.where(
        tasked, np.maximum(1, (asked * rng.uniform(0.5, 1.0, n)).astype(np.int64)), 0
    )
    strands = _draw_strands(rng, inputs, n)

    is_draft = states.draft
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

    codename, title = titles(rng, org, kind, asset_index, subject_index)
    outcome = or_null(pick(rng, np.array(OUTCOMES, dtype=object), n), null, states.closed)
    moderation = np.where(
        moderated,
        np.where(rng.random(n) < 0.9, ModerationState.AGREED.value, ModerationState.VARIED.value),
        ModerationState.PENDING.value,
    )
    vector = _vectors(inputs)
    no_deadline = NO_DEADLINE.isoformat()
    columns: dict[str, Any] = {
        "kind": kind,
        "codename": or_null(codename, null, is_operation),
        "title": title,
        "theme_id": theme_id,
        "strands": strands,
        "bcu_id": or_null(bcu_id, null, has_bcu),
        "hub_id": hub_id,
        "asset_type": or_null(asset_type, null, has_asset),
        "requested_hours": requested,
        "allocated_hours": allocated,
        "opportunity_deadline": deadline,
        "next_review": review,
        "state": states.value,
        "outcome": outcome,
        "lead_id": or_null(staff, null, ~is_draft),
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
        "moderated_by_id": or_null(moderator, null, moderated),
        "moderated_at": moderated_at,
        "moderated_version": or_null(np.ones(n, dtype=np.int64), null, moderated),
        "moderation_note": np.where(moderation == ModerationState.VARIED.value, VARIED_NOTE, ""),
        "on_board": states.on_board.astype(np.int64),
        **score_columns({**scores, "age_days": assessed.ages}, slice(None)),
        "threat": inputs["T"],
        "inputs": pack_input_columns(inputs),
        "intel_epoch": assessed.intel_us / 1_000_000,  # exactly epoch_seconds(intel_at)
        "bk_threat": 1 - inputs["T"],
        "bk_deadline": np.where(has_deadline, deadline, no_deadline),
        "bk_submitted": listed_at,
    }
    decided = states.decided
    decided_us = np.minimum(now_us, moderated_us + rng.integers(0, 3 * US_PER_DAY, n))
    decision = decisions(
        rng, org, np.flatnonzero(decided), state=states.value, vector=vector, scores=scores,
        ages=assessed.ages, strands=strands, review=review, decided_at=_stamps(decided_us, null),
        hours=allocated, null=null,
    )  # fmt: skip
    tasked_rows = np.flatnonzero(tasked) if org.asset_ids is not None else np.array([], int)
    decided_rows = np.flatnonzero(decided)
    first_asset = org.asset_ids[asset_index] if org.asset_ids is not None else np.zeros(n, int)
    decision["asset_id"] = or_null(
        first_asset[decided_rows], null, tasked[decided_rows] & (org.asset_ids is not None)
    )
    assets = {
        # A case that named no asset type was given one of any type.
        "asset_id": (org.asset_ids[asset_index[tasked_rows]] if org.asset_ids is not None
                     else np.array([], int)),
        "hours": allocated[tasked_rows],
    }  # fmt: skip
    # Lists once per column: executemany and COPY want Python objects, and
    # tolist() is far faster than indexing numpy arrays row by row.
    return Batch(
        columns={k: np.asarray(v).tolist() for k, v in columns.items()},
        n=n,
        decisions={k: np.asarray(v).tolist() for k, v in decision.items()},
        decision_rows=np.flatnonzero(decided).tolist(),
        assets={k: np.asarray(v).tolist() for k, v in assets.items()},
        asset_rows=tasked_rows.tolist(),
    )
