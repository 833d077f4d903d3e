"""Explain one case's score: factor contributions and the nearest band changes.

An explanation is for people (the case page, the chair, a BCU), so it works
on one case; the candidates it tries are still scored in one batch call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.engine import score_arrays
from scoring.model import BANDS, CONFIDENCE_LEVELS, GRADES, HARM_KEYS, Model
from scoring.modelfile import default_model
from scoring.vector import INTEGER_KEYS, KEY_RANGES, Inputs

__all__ = ["BandMove", "Explanation", "explain"]

FACTOR_NAMES = {
    "P": "physical harm",
    "Ps": "psychological harm",
    "F": "financial harm",
    "C": "community harm",
    "S": "scope",
    "V": "vulnerability",
    "L": "likelihood",
    "Cf": "confidence",
    "A": "intelligence age",
}
# Factors that can move priority. T is a fact that sets P0 outright, and the
# position factors (Ca, Cb, O) do not enter priority at all.
_LEVERS = ("P", "Ps", "F", "C", "S", "V", "L", "Cf")
_AGE_SEARCH_STEPS = 60


@dataclass(frozen=True, slots=True)
class BandMove:
    """The smallest change of one factor that moves the case to another band."""

    factor: str
    before: str
    after: str
    band_before: str
    band_after: str
    priority_after: float

    def __str__(self) -> str:
        name = FACTOR_NAMES[self.factor]
        return f"{name} {self.before} -> {self.after} moves {self.band_before} to {self.band_after}"


@dataclass(frozen=True, slots=True)
class Explanation:
    """How a case's score was made and what would change its band."""

    vector: str
    model: str
    model_hash: str
    harm_contributions: dict[str, float]  # sums to harm_base
    harm_base: float
    scope_multiplier: float
    vulnerability_multiplier: float
    total_harm: float
    likelihood: int
    risk: float
    confidence_multiplier: float
    freshness: float
    priority: float
    band: str
    position: int
    position_grade: str
    grading: str
    moves: tuple[BandMove, ...]


def _display(key: str, value: float) -> str:
    if key == "Cf":
        return CONFIDENCE_LEVELS[int(value)]
    if key == "A":
        return f"{value:.1f} days"
    return str(int(value))


def _score_rows(rows: list[dict[str, float]], model: Model) -> dict[str, np.ndarray]:
    columns = {key: np.array([row[key] for row in rows]) for key in (*INTEGER_KEYS, "A")}
    return score_arrays(columns, model=model)


def _nearest_moves(inputs: Inputs, band: int, model: Model) -> list[BandMove]:
    base = {k: float(v) for k, v in inputs.as_dict().items()}
    rows: list[dict[str, float]] = []
    changes: list[tuple[str, float]] = []
    for key in _LEVERS:
        lo, hi = KEY_RANGES[key]
        for level in range(lo, hi + 1):
            if level != base[key]:
                rows.append({**base, key: float(level)})
                changes.append((key, float(level)))
    scored = _score_rows(rows, model)
    best: dict[tuple[str, int], tuple[float, BandMove]] = {}
    for i, (key, value) in enumerate(changes):
        new_band = int(scored["band"][i])
        if new_band == band:
            continue
        direction = 1 if new_band < band else -1  # lower code = higher band
        distance = abs(value - base[key])
        move = BandMove(
            factor=key,
            before=_display(key, base[key]),
            after=_display(key, value),
            band_before=BANDS[band],
            band_after=BANDS[new_band],
            priority_after=float(scored["priority"][i]),
        )
        slot = (key, direction)
        if slot not in best or distance < best[slot][0]:
            best[slot] = (distance, move)
    moves = [move for _, move in sorted(best.values(), key=lambda item: item[0])]
    age_move = _age_move(base, band, model)
    if age_move is not None:
        moves.append(age_move)
    return moves


def _age_move(base: dict[str, float], band: int, model: Model) -> BandMove | None:
    """The age at which ageing intelligence drops the case a band, if it ever does.

    Without decay, or once the lifetime is reached, the band at the lifetime is
    the band now, so such cases return None from the first check.
    """
    lifetime = model.decay.lifetime_days
    after = _score_rows([{**base, "A": lifetime}], model)
    if int(after["band"][0]) == band:
        return None
    lo, hi = base["A"], lifetime  # band unchanged at lo, changed at hi (scored as `after`)
    for _ in range(_AGE_SEARCH_STEPS):
        mid = (lo + hi) / 2
        scored = _score_rows([{**base, "A": mid}], model)
        if int(scored["band"][0]) == band:
            lo = mid
        else:
            hi, after = mid, scored
    return BandMove(
        factor="A",
        before=_display("A", base["A"]),
        after=_display("A", hi),
        band_before=BANDS[band],
        band_after=BANDS[int(after["band"][0])],
        priority_after=float(after["priority"][0]),
    )


def explain(inputs: Inputs, *, model: Model | None = None) -> Explanation:
    """Explain one case: contributions, multipliers and the nearest band moves."""
    model = model or default_model()
    values = inputs.as_dict()
    scored = _score_rows([{k: float(v) for k, v in values.items()}], model)
    band = int(scored["band"][0])
    grade = int(scored["position_grade"][0])
    contributions = {
        key: weight * float(values[key])
        for key, weight in zip(HARM_KEYS, model.weights, strict=True)
    }
    return Explanation(
        vector=inputs.vector,
        model=model.label,
        model_hash=model.content_hash,
        harm_contributions=contributions,
        harm_base=float(scored["harm_base"][0]),
        scope_multiplier=model.scope[inputs.S - 1],
        vulnerability_multiplier=model.vulnerability[inputs.V],
        total_harm=float(scored["total_harm"][0]),
        likelihood=inputs.L,
        risk=float(scored["risk"][0]),
        confidence_multiplier=model.confidence[inputs.Cf],
        freshness=float(scored["freshness"][0]),
        priority=float(scored["priority"][0]),
        band=BANDS[band],
        position=int(scored["position"][0]),
        position_grade=GRADES[grade],
        grading=model.grading_text(band, grade),
        moves=tuple(_nearest_moves(inputs, band, model)) if not inputs.T else (),
    )
