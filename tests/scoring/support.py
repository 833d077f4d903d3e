"""Shared helpers for the scoring tests: random batches and one-change model variants."""

from __future__ import annotations

from typing import Any

import numpy as np

from scoring import Model, load_model_text
from scoring.model import DEFAULT_MODEL_PATH
from tests.scoring.reference import RANGES

DEFAULT_TEXT = DEFAULT_MODEL_PATH.read_text(encoding="utf-8")

# An awkward but valid model: fractional weights and multipliers, a different
# decay curve, thresholds that are not round numbers.
ODD_MODEL_EDITS = (
    ("P = 1.0 ", "P = 1.3 "),
    ("Ps = 1.0 ", "Ps = 0.7 "),
    ("F = 1.0 ", "F = 0.45 "),
    ("C = 1.0 ", "C = 1.1 "),
    ("scope = [1.0, 1.2, 1.4, 1.6, 1.8]", "scope = [0.9, 1.15, 1.15, 1.7, 2.05]"),
    ("vulnerability = [1.0, 1.2, 1.5]", "vulnerability = [1.0, 1.33, 1.9]"),
    ("confidence = { L = 0.7, M = 0.85, H = 1.0 }", "confidence = { L = 0.55, M = 0.8, H = 1.05 }"),
    ("P1 = 90.0", "P1 = 77.7"),
    ("P2 = 45.0", "P2 = 33.3"),
    ("lifetime_days = 180.0", "lifetime_days = 97.5"),
    ("shape = 2.0", "shape = 1.37"),
    ("floor = 0.5", "floor = 0.3"),
    ("version = 1", "version = 7"),
)


def edit_text(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence of `old`; fails loudly if the model file changed."""
    assert text.count(old) == 1, f"expected exactly one {old!r} in the model text"
    return text.replace(old, new)


def model_text_with(*edits: tuple[str, str], text: str = DEFAULT_TEXT) -> str:
    """The default model text with each (old, new) edit applied once."""
    for old, new in edits:
        text = edit_text(text, old, new)
    return text


def odd_model() -> Model:
    """A valid model whose every number differs from the default."""
    return load_model_text(model_text_with(*ODD_MODEL_EDITS), source="odd.toml")


def random_columns(
    rng: np.random.Generator, n: int, *, with_age: bool = True
) -> dict[str, np.ndarray]:
    """A random batch covering the whole input space, ages fractional, whole, 0 and very old."""
    columns = {
        key: rng.integers(lo, hi + 1, size=n).astype(np.int64) for key, (lo, hi) in RANGES.items()
    }
    if with_age:
        age = rng.uniform(0.0, 400.0, size=n)
        kind = rng.integers(0, 4, size=n)
        age[kind == 0] = 0.0
        age[kind == 1] = np.floor(age[kind == 1])
        columns["A"] = age
    return columns


def columns_to_cases(columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """One plain dict per row, Python ints and floats, Cf as its letter."""
    n = len(columns["P"])
    cases = []
    for i in range(n):
        case: dict[str, Any] = {key: int(columns[key][i]) for key in RANGES}
        case["Cf"] = "LMH"[case["Cf"]]
        if "A" in columns:
            case["A"] = float(columns["A"][i])
        cases.append(case)
    return cases
