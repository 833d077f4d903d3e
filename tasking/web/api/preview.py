"""`POST /api/v1/score-preview`: score vectors under the current model, storing nothing."""

from __future__ import annotations

import numpy as np

import scoring
from tasking.db import session_scope
from tasking.services.errors import Invalid
from tasking.services.scores import current_model
from tasking.web.api import bp
from tasking.web.api.moves import Move, nearest_moves
from tasking.web.api.schemas import BandMoveOut, ModelInfo, PreviewIn, PreviewOut, PreviewResult
from tasking.web.api.spec import operation
from tasking.web.db import app_engine
from tasking.web.security import ANY_ROLE


def move_out(move: Move | scoring.BandMove) -> BandMoveOut:
    """A band move as the API shows it."""
    text = move.text if isinstance(move, Move) else str(move)
    return BandMoveOut(
        factor=move.factor,
        before=move.before,
        after=move.after,
        band_before=move.band_before,
        band_after=move.band_after,
        priority_after=move.priority_after,
        text=text,
    )


def parse_all(vectors: list[str]) -> list[scoring.Inputs]:
    """Every vector parsed, or one 422 naming each bad vector's index, key and reason."""
    parsed: list[scoring.Inputs] = []
    fields: dict[str, str] = {}
    for index, text in enumerate(vectors):
        try:
            parsed.append(scoring.parse_vector(text))
        except scoring.VectorError as exc:
            fields[f"vectors.{index}.{exc.key}"] = exc.reason
            if len(fields) >= 20:  # enough to fix a batch without a 10,000-line answer
                break
    if fields:
        first = next(iter(fields))
        raise Invalid(
            f"{len(fields)} vector(s) cannot be scored; first: {first}: {fields[first]}",
            fields=fields,
        )
    return parsed


@bp.post("/score-preview")
@operation(ANY_ROLE, tag="scoring", json=PreviewIn, resp=PreviewOut)
def score_preview(json: PreviewIn) -> PreviewOut:
    """Score up to 10,000 vectors without storing anything.

    Each result has the fields of `scoring.score_vectors` (docs/scoring.md)
    and `moves`: the smallest change of one factor that would raise the band,
    and the one that would lower it, where there is one.
    """
    # Its own short read: a preview stores nothing, so it never holds the write lock that
    # the request's session takes for a POST (BEGIN IMMEDIATE on SQLite).
    with session_scope(app_engine(), write=False) as session:
        version, model = current_model(session=session)
    parsed = parse_all(json.vectors)
    columns = scoring.inputs_to_columns(parsed)
    scores = scoring.score_arrays(columns, model=model)
    bands = scores["band"].astype(np.int64)
    moves = nearest_moves(columns, bands, model)
    values = {key: column.tolist() for key, column in scores.items()}
    results = [
        PreviewResult(
            vector=inputs.vector,
            harm_base=values["harm_base"][i],
            total_harm=values["total_harm"][i],
            risk=values["risk"][i],
            freshness=values["freshness"][i],
            priority=values["priority"][i],
            band=scoring.BANDS[values["band"][i]],
            position=values["position"][i],
            position_grade=scoring.GRADES[values["position_grade"][i]],
            grading=model.grading_text(values["band"][i], values["position_grade"][i]),
            model=model.label,
            moves=[move_out(move) for move in moves[i]],
        )
        for i, inputs in enumerate(parsed)
    ]
    info = ModelInfo(name=version.name, version=version.version, hash=version.content_hash)
    return PreviewOut(model=info, results=results)
