"""Load and validate a scoring model file into a frozen, hashed model object.

Every number the engine uses comes from here. A malformed file fails at load
time with a message naming the setting, never later at scoring time.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
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
    "default_model",
    "load_model",
    "load_model_text",
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


_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TOP_LEVEL = {
    "name",
    "version",
    "description",
    "weights",
    "multipliers",
    "bands",
    "position",
    "decay",
    "grading",
}


def _table(
    data: Mapping[str, Any], key: str, allowed: set[str], *, within: str = ""
) -> Mapping[str, Any]:
    # `within` is the parent table, so a nested table is named in full
    # ("grading.P1", not "P1", which would read like "bands.P1").
    setting = f"{within}.{key}" if within else key
    value = data.get(key)
    if value is None:
        raise ModelError(setting, "missing table")
    if not isinstance(value, Mapping):
        raise ModelError(setting, "must be a table")
    for extra in sorted(set(value) - allowed):
        raise ModelError(f"{setting}.{extra}", "unknown setting")
    return value


def _number(value: Any, setting: str, *, minimum: float | None = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelError(setting, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ModelError(setting, "must be finite")
    if minimum is not None and number < minimum:
        raise ModelError(setting, f"must be at least {minimum:g}, got {number:g}")
    return number


def _required(table: Mapping[str, Any], key: str, setting: str) -> Any:
    if key not in table:
        raise ModelError(setting, "missing")
    return table[key]


def _multiplier_list(
    table: Mapping[str, Any], key: str, count: int, what: str
) -> tuple[float, ...]:
    setting = f"multipliers.{key}"
    values = _required(table, key, setting)
    if not isinstance(values, list):
        raise ModelError(setting, f"must be a list of {count} numbers ({what})")
    if len(values) != count:
        raise ModelError(setting, f"expected {count} values ({what}), got {len(values)}")
    numbers = tuple(_number(v, f"{setting}[{i}]") for i, v in enumerate(values))
    _non_decreasing(numbers, setting)
    return numbers


def _non_decreasing(numbers: tuple[float, ...], setting: str) -> None:
    # A higher level must never lower the score (docs/scoring.md: monotone).
    for i in range(1, len(numbers)):
        if numbers[i] < numbers[i - 1]:
            raise ModelError(
                setting, f"values must not decrease (value {i} is below value {i - 1})"
            )


def _parse(data: Mapping[str, Any], content_hash: str, source: str) -> Model:
    for extra in sorted(set(data) - _TOP_LEVEL):
        raise ModelError(extra, "unknown setting")
    name, version, description = _parse_identity(data)
    weights_table = _table(data, "weights", set(HARM_KEYS))
    w_p, w_ps, w_f, w_c = (
        _number(_required(weights_table, k, f"weights.{k}"), f"weights.{k}") for k in HARM_KEYS
    )
    scope, vulnerability, confidence = _parse_multipliers(data)
    p1, p2 = _parse_bands(data)
    strong, adequate = _parse_position(data)
    decay = _parse_decay(_table(data, "decay", {"function", "lifetime_days", "shape", "floor"}))
    return Model(
        name=name,
        version=version,
        description=description,
        weights=(w_p, w_ps, w_f, w_c),
        scope=scope,
        vulnerability=vulnerability,
        confidence=confidence,
        p1_threshold=p1,
        p2_threshold=p2,
        strong_position=strong,
        adequate_position=adequate,
        decay=decay,
        grading=_parse_grading(data),
        content_hash=content_hash,
        source=source,
    )


def _parse_identity(data: Mapping[str, Any]) -> tuple[str, int, str]:
    """name (a slug), version (a whole number from 1) and the optional description."""
    name = _required(data, "name", "name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ModelError("name", "must be a lower-case slug of letters, digits, '-', '_' or '.'")
    version = _required(data, "version", "version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelError("version", f"must be a whole number of at least 1, got {version!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ModelError("description", "must be text")
    return name, version, description


def _parse_multipliers(
    data: Mapping[str, Any],
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, float, float]]:
    """The scope, vulnerability and confidence multipliers (confidence L <= M <= H)."""
    mult = _table(data, "multipliers", {"scope", "vulnerability", "confidence"})
    scope = _multiplier_list(mult, "scope", SCOPE_LEVELS, "S = 1..5")
    vulnerability = _multiplier_list(mult, "vulnerability", VULNERABILITY_LEVELS, "V = 0..2")
    conf_table = _table(mult, "confidence", set(CONFIDENCE_LEVELS), within="multipliers")
    c_l, c_m, c_h = (
        _number(
            _required(conf_table, k, f"multipliers.confidence.{k}"), f"multipliers.confidence.{k}"
        )
        for k in CONFIDENCE_LEVELS
    )
    _non_decreasing((c_l, c_m, c_h), "multipliers.confidence (L <= M <= H)")
    return scope, vulnerability, (c_l, c_m, c_h)


def _parse_bands(data: Mapping[str, Any]) -> tuple[float, float]:
    """The P1 and P2 priority thresholds, P1 above P2."""
    bands = _table(data, "bands", {"P1", "P2"})
    p1 = _number(_required(bands, "P1", "bands.P1"), "bands.P1")
    p2 = _number(_required(bands, "P2", "bands.P2"), "bands.P2")
    if not p1 > p2:
        raise ModelError("bands", f"thresholds must increase from P2 to P1 (P2 {p2:g}, P1 {p1:g})")
    return p1, p2


def _parse_position(data: Mapping[str, Any]) -> tuple[int, int]:
    """The strong and adequate organisational position thresholds, strong above adequate."""
    position = _table(data, "position", {"strong", "adequate"})
    strong = _required(position, "strong", "position.strong")
    adequate = _required(position, "adequate", "position.adequate")
    for key, value in (("strong", strong), ("adequate", adequate)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITION:
            raise ModelError(f"position.{key}", f"must be a whole number 0..{MAX_POSITION}")
    if not strong > adequate:
        raise ModelError(
            "position", f"thresholds must increase from adequate to strong ({adequate}, {strong})"
        )
    return strong, adequate


def _parse_grading(data: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The grading text of every band and position grade, none empty."""
    grading_table = _table(data, "grading", set(BANDS))
    grading = []
    for band in BANDS:
        row = _table(grading_table, band, set(GRADES), within="grading")
        texts = []
        for grade in GRADES:
            text = _required(row, grade, f"grading.{band}.{grade}")
            if not isinstance(text, str) or not text.strip():
                raise ModelError(f"grading.{band}.{grade}", "must be non-empty text")
            texts.append(text)
        grading.append((texts[0], texts[1], texts[2]))
    return tuple(grading)


