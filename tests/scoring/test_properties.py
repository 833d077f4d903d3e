"""The properties of docs/scoring.md, tested as properties with Hypothesis."""

from __future__ import annotations

import functools
import itertools
import operator
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    INTEGER_KEYS,
    Inputs,
    Model,
    default_model,
    explain,
    format_vector,
    parse_vector,
    score_arrays,
)
from tests.scoring.reference import RANGES, score_many
from tests.scoring.support import odd_model

FAST = settings(max_examples=150, deadline=None, database=None)
MONOTONE_KEYS = ("P", "Ps", "F", "C", "S", "V", "L", "Cf")  # Cf codes: 0 L, 1 M, 2 H
FLOAT_OUTPUTS = ("harm_base", "total_harm", "risk", "freshness", "priority")
MODELS = {"default": default_model(), "odd": odd_model()}

ages = st.one_of(
    st.just(0.0),
    st.integers(0, 400).map(float),
    st.floats(min_value=0.0, max_value=1000.0, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1000.0, max_value=1e12, allow_nan=False, allow_infinity=False),
)
cases = st.fixed_dictionaries(
    {key: st.integers(lo, hi) for key, (lo, hi) in RANGES.items()}, optional={"A": ages}
)
models = st.sampled_from(sorted(MODELS))


def score(rows: list[dict[str, Any]], model: Model | None = None) -> dict[str, np.ndarray]:
    """Score plain dict rows (Cf as code) in one batch."""
    columns: dict[str, Any] = {key: np.array([row[key] for row in rows]) for key in INTEGER_KEYS}
    columns["A"] = np.array([float(row.get("A", 0.0)) for row in rows])
    return score_arrays(columns, model=model)


def with_letters(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "Cf": "LMH"[row["Cf"]]}


# --- monotone --------------------------------------------------------------------------------


@FAST
@given(cases, st.sampled_from(MONOTONE_KEYS), st.data(), models)
def test_priority_is_monotone_in_every_level(
    case: dict[str, Any], key: str, data: st.DataObject, model_name: str
) -> None:
    lo, hi = RANGES[key]
    low = data.draw(st.integers(lo, hi), label="low")
    high = data.draw(st.integers(low, hi), label="high")
    scores = score([{**case, key: low}, {**case, key: high}], MODELS[model_name])
    assert scores["priority"][1] >= scores["priority"][0]
    assert scores["band"][1] <= scores["band"][0]  # lower code, higher band


@FAST
@given(cases, st.sampled_from(MONOTONE_KEYS), models)
def test_priority_never_falls_when_a_level_steps_up(
    case: dict[str, Any], key: str, model_name: str
) -> None:
    # Walk the whole range of one factor: the priorities never go down.
    lo, hi = RANGES[key]
    rows = [{**case, key: value} for value in range(lo, hi + 1)]
    priority = score(rows, MODELS[model_name])["priority"]
    assert (np.diff(priority) >= 0).all()


@FAST
@given(cases, ages, ages, models)
def test_priority_never_falls_when_age_is_lowered(
    case: dict[str, Any], age_a: float, age_b: float, model_name: str
) -> None:
    older, newer = max(age_a, age_b), min(age_a, age_b)
    scores = score([{**case, "A": older}, {**case, "A": newer}], MODELS[model_name])
    assert scores["priority"][1] >= scores["priority"][0]
    assert scores["freshness"][1] >= scores["freshness"][0]
    assert scores["risk"][1] == scores["risk"][0]  # harm never decays


# --- bounded ---------------------------------------------------------------------------------


@FAST
@given(st.lists(cases, min_size=1, max_size=40))
def test_priority_is_bounded_with_default_numbers(rows: list[dict[str, Any]]) -> None:
    priority = score(rows)["priority"]
    assert (priority >= 0.0).all()
    assert (priority <= 216.0).all()


