"""Read a scoring model file (TOML) and check it into a Model.

A malformed file fails at load time with a message naming the setting, never
later at scoring time. The file's SHA-256 is the model's content hash.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from scoring.model import (
    BANDS,
    CONFIDENCE_LEVELS,
    DECAY_FUNCTIONS,
    DEFAULT_MODEL_PATH,
    GRADES,
    HARM_KEYS,
    MAX_POSITION,
    SCOPE_LEVELS,
    VULNERABILITY_LEVELS,
    Decay,
    Model,
    ModelError,
)

__all__ = ["default_model", "load_model", "load_model_text"]

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
