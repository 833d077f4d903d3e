"""What would move each of many cases to another band, in a few batch calls of the engine.

`scoring.explain` answers this for one case on a case page; a preview of up to
10,000 vectors needs it for all of them at once. Each factor that enters
priority is tried at every other level for every case in one `score_arrays`
call per level, and for each case the nearest change up and the nearest change
down are kept (ties go to the factor first in docs/scoring.md order). Threat-to-life
cases are P0 by fact, so nothing moves them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import scoring
from scoring.explain import FACTOR_NAMES
from scoring.vector import KEY_RANGES

# The factors that move priority (T is a fact, Ca/Cb/O do not enter priority).
LEVERS = ("P", "Ps", "F", "C", "S", "V", "L", "Cf")


@dataclass(frozen=True, slots=True)
class Move:
    """One nearest band change of one case."""

    factor: str
    before: str
    after: str
    band_before: str
    band_after: str
    priority_after: float

    @property
    def text(self) -> str:
        """For people, e.g. 'likelihood 3 -> 4 moves P2 to P1'."""
        return (
            f"{FACTOR_NAMES[self.factor]} {self.before} -> {self.after}"
            f" moves {self.band_before} to {self.band_after}"
        )


def _display(key: str, value: int) -> str:
    return scoring.CONFIDENCE_LEVELS[value] if key == "Cf" else str(value)


def nearest_moves(
    columns: dict[str, np.ndarray], bands: np.ndarray, model: scoring.Model
) -> list[list[Move]]:
    """For each case, its nearest band move up and down (none, one or two)."""
    n = len(bands)
    inf = np.iinfo(np.int64).max
    best = {  # per direction: distance, lever index, level, band, priority
        d: [np.full(n, inf, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64),
            np.zeros(n, np.int64), np.zeros(n, np.float64)]
        for d in ("up", "down")
    }  # fmt: skip
    for lever_index, key in enumerate(LEVERS):
        base = columns[key].astype(np.int64)
        lo, hi = KEY_RANGES[key]
        for level in range(lo, hi + 1):
            trial = dict(columns)
            trial[key] = np.full(n, level, dtype=columns[key].dtype)
            scored = scoring.score_arrays(trial, model=model)
            new_band = scored["band"].astype(np.int64)
            distance = np.abs(level - base)
            for direction, moved in (("up", new_band < bands), ("down", new_band > bands)):
                dist, lever, lev, band, priority = best[direction]
                better = moved & (distance < dist)  # strict: the earlier factor keeps a tie
                dist[better] = distance[better]
                lever[better] = lever_index
                lev[better] = level
                band[better] = new_band[better]
                priority[better] = scored["priority"][better]
    threat = columns["T"].astype(bool)
    result: list[list[Move]] = [[] for _ in range(n)]
    for direction in ("up", "down"):
        dist, lever, lev, band, priority = best[direction]
        found = np.flatnonzero((dist != inf) & ~threat)
        for i in found.tolist():
            key = LEVERS[int(lever[i])]
            result[i].append(
                Move(
                    factor=key,
                    before=_display(key, int(columns[key][i])),
                    after=_display(key, int(lev[i])),
                    band_before=scoring.BANDS[int(bands[i])],
                    band_after=scoring.BANDS[int(band[i])],
                    priority_after=float(priority[i]),
                )
            )
    return result