def test_priority_bounds_are_reached_over_the_whole_input_space() -> None:
    # Every combination of the factors that enter priority, at age 0 (the maximum).
    grid = np.array(
        list(itertools.product(*(range(RANGES[k][0], RANGES[k][1] + 1) for k in MONOTONE_KEYS)))
    )
    columns: dict[str, Any] = {key: grid[:, i] for i, key in enumerate(MONOTONE_KEYS)}
    columns |= {key: np.zeros(len(grid), dtype=np.int64) for key in ("Ca", "Cb", "O", "T")}
    priority = score_arrays(columns)["priority"]
    assert len(priority) == 5**4 * 5 * 3 * 5 * 3
    assert priority.min() == 0.0
    assert priority.max() == 216.0  # 16 x 1.8 x 1.5 x 5
    assert (priority <= 216.0).all()


# --- deterministic ---------------------------------------------------------------------------


@FAST
@given(cases, st.lists(cases, max_size=30), st.randoms(use_true_random=False), models)
def test_score_arrays_same_case_alone_or_inside_a_batch(
    case: dict[str, Any], others: list[dict[str, Any]], rng: Any, model_name: str
) -> None:
    model = MODELS[model_name]
    alone = score([case], model)
    batch = [*others, case]
    rng.shuffle(batch)
    where = next(i for i, row in enumerate(batch) if row is case)
    inside = score(batch, model)
    for key in alone:
        assert inside[key][where] == alone[key][0], key
    again = score([case], model)
    for key in alone:
        assert again[key][0] == alone[key][0], key


@FAST
@given(st.lists(cases, min_size=1, max_size=40).flatmap(
    lambda rows: st.tuples(st.just(rows), st.permutations(range(len(rows))))
))  # fmt: skip
def test_score_arrays_batch_order_does_not_matter(
    data: tuple[list[dict[str, Any]], list[int]],
) -> None:
    rows, perm = data
    forward = score(rows)
    permuted = score([rows[i] for i in perm])
    for key in forward:
        np.testing.assert_array_equal(permuted[key], forward[key][perm], err_msg=key)


# --- vectorised equals scalar ----------------------------------------------------------------


@FAST
@given(st.lists(cases, min_size=1, max_size=60), models)
def test_score_arrays_equals_scalar_reference(rows: list[dict[str, Any]], model_name: str) -> None:
    model = MODELS[model_name]
    scores = score(rows, model)
    expected = score_many([with_letters(row) for row in rows], model)
    for key in FLOAT_OUTPUTS:
        want = np.array([row[key] for row in expected])
        np.testing.assert_allclose(scores[key], want, rtol=0, atol=1e-9, err_msg=key)
    assert [("P0", "P1", "P2", "P3")[b] for b in scores["band"]] == [r["band"] for r in expected]
    assert scores["position"].tolist() == [r["position"] for r in expected]


# --- explained -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, database=None)
@given(cases, models)
def test_explain_accounts_for_every_factor(case: dict[str, Any], model_name: str) -> None:
    model = MODELS[model_name]
    inputs = Inputs(**{**case, "A": float(case.get("A", 0.0))})
    explanation = explain(inputs, model=model)
    contributions = explanation.harm_contributions
    assert list(contributions) == ["P", "Ps", "F", "C"]
    # Summed in the formula's order, the contributions give harm_base exactly.
    assert functools.reduce(operator.add, contributions.values()) == explanation.harm_base
    for key, weight in zip(("P", "Ps", "F", "C"), model.weights, strict=True):
        assert contributions[key] == weight * case[key]
    assert explanation.model == model.label
    assert explanation.model_hash == model.content_hash
    assert explanation.vector == format_vector(inputs.as_dict())
    assert parse_vector(explanation.vector) == inputs
    scores = score([case], model)
    for key in FLOAT_OUTPUTS:
        assert getattr(explanation, key) == scores[key][0], key
    assert explanation.scope_multiplier == model.scope[case["S"] - 1]
    assert explanation.vulnerability_multiplier == model.vulnerability[case["V"]]
    assert explanation.confidence_multiplier == model.confidence[case["Cf"]]
    assert explanation.likelihood == case["L"]


@FAST
@given(cases)
def test_explain_contributions_sum_to_harm_base_with_default_model(case: dict[str, Any]) -> None:
    explanation = explain(Inputs(**{**case, "A": 0.0}))
    assert sum(explanation.harm_contributions.values()) == explanation.harm_base
    assert explanation.model == "sctac-default:1"
