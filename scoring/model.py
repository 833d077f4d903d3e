"""The scoring model: a frozen, hashed object holding every number the engine uses.

Its decay functions and the lookup tables built from it live here; reading and
checking a model file into one is scoring/modelfile.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "BANDS",
    "CONFIDENCE_LEVELS",
    "DECAY_FUNCTIONS",
    "DEFAULT_MODEL_PATH",
    "GRADES",
    "HARM_KEYS",
    "Model",
    "ModelError",
]

DEFAULT_MODEL_PATH = (
    Path(__file__).resolve().parent.parent / "config" / "models" / "sctac-default.toml"
)

HARM_KEYS = ("P", "Ps", "F", "C")
BANDS = ("P0", "P1", "P2", "P3")  # band codes 0..3
GRADES = ("Weak", "Adequate", "Strong")  # position_grade codes 0..2
CONFIDENCE_LEVELS = ("L", "M", "H")  # Cf codes 0..2
SCOPE_LEVELS = 5  # S = 1..5
VULNERABILITY_LEVELS = 3  # V = 0..2
MAX_POSITION = 6  # Ca + Cb + O, each 0..2

FloatArray = npt.NDArray[np.float64]
DecayFunction = Callable[[FloatArray, "Decay"], FloatArray]


class ModelError(ValueError):
    """A scoring model file is malformed; the message names the setting."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Decay:
    """Parameters of the freshness curve (how evidence loses weight with age)."""

    function: str
    lifetime_days: float
    shape: float
    floor: float


def _power_decay(age: FloatArray, decay: Decay) -> FloatArray:
    """freshness = 1 - (1 - floor) * min(1, A / lifetime) ** shape."""
    # In place on one fresh array: the same operations (and bits) as the formula,
    # without a temporary per step.
    result: FloatArray = np.divide(age, decay.lifetime_days)
    np.minimum(result, 1.0, out=result)
    result **= decay.shape
    result *= 1.0 - decay.floor
    np.subtract(1.0, result, out=result)
    return result


def _no_decay(age: FloatArray, decay: Decay) -> FloatArray:
    """Evidence never ages: freshness is always 1."""
    return np.ones(age.shape, dtype=np.float64)


# Named, registered decay shapes: an unknown name fails when the model loads.
DECAY_FUNCTIONS: Mapping[str, DecayFunction] = {"power": _power_decay, "none": _no_decay}
# For each shape, the age from which freshness stays exactly the same for ever.
DECAY_SETTLES: Mapping[str, Callable[[Decay], float]] = {
    "power": lambda decay: decay.lifetime_days,  # min(1, A / lifetime) is exactly 1 from there
    "none": lambda decay: 0.0,
}


@dataclass(frozen=True, slots=True)
class Model:
    """A validated, immutable scoring model. Build it with `load_model`."""

    name: str
    version: int
    description: str
    weights: tuple[float, float, float, float]  # P, Ps, F, C
    scope: tuple[float, ...]  # index S - 1
    vulnerability: tuple[float, ...]  # index V
    confidence: tuple[float, float, float]  # index Cf code (L, M, H)
    p1_threshold: float
    p2_threshold: float
    strong_position: int
    adequate_position: int
    decay: Decay
    grading: tuple[tuple[str, str, str], ...]  # [band code][grade code]
    content_hash: str
    source: str = ""
    # A cache, not a field: a copy made with dataclasses.replace starts without tables.
    _tables: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def label(self) -> str:
        """The model's name and version as stored with every score, e.g. 'sctac-default:1'."""
        return f"{self.name}:{self.version}"

    def freshness(self, age: FloatArray) -> FloatArray:
        """Freshness multiplier for an array of intelligence ages in days."""
        return DECAY_FUNCTIONS[self.decay.function](age, self.decay)

    @property
    def settled_age_days(self) -> float:
        """The age from which freshness, so the whole score, no longer changes with age.

        A case scored under this model at or beyond this age, and still beyond it,
        scores the same bits again: a nightly rescore can leave it unread.
        """
        return DECAY_SETTLES[self.decay.function](self.decay)

    def grading_text(self, band: int, grade: int) -> str:
        """The chair's recommendation for a band code and position grade code."""
        return self.grading[band][grade]

    def lookup_tables(self) -> dict[str, FloatArray]:
        """Precomputed score tables over the whole discrete input space (built once)."""
        if not self._tables:
            self._tables.update(_build_tables(self))
        return self._tables


def _build_tables(model: Model) -> dict[str, FloatArray]:
    """Tables indexed by the packed factor codes; same operation order as the formula."""
    levels = np.arange(5, dtype=np.float64)
    w_p, w_ps, w_f, w_c = model.weights
    # harm_base[P, Ps, F, C], flattened with C varying fastest
    harm_base = (
        (w_p * levels)[:, None, None, None]
        + (w_ps * levels)[None, :, None, None]
        + (w_f * levels)[None, None, :, None]
        + (w_c * levels)[None, None, None, :]
    ).reshape(-1)
    scope = np.asarray(model.scope, dtype=np.float64)
    vuln = np.asarray(model.vulnerability, dtype=np.float64)
    total_harm = (harm_base[:, None, None] * scope[None, :, None] * vuln[None, None, :]).reshape(-1)
    likelihood = np.arange(1, 6, dtype=np.float64)
    risk = (total_harm[:, None] * likelihood[None, :]).reshape(-1)
    conf = np.asarray(model.confidence, dtype=np.float64)
    priority_fresh = (risk[:, None] * conf[None, :]).reshape(-1)
    tables = {
        "harm_base": harm_base,
        "total_harm": total_harm,
        "risk": risk,
        "priority_fresh": priority_fresh,
    }
    for table in tables.values():
        table.flags.writeable = False
    return tables
