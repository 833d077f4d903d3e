"""Parse and format MoRiLE vector strings (docs/scoring.md, 'The vector string').

    MoRiLE:1/P:3/Ps:3/F:2/C:3/S:4/V:2/L:5/Cf:H/Ca:2/Cb:2/O:2/T:0/A:12.5

Parsing is strict: nothing is ever scored from a partly valid vector.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from scoring.model import CONFIDENCE_LEVELS

__all__ = [
    "INPUT_KEYS",
    "INTEGER_KEYS",
    "KEY_RANGES",
    "VECTOR_PREFIX",
    "Inputs",
    "VectorError",
    "format_age",
    "format_vector",
    "parse_vector",
]

VECTOR_PREFIX = "MoRiLE:1"

# Integer-coded keys and their inclusive ranges, in canonical order.
KEY_RANGES: Mapping[str, tuple[int, int]] = {
    "P": (0, 4),
    "Ps": (0, 4),
    "F": (0, 4),
    "C": (0, 4),
    "S": (1, 5),
    "V": (0, 2),
    "L": (1, 5),
    "Cf": (0, 2),  # codes of CONFIDENCE_LEVELS: 0 = L, 1 = M, 2 = H
    "Ca": (0, 2),
    "Cb": (0, 2),
    "O": (0, 2),
    "T": (0, 1),
}
INTEGER_KEYS = tuple(KEY_RANGES)
INPUT_KEYS = (*INTEGER_KEYS, "A")
MAX_VECTOR_LENGTH = 256

_DIGITS = re.compile(r"[0-9]{1,3}")
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class VectorError(ValueError):
    """A vector string or input value is invalid; names the key and the reason."""

    def __init__(self, key: str, reason: str, *, index: int | None = None) -> None:
        where = "" if index is None else f"vector {index}: "
        super().__init__(f"{where}{key}: {reason}")
        self.key = key
        self.reason = reason
        self.index = index


@dataclass(frozen=True, slots=True)
class Inputs:
    """The validated inputs of one case (Cf as its integer code)."""

    P: int
    Ps: int
    F: int
    C: int
    S: int
    V: int
    L: int
    Cf: int
    Ca: int
    Cb: int
    O: int  # noqa: E741 - the contract's key name
    T: int
    A: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        """Inputs keyed by contract key (docs/scoring.md), Cf as its integer code."""
        return {key: getattr(self, key) for key in INPUT_KEYS}

    @property
    def vector(self) -> str:
        """The canonical vector string of these inputs."""
        return format_vector(self.as_dict())


def _parse_value(key: str, raw: str) -> float | int:
    if key == "Cf":
        if raw not in CONFIDENCE_LEVELS:
            raise VectorError(key, f"must be one of H, M, L, got {raw!r}")
        return CONFIDENCE_LEVELS.index(raw)
    if key == "A":
        if not _DECIMAL.fullmatch(raw):
            raise VectorError(key, f"must be a non-negative number of days, got {raw!r}")
        age = float(raw)
        if not math.isfinite(age):
            raise VectorError(key, f"must be finite, got {raw!r}")
        return age
    lo, hi = KEY_RANGES[key]
    if not _DIGITS.fullmatch(raw):
        raise VectorError(key, f"must be a whole number {lo}..{hi}, got {raw!r}")
    value = int(raw)
    if not lo <= value <= hi:
        raise VectorError(key, f"value {value} out of range {lo}..{hi}")
    return value


def parse_vector(text: str) -> Inputs:
    """Parse a vector string strictly; raises VectorError naming the key and the reason."""
    if not isinstance(text, str):
        raise VectorError("vector", f"must be a string, got {type(text).__name__}")
    if len(text) > MAX_VECTOR_LENGTH:
        raise VectorError("vector", f"longer than {MAX_VECTOR_LENGTH} characters")
    parts = text.strip().split("/")
    if parts[0] != VECTOR_PREFIX:
        if parts[0].startswith("MoRiLE:"):
            raise VectorError("MoRiLE", f"unsupported vector format version {parts[0][7:]!r}")
        raise VectorError("MoRiLE", f"vector must start with {VECTOR_PREFIX!r}")
    values: dict[str, float | int] = {}
    for part in parts[1:]:
        key, sep, raw = part.partition(":")
        if not sep:
            raise VectorError(key or "vector", f"part {part!r} is not KEY:VALUE")
        if key not in INPUT_KEYS:
            raise VectorError(key or "vector", "unknown key")
        if key in values:
            raise VectorError(key, "given more than once")
        values[key] = _parse_value(key, raw)
    for key in INTEGER_KEYS:
        if key not in values:
            raise VectorError(key, "missing")
    return Inputs(**values)  # type: ignore[arg-type]


def format_age(age: float) -> str:
    """The canonical text of an age in days: whole days without a point, else the shortest repr."""
    if age.is_integer() and abs(age) < 1e15:
        return str(int(age))
    return repr(age)


def format_vector(values: Mapping[str, float | int]) -> str:
    """Canonical vector string: keys in docs/scoring.md order, A last and omitted when 0."""
    parts = [VECTOR_PREFIX]
    for key in INTEGER_KEYS:
        value = int(values[key])
        parts.append(f"{key}:{CONFIDENCE_LEVELS[value]}" if key == "Cf" else f"{key}:{value}")
    age = float(values.get("A", 0.0))
    if age != 0.0:
        parts.append(f"A:{format_age(age)}")
    return "/".join(parts)