def _parse_decay(table: Mapping[str, Any]) -> Decay:
    function = _required(table, "function", "decay.function")
    if function not in DECAY_FUNCTIONS:
        known = ", ".join(sorted(DECAY_FUNCTIONS))
        raise ModelError("decay.function", f"unknown decay shape {function!r} (known: {known})")
    lifetime = _number(
        _required(table, "lifetime_days", "decay.lifetime_days"), "decay.lifetime_days"
    )
    if lifetime <= 0:
        raise ModelError("decay.lifetime_days", "must be greater than 0")
    shape = _number(_required(table, "shape", "decay.shape"), "decay.shape")
    if shape <= 0:
        raise ModelError("decay.shape", "must be greater than 0")
    floor = _number(_required(table, "floor", "decay.floor"), "decay.floor")
    if floor > 1:
        raise ModelError("decay.floor", f"must be between 0 and 1, got {floor:g}")
    return Decay(function=function, lifetime_days=lifetime, shape=shape, floor=floor)


def load_model_text(text: str, *, source: str = "<text>") -> Model:
    """Validate model TOML text and return the frozen model; raises ModelError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(source, f"not valid TOML: {exc}") from None
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _parse(data, content_hash, source)


def load_model(path: str | Path) -> Model:
    """Load and validate a model file; raises ModelError naming the bad setting."""
    path = Path(path)
    try:
        # Bytes, then decode: read_text() would translate CRLF line endings and
        # the content hash would no longer be the hash of the file as stored.
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(str(path), f"cannot read model file: {exc}") from None
    return load_model_text(text, source=str(path))


@cache
def default_model() -> Model:
    """The default model shipped in config/models (loaded and validated once)."""
    return load_model(DEFAULT_MODEL_PATH)
