"""The MoRiLE-style scoring engine: pure NumPy, no web, database or worker code.

Public API (docs/scoring.md, 'Public Python API'):

    from scoring import score_vectors, score_arrays
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from scoring.engine import OUTPUT_KEYS, score_arrays, validate_columns
from scoring.explain import BandMove, Explanation, explain
from scoring.model import (
    BANDS,
    CONFIDENCE_LEVELS,
    GRADES,
    Model,
    ModelError,
)
from scoring.modelfile import default_model, load_model, load_model_text
from scoring.rank import rank_order, ranks, top_k
from scoring.vector import (
    INPUT_KEYS,
    INTEGER_KEYS,
    Inputs,
    VectorError,
    format_vector,
    parse_vector,
)

__all__ = [
    "BANDS",
    "CONFIDENCE_LEVELS",
    "GRADES",
    "INPUT_KEYS",
    "INTEGER_KEYS",
    "OUTPUT_KEYS",
    "BandMove",
    "Explanation",
    "Inputs",
    "Model",
    "ModelError",
    "VectorError",
    "default_model",
    "explain",
    "format_vector",
    "inputs_to_columns",
    "load_model",
    "load_model_text",
    "parse_vector",
    "rank_order",
    "ranks",
    "score_arrays",
    "score_vectors",
    "top_k",
    "validate_columns",
]


def inputs_to_columns(cases: list[Inputs]) -> dict[str, np.ndarray]:
    """Columns for `score_arrays` from parsed inputs (narrow dtypes, A as float days)."""
    columns = {
        key: np.fromiter((getattr(c, key) for c in cases), np.int8, len(cases))
        for key in INTEGER_KEYS
    }
    columns["A"] = np.fromiter((c.A for c in cases), np.float64, len(cases))
    return columns


def score_vectors(vectors: Iterable[str], *, model: Model | None = None) -> list[dict[str, Any]]:
    """Score vector strings; one dict per vector. Raises ValueError naming index, key, reason."""
    model = model or default_model()
    parsed: list[Inputs] = []
    for index, text in enumerate(vectors):
        try:
            parsed.append(parse_vector(text))
        except VectorError as exc:
            raise VectorError(exc.key, exc.reason, index=index) from None
    scores = score_arrays(inputs_to_columns(parsed), model=model)
    values = {key: column.tolist() for key, column in scores.items()}  # Python floats and ints
    label = model.label
    results = []
    for i, inputs in enumerate(parsed):
        band, grade = values["band"][i], values["position_grade"][i]
        results.append(
            {
                "vector": inputs.vector,
                "harm_base": values["harm_base"][i],
                "total_harm": values["total_harm"][i],
                "risk": values["risk"][i],
                "freshness": values["freshness"][i],
                "priority": values["priority"][i],
                "band": BANDS[band],
                "position": values["position"][i],
                "position_grade": GRADES[grade],
                "grading": model.grading_text(band, grade),
                "model": label,
                "model_hash": model.content_hash,
            }
        )
    return results
