"""The tasking meeting's decision on each generated case that was decided."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from config.workflow import load_workflow
from scoring.vector import format_age
from tasking.models import State
from tasking.services.generator.arrays import or_null, pick
from tasking.services.generator.org import Ints, Objects, Org
from tasking.services.generator.vocab import DECIDED, DECLINE_REASON


def decisions(
    rng: np.random.Generator, org: Org, rows: Ints, *, state: Objects, vector: Objects,
    scores: dict[str, npt.NDArray[Any]], ages: npt.NDArray[Any], strands: npt.NDArray[Any],
    review: Objects, decided_at: Objects, hours: Ints, null: Any,
) -> dict[str, npt.NDArray[Any]]:  # fmt: skip
    """The meeting's decision on each decided case `rows`, with the score it saw (exactly the
    stored one: the same vector, age and model)."""
    m = len(rows)
    outcome = np.array([DECIDED[State(s)] for s in state[rows]], dtype=object)
    grading = np.array(
        [org.model.grading_text(b, g) for b in range(4) for g in range(3)], dtype=object
    )
    band, grade = scores["band"][rows], scores["position_grade"][rows]
    shown_ages = ages[rows]
    # Formatting each age is the only per-case Python here (the generator, not a rescore).
    suffix = np.array(
        ["" if a == 0 else f"/A:{format_age(float(a))}" for a in shown_ages.tolist()], object
    )
    partners = np.array([p.code for p in load_workflow().partner_agencies], dtype=object)
    chair = pick(rng, org.chair_ids, m)
    reviewed = (outcome == "adopted") | (outcome == "deferred")
    return {
        "vector_shown": vector[rows] + suffix,
        "age_days_shown": shown_ages,
        "priority_shown": scores["priority"][rows],
        "band_shown": band,
        "grading_shown": grading[band * 3 + grade],
        "outcome": outcome,
        "chair_id": chair,
        "recorded_by_id": chair,
        "decided_at": decided_at[rows],
        "hours_granted": np.where(outcome == "adopted", hours[rows], 0),
        "referral_destination": or_null(pick(rng, partners, m), null, outcome == "referred"),
        "decline_reason": np.where(outcome == "declined", DECLINE_REASON, ""),
        "strands": strands[rows],
        "next_review": np.where(reviewed, review[rows], null),
    }
