"""The batch scorer: arrays of inputs in, arrays of scores out (docs/scoring.md, 'The arithmetic').

The input space is small and discrete, so the product of every discrete factor
is precomputed once per model in look-up tables (built with the same float64
operations, in the same order, as the formula), and a batch is scored by
packing each case's factor codes into one table index. Only freshness, which
depends on a continuous age, is computed per case. No Python loop over cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.model import Model
from scoring.modelfile import default_model
from scoring.vector import INPUT_KEYS, INTEGER_KEYS, KEY_RANGES

__all__ = ["OUTPUT_KEYS", "score_arrays", "validate_columns"]

OUTPUT_KEYS = (
    "harm_base",
    "total_harm",
    "risk",
    "freshness",
    "priority",
    "band",
    "position",
    "position_grade",
)

IntArray = npt.NDArray[np.integer[Any]]


def _first_bad(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def _check_integer_column(key: str, raw: Any, n: int | None) -> IntArray:
    values = np.asarray(raw)
    if values.ndim != 1:
        raise ValueError(f"{key}: must be a 1-D array, got {values.ndim} dimensions")
    if n is not None and values.shape[0] != n:
        raise ValueError(f"{key}: length {values.shape[0]} differs from {n}")
    lo, hi = KEY_RANGES[key]
    kind = values.dtype.kind
    if kind == "f":
        integral = np.isfinite(values) & (values == np.floor(values))
        if not integral.all():
            index = _first_bad(~integral)
            raise ValueError(f"{key}: index {index}: value {values[index]!r} is not a whole number")
    elif kind not in "iub":
        raise ValueError(f"{key}: must be an integer array, got dtype {values.dtype}")
    # The reductions are cheap; the index search only runs on failure.
    if values.size and (values.min() < lo or values.max() > hi):
        index = _first_bad((values < lo) | (values > hi))
        raise ValueError(f"{key}: index {index}: value {values[index]} out of range {lo}..{hi}")
    # Unsigned columns are narrowed too: uint64 mixed with signed ints promotes to
    # float64, which the in-place index packing below cannot cast back.
    if kind in "fbu":
        return values.astype(np.int8)
    return values


def _check_age(raw: Any, n: int) -> npt.NDArray[np.float64] | None:
    values = np.asarray(raw)
    if values.ndim != 1:
        raise ValueError(f"A: must be a 1-D array, got {values.ndim} dimensions")
    if values.shape[0] != n:
        raise ValueError(f"A: length {values.shape[0]} differs from {n}")
    if values.dtype.kind not in "iuf":
        raise ValueError(f"A: must be a numeric array of days, got dtype {values.dtype}")
    ages = values.astype(np.float64, copy=False)
    if ages.size:
        bad = ~(np.isfinite(ages) & (ages >= 0))
        if bad.any():
            index = _first_bad(bad)
            raise ValueError(f"A: index {index}: age {ages[index]!r} must be finite and >= 0")
        if not ages.any():
            return None  # all fresh: freshness is exactly 1 (skip the curve)
    return ages


def validate_columns(
    columns: Mapping[str, Any],
) -> tuple[dict[str, IntArray], npt.NDArray[np.float64] | None, int]:
    """Check every column of a batch; returns the integer columns, ages (or None) and N."""
    if not isinstance(columns, Mapping):
        raise ValueError("columns: must be a mapping of input key to array")
    for key in columns:
        if key not in INPUT_KEYS:
            raise ValueError(f"{key}: unknown key")
    for key in INTEGER_KEYS:
        if key not in columns:
            raise ValueError(f"{key}: missing column")
    n: int | None = None
    checked: dict[str, IntArray] = {}
    for key in INTEGER_KEYS:
        checked[key] = _check_integer_column(key, columns[key], n)
        n = checked[key].shape[0]
    assert n is not None
    ages = _check_age(columns["A"], n) if "A" in columns else None
    return checked, ages, n


def score_arrays(
    columns: Mapping[str, Any], *, model: Model | None = None
) -> dict[str, np.ndarray]:
    """Score a batch given as columns of inputs; returns arrays of length N (docs/scoring.md)."""
    model = model or default_model()
    cols, ages, n = validate_columns(columns)
    tables = model.lookup_tables()

    # Pack the factor codes into table indices: harm (P, Ps, F, C) 0..624, then
    # scope and vulnerability 0..9374, likelihood 0..46874, confidence 0..140624.
    index = cols["P"].astype(np.int32)
    for key in ("Ps", "F", "C"):
        index *= 5
        index += cols[key]
    harm_base = tables["harm_base"][index]
    index *= 5
    index += cols["S"]
    index -= 1
    index *= 3
    index += cols["V"]
    total_harm = tables["total_harm"][index]
    index *= 5
    index += cols["L"]
    index -= 1
    risk = tables["risk"][index]
    index *= 3
    index += cols["Cf"]
    priority = tables["priority_fresh"][index]
    del index

    if ages is None:
        freshness = np.ones(n, dtype=np.float64)
    else:
        freshness = model.freshness(ages)
        priority *= freshness

    # band: P3 by default, up one per threshold passed; threat to life is always P0
    band = np.full(n, 3, dtype=np.int8)
    band -= priority >= model.p2_threshold
    band -= priority >= model.p1_threshold
    band[cols["T"] != 0] = 0

    position = cols["Ca"].astype(np.int8)
    position += cols["Cb"]
    position += cols["O"]
    position_grade = (position >= model.adequate_position).view(np.int8)
    position_grade += position >= model.strong_position

    return {
        "harm_base": harm_base,
        "total_harm": total_harm,
        "risk": risk,
        "freshness": freshness,
        "priority": priority,
        "band": band,
        "position": position,
        "position_grade": position_grade,
    }
