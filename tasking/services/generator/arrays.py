"""Small array helpers shared by the generator's parts."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tasking.services.generator.org import Objects


def pick(rng: np.random.Generator, values: npt.NDArray[Any], n: int) -> npt.NDArray[Any]:
    """`n` values drawn uniformly from `values`."""
    return values[rng.integers(0, len(values), n)]


def or_null(values: npt.NDArray[Any], null: Any, mask: npt.NDArray[np.bool_]) -> Objects:
    """Values where mask is set, the null value elsewhere."""
    out: Objects = values.astype(object)
    out[~mask] = null
    return out
