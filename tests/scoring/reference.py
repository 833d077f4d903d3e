"""A plain-Python reference for docs/scoring.md, 'The arithmetic' and 'Ranking'.

Written from the contract, not from the engine: one case at a time, plain
floats, the formula in the contract's operation order. It reads only the
numbers of a loaded model (never its look-up tables), so the tests and the
benchmark (bench/bench_scoring.py) can hold the NumPy engine against it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scoring import Model, default_model

__all__ = [
    "BAND_NAMES",
    "CONFIDENCE_CODES",
    "GRADE_NAMES",
    "KEY_ORDER",
    "RANGES",
    "rank_reference",
    "reference_vector",
    "score_case",
    "score_many",
]

# docs/scoring.md, 'Inputs', in the table's order (the canonical vector order).
RANGES: dict[str, tuple[int, int]] = {
    "P": (0, 4),
    "Ps": (0, 4),
    "F": (0, 4),
    "C": (0, 4),
    "S": (1, 5),
    "V": (0, 2),
    "L": (1, 5),
    "Cf": (0, 2),
    "Ca": (0, 2),
    "Cb": (0, 2),
    "O": (0, 2),
    "T": (0, 1),
}
KEY_ORDER = (*RANGES, "A")
CONFIDENCE_CODES = {"L": 0, "M": 1, "H": 2}  # docs/scoring.md, 'Public Python API'
CONFIDENCE_NAMES = {code: name for name, code in CONFIDENCE_CODES.items()}
BAND_NAMES = ("P0", "P1", "P2", "P3")
GRADE_NAMES = ("Weak", "Adequate", "Strong")


def _confidence_code(value: Any) -> int:
    if isinstance(value, str):
        if value not in CONFIDENCE_CODES:
            raise ValueError(f"Cf: must be H, M or L, got {value!r}")
        return CONFIDENCE_CODES[value]
    return int(value)


def _normalise(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Whole-number levels, Cf as its code, A as float days (0 when absent)."""
    unknown = set(inputs) - set(KEY_ORDER)
    if unknown:
        raise ValueError(f"unknown keys: {sorted(unknown)}")
    case: dict[str, Any] = {}
    for key, (lo, hi) in RANGES.items():
        if key not in inputs:
            raise ValueError(f"{key}: missing")
        raw = inputs[key]
        value = _confidence_code(raw) if key == "Cf" else int(raw)
        if value != raw and key != "Cf":
            raise ValueError(f"{key}: not a whole number: {raw!r}")
        if not lo <= value <= hi:
            raise ValueError(f"{key}: {value} out of range {lo}..{hi}")
        case[key] = value
    age = float(inputs.get("A", 0.0))
    if not (math.isfinite(age) and age >= 0.0):
        raise ValueError(f"A: must be finite and >= 0, got {age!r}")
    case["A"] = age
    return case


def reference_vector(case: Mapping[str, Any]) -> str:
    """The canonical vector string: table order, Cf as a letter, A last and only when not 0."""
    parts = ["MoRiLE:1"]
    for key in RANGES:
        value = case[key]
        shown = CONFIDENCE_NAMES[_confidence_code(value)] if key == "Cf" else str(int(value))
        parts.append(f"{key}:{shown}")
    age = float(case.get("A", 0.0))
    if age != 0.0:
        whole = age == math.floor(age) and age < 1e15
        parts.append(f"A:{int(age)}" if whole else f"A:{age!r}")
    return "/".join(parts)


def _freshness(age: float, model: Model) -> float:
    decay = model.decay
    if decay.function == "none":
        return 1.0
    if decay.function == "power":
        fraction = min(1.0, age / decay.lifetime_days)
        return 1.0 - (1.0 - decay.floor) * fraction**decay.shape
    raise ValueError(f"reference knows no decay function {decay.function!r}")


def score_case(inputs: Mapping[str, Any], model: Model | None = None) -> dict[str, Any]:
    """Score one case the slow, obvious way; same fields as scoring.score_vectors."""
    model = model or default_model()
    case = _normalise(inputs)
    w_p, w_ps, w_f, w_c = model.weights
    harm_base = w_p * case["P"] + w_ps * case["Ps"] + w_f * case["F"] + w_c * case["C"]
    total_harm = harm_base * model.scope[case["S"] - 1] * model.vulnerability[case["V"]]
    risk = total_harm * case["L"]
    freshness = _freshness(case["A"], model)
    priority = risk * model.confidence[case["Cf"]] * freshness

    if case["T"] == 1:
        band = "P0"
    elif priority >= model.p1_threshold:
        band = "P1"
    elif priority >= model.p2_threshold:
        band = "P2"
    else:
        band = "P3"
    position = case["Ca"] + case["Cb"] + case["O"]
    if position >= model.strong_position:
        grade = "Strong"
    elif position >= model.adequate_position:
        grade = "Adequate"
    else:
        grade = "Weak"
    return {
        "vector": reference_vector(case),
        "harm_base": harm_base,
        "total_harm": total_harm,
        "risk": risk,
        "freshness": freshness,
        "priority": priority,
        "band": band,
        "position": position,
        "position_grade": grade,
        "grading": model.grading[BAND_NAMES.index(band)][GRADE_NAMES.index(grade)],
        "model": f"{model.name}:{model.version}",
        "model_hash": model.content_hash,
    }


def score_many(
    cases: Sequence[Mapping[str, Any]], model: Model | None = None
) -> list[dict[str, Any]]:
    """Score a list of cases one at a time (the scalar path)."""
    model = model or default_model()
    return [score_case(case, model) for case in cases]


def rank_reference(
    priority: Sequence[float],
    threat: Sequence[int],
    position: Sequence[int],
    *,
    deadline: Sequence[float] | None = None,
    submitted: Sequence[float] | None = None,
    ids: Sequence[int] | None = None,
) -> list[int]:
    """Row indices in board order (docs/scoring.md), by Python's sorted() on a tuple key.

    NaN in `deadline` means no deadline; without `ids` the row index is the id.
    """
    n = len(priority)

    def key(i: int) -> tuple[Any, ...]:
        when = None if deadline is None else float(deadline[i])
        has_deadline = when is not None and not math.isnan(when)
        return (
            0 if threat[i] else 1,  # 1. threat to life first
            -float(priority[i]),  # 2. priority, highest first
            -int(position[i]),  # 3. position, highest first
            (0, when) if has_deadline else (1, 0.0),  # 4. soonest deadline; none last
            0.0 if submitted is None else float(submitted[i]),  # 5. oldest submission
            i if ids is None else int(ids[i]),  # 6. lowest id
        )

    return sorted(range(n), key=key)
