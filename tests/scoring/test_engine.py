"""The batch engine `score_arrays` against the contract (docs/scoring.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scoring import (
    BANDS,
    GRADES,
    INPUT_KEYS,
    INTEGER_KEYS,
    default_model,
    score_arrays,
    score_vectors,
)
from tests.scoring.reference import RANGES, score_many
from tests.scoring.support import columns_to_cases, odd_model, random_columns

FLOAT_OUTPUTS = ("harm_base", "total_harm", "risk", "freshness", "priority")
CODE_OUTPUTS = ("band", "position", "position_grade")
TOLERANCE = 1e-9

OP_001 = {
    "P": 3, "Ps": 3, "F": 2, "C": 3, "S": 4, "V": 2, "L": 5,
    "Cf": 2, "Ca": 2, "Cb": 2, "O": 2, "T": 0,
}  # fmt: skip


def one_case_columns(case: dict[str, Any], n: int = 1, dtype: Any = np.int64) -> dict[str, Any]:
    """Columns of n copies of one case."""
    return {key: np.full(n, value, dtype=dtype) for key, value in case.items()}


def assert_matches_reference(columns: dict[str, np.ndarray], model: Any) -> None:
    scores = score_arrays(columns, model=model)
    expected = score_many(columns_to_cases(columns), model)
    for key in FLOAT_OUTPUTS:
        want = np.array([row[key] for row in expected])
        np.testing.assert_allclose(scores[key], want, rtol=0, atol=TOLERANCE, err_msg=key)
    assert [BANDS[b] for b in scores["band"]] == [row["band"] for row in expected]
    assert scores["position"].tolist() == [row["position"] for row in expected]
    assert [GRADES[g] for g in scores["position_grade"]] == [
        row["position_grade"] for row in expected
    ]


# --- agreement with the plain-Python reference ---------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_score_arrays_matches_reference_on_random_batches(seed: int) -> None:
    columns = random_columns(np.random.default_rng(seed), 3000)
    assert_matches_reference(columns, default_model())


def test_score_arrays_matches_reference_without_age_column() -> None:
    columns = random_columns(np.random.default_rng(11), 3000, with_age=False)
    assert "A" not in columns
    assert_matches_reference(columns, default_model())
    assert (score_arrays(columns)["freshness"] == 1.0).all()


def test_score_arrays_matches_reference_under_another_model() -> None:
    columns = random_columns(np.random.default_rng(12), 3000)
    assert_matches_reference(columns, odd_model())


def test_score_arrays_matches_reference_near_band_thresholds() -> None:
    # Ages chosen so many priorities land just either side of 90 and 45.
    rng = np.random.default_rng(13)
    columns = random_columns(rng, 4000)
    columns["A"] = rng.choice(np.linspace(0.0, 200.0, 801), size=4000)
    assert_matches_reference(columns, default_model())


def test_score_arrays_band_thresholds_are_inclusive() -> None:
    # Priorities exactly on and either side of the P2 (45) and P1 (90) thresholds.
    cases = [
        {**OP_001, "P": 3, "Ps": 3, "F": 3, "C": 3, "S": 1, "V": 0, "L": 5, "Cf": 2},  # 12*5 = 60
        {**OP_001, "P": 4, "Ps": 4, "F": 4, "C": 3, "S": 1, "V": 0, "L": 3, "Cf": 2},  # 15*3 = 45
        {**OP_001, "P": 4, "Ps": 4, "F": 4, "C": 3, "S": 1, "V": 0, "L": 5, "Cf": 2},  # 15*5 = 75
        {**OP_001, "P": 4, "Ps": 4, "F": 4, "C": 2, "S": 1, "V": 0, "L": 3, "Cf": 2},  # 14*3 = 42
        {
            **OP_001,
            "P": 3,
            "Ps": 3,
            "F": 3,
            "C": 3,
            "S": 1,
            "V": 2,
            "L": 5,
            "Cf": 2,
        },  # 12*1.5*5 = 90
    ]
    columns = {key: np.array([c[key] for c in cases]) for key in INTEGER_KEYS}
    scores = score_arrays(columns)
    assert scores["priority"].tolist() == [60.0, 45.0, 75.0, 42.0, 90.0]
    assert [BANDS[b] for b in scores["band"]] == ["P2", "P2", "P2", "P3", "P1"]


# --- hand-worked examples ------------------------------------------------------------------


def test_score_arrays_op_001_by_hand() -> None:
    scores = score_arrays(one_case_columns(OP_001))
    # harm_base 3+3+2+3 = 11; total 11 * 1.6 * 1.5 = 26.4; risk 26.4 * 5 = 132; H: 132.
    assert scores["harm_base"][0] == 11.0
    assert scores["total_harm"][0] == pytest.approx(26.4, abs=1e-12)
    assert scores["risk"][0] == pytest.approx(132.0, abs=1e-12)
    assert scores["freshness"][0] == 1.0
    assert scores["priority"][0] == pytest.approx(132.0, abs=1e-12)
    assert BANDS[scores["band"][0]] == "P1"
    assert scores["position"][0] == 6
    assert GRADES[scores["position_grade"][0]] == "Strong"


def test_score_arrays_freshness_by_hand() -> None:
    # OP-001 with 90-day-old intelligence: 1 - 0.5 * (90/180)**2 = 0.875; 132 * 0.875 = 115.5.
    # At 180 days and beyond freshness stops at the floor: 132 * 0.5 = 66 (P2).
    columns = one_case_columns(OP_001, n=4)
    columns["A"] = np.array([90.0, 180.0, 365.25, 36.0])
    scores = score_arrays(columns)
    np.testing.assert_allclose(scores["freshness"], [0.875, 0.5, 0.5, 0.98], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores["priority"], [115.5, 66.0, 66.0, 129.36], rtol=0, atol=1e-9)
    assert [BANDS[b] for b in scores["band"]] == ["P1", "P2", "P2", "P1"]
    # Harm never decays: only the evidence does.
    assert (scores["risk"] == 132.0).all()


def test_score_arrays_threat_to_life_is_always_p0() -> None:
    low = {**OP_001, "P": 0, "Ps": 0, "F": 0, "C": 0, "T": 1}
    columns = one_case_columns(low)
    scores = score_arrays(columns)
    assert scores["priority"][0] == 0.0
    assert BANDS[scores["band"][0]] == "P0"


# (ref, P, Ps, F, C, S, V, L, Cf, Ca, Cb, O, T, priority by hand, band, position, grading)
DEMO_CASES = [
    ("OP-001", 3, 3, 2, 3, 4, 2, 5, "H", 2, 2, 2, 0, 132.0, "P1", 6, "Adopt"),  # 11*1.6*1.5*5
    ("OP-002", 4, 3, 1, 3, 3, 0, 4, "M", 1, 2, 2, 0, 52.36, "P2", 5, "Adopt if capacity allows"),
    ("OP-003", 3, 4, 3, 2, 3, 2, 4, "M", 1, 1, 1, 0, 85.68, "P2", 3, "Develop with partners"),
    ("OP-004", 0, 1, 3, 2, 4, 0, 5, "H", 2, 2, 1, 0, 48.0, "P2", 5, "Adopt if capacity allows"),
    ("OP-005", 0, 1, 4, 2, 4, 0, 3, "L", 1, 0, 1, 0, 23.52, "P3", 2, "Decline or refer"),
    ("INT-006", 3, 4, 0, 2, 5, 2, 3, "L", 1, 1, 2, 0, 51.03, "P2", 4, "Develop with partners"),
    ("INT-007", 3, 3, 1, 3, 2, 1, 4, "M", 2, 2, 2, 0, 48.96, "P2", 6, "Adopt if capacity allows"),
    ("INT-008", 2, 3, 1, 3, 2, 2, 4, "H", 2, 2, 2, 0, 64.8, "P2", 6, "Adopt if capacity allows"),
    ("INT-009", 0, 1, 3, 1, 4, 0, 3, "M", 1, 1, 1, 0, 20.4, "P3", 3, "Monitor"),
    ("INT-010", 0, 3, 3, 1, 4, 2, 4, "M", 1, 1, 1, 0, 57.12, "P2", 3, "Develop with partners"),
    ("INT-011", 1, 1, 2, 2, 3, 1, 4, "H", 2, 2, 1, 0, 40.32, "P3", 5, "Monitor (BCU-owned)"),
    ("REQ-012", 0, 2, 2, 2, 2, 0, 4, "H", 1, 2, 2, 0, 28.8, "P3", 5, "Monitor (BCU-owned)"),
    ("REQ-013", 1, 2, 1, 3, 1, 0, 4, "M", 2, 2, 1, 0, 23.8, "P3", 5, "Monitor (BCU-owned)"),
    ("REQ-014", 4, 3, 0, 3, 2, 1, 3, "M", 0, 2, 2, 1, 36.72, "P0", 4, "Immediate: duty officer"),
    ("REQ-015", 2, 1, 0, 2, 1, 2, 3, "H", 2, 1, 1, 0, 22.5, "P3", 4, "Monitor"),
    ("REQ-016", 0, 1, 2, 1, 3, 0, 3, "M", 1, 2, 0, 0, 14.28, "P3", 3, "Monitor"),
]


def _demo_vector(row: tuple[Any, ...]) -> str:
    values = dict(zip(INTEGER_KEYS, row[1:13], strict=True))
    return "MoRiLE:1/" + "/".join(f"{key}:{value}" for key, value in values.items())


def test_score_arrays_demo_cases_by_hand() -> None:
    columns = {
        key: np.array([{"L": 0, "M": 1, "H": 2}.get(v, v) for v in column])
        for key, column in zip(INTEGER_KEYS, list(zip(*DEMO_CASES, strict=True))[1:13], strict=True)
    }
    scores = score_arrays(columns)
    expected_priority = [row[13] for row in DEMO_CASES]
    np.testing.assert_allclose(scores["priority"], expected_priority, rtol=0, atol=1e-9)
    assert [BANDS[b] for b in scores["band"]] == [row[14] for row in DEMO_CASES]
    assert scores["position"].tolist() == [row[15] for row in DEMO_CASES]


def test_score_vectors_demo_cases_by_hand() -> None:
    results = score_vectors([_demo_vector(row) for row in DEMO_CASES])
    for row, result in zip(DEMO_CASES, results, strict=True):
        assert result["priority"] == pytest.approx(row[13], abs=1e-9), row[0]
        assert result["band"] == row[14], row[0]
        assert result["position"] == row[15], row[0]
        assert result["grading"] == row[16], row[0]
        assert result["vector"] == _demo_vector(row), row[0]


# --- inputs are never modified -------------------------------------------------------------


def test_score_arrays_does_not_modify_inputs() -> None:
    columns = random_columns(np.random.default_rng(21), 500)
    # Narrow, float-integral and bool dtypes take the engine's converting paths.
    columns["P"] = columns["P"].astype(np.int8)
    columns["S"] = columns["S"].astype(np.float64)
    columns["T"] = columns["T"].astype(bool)
    before = {key: (value.copy(), value.dtype) for key, value in columns.items()}
    scores = score_arrays(columns)
    for key, (copy, dtype) in before.items():
        assert columns[key].dtype == dtype, key
        np.testing.assert_array_equal(columns[key], copy, err_msg=key)
    for out_key, out in scores.items():
        for key, value in columns.items():
            assert not np.shares_memory(out, value), (out_key, key)


def test_score_arrays_accepts_read_only_inputs() -> None:
    columns = random_columns(np.random.default_rng(22), 500)
    expected = score_arrays({key: value.copy() for key, value in columns.items()})
    for value in columns.values():
        value.flags.writeable = False
    scores = score_arrays(columns)
    for key in expected:
        np.testing.assert_array_equal(scores[key], expected[key], err_msg=key)


def test_score_arrays_outputs_are_fresh_writable_arrays() -> None:
    columns = random_columns(np.random.default_rng(23), 200)
    first = score_arrays(columns)
    for value in first.values():
        assert value.flags.writeable
        value[...] = 0  # must not corrupt the model's tables or a later call
    again = score_arrays(columns)
    expected = score_many(columns_to_cases(columns))
    np.testing.assert_allclose(again["priority"], [r["priority"] for r in expected], atol=1e-9)


# --- output types --------------------------------------------------------------------------


@pytest.mark.parametrize("with_age", [True, False])
def test_score_arrays_output_dtypes_and_shapes(with_age: bool) -> None:
    columns = random_columns(np.random.default_rng(24), 64, with_age=with_age)
    scores = score_arrays(columns)
    assert set(scores) == set(FLOAT_OUTPUTS) | set(CODE_OUTPUTS)
    for key in FLOAT_OUTPUTS:
        assert scores[key].dtype == np.float64, key
        assert scores[key].shape == (64,), key
    for key in CODE_OUTPUTS:
        assert scores[key].dtype.kind in "iu", key
        assert scores[key].shape == (64,), key
    assert set(scores["band"].tolist()) <= {0, 1, 2, 3}
    assert set(scores["position_grade"].tolist()) <= {0, 1, 2}
    assert scores["position"].min() >= 0
    assert scores["position"].max() <= 6


def test_score_arrays_empty_batch() -> None:
    columns: dict[str, Any] = {key: np.array([], dtype=np.int64) for key in INTEGER_KEYS}
    columns["A"] = np.array([], dtype=np.float64)
    scores = score_arrays(columns)
    assert set(scores) == set(FLOAT_OUTPUTS) | set(CODE_OUTPUTS)
    for key, value in scores.items():
        assert value.shape == (0,), key
        assert value.dtype == np.float64 if key in FLOAT_OUTPUTS else value.dtype.kind in "iu"


def test_score_arrays_empty_python_lists() -> None:
    scores = score_arrays({key: [] for key in INTEGER_KEYS})
    assert all(value.shape == (0,) for value in scores.values())


# --- accepted input types ------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype",
    [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint64, np.float32, np.float64],
)
def test_score_arrays_accepts_integer_and_integral_float_dtypes(dtype: Any) -> None:
    columns = random_columns(np.random.default_rng(31), 300)
    expected = score_arrays(columns)
    converted = {key: value.astype(dtype) for key, value in columns.items() if key != "A"}
    converted["A"] = columns["A"]
    scores = score_arrays(converted)
    for key in expected:
        np.testing.assert_array_equal(scores[key], expected[key], err_msg=key)


def test_score_arrays_accepts_mixed_dtypes_and_lists() -> None:
    columns = random_columns(np.random.default_rng(32), 50)
    expected = score_arrays(columns)
    mixed: dict[str, Any] = {}
    kinds = [np.int8, np.uint8, np.int64, np.float64, list, np.int32]
    for i, key in enumerate(INTEGER_KEYS):
        kind = kinds[i % len(kinds)]
        mixed[key] = columns[key].tolist() if kind is list else columns[key].astype(kind)
    mixed["T"] = columns["T"].astype(bool)
    mixed["A"] = columns["A"].tolist()
    scores = score_arrays(mixed)
    for key in expected:
        np.testing.assert_array_equal(scores[key], expected[key], err_msg=key)


def test_score_arrays_accepts_integer_ages() -> None:
    columns = random_columns(np.random.default_rng(33), 100)
    whole = np.floor(columns["A"])
    expected = score_arrays({**columns, "A": whole})
    scores = score_arrays({**columns, "A": whole.astype(np.int64)})
    np.testing.assert_array_equal(scores["priority"], expected["priority"])


# --- rejected inputs -----------------------------------------------------------------------


@pytest.mark.parametrize("key", INTEGER_KEYS)
@pytest.mark.parametrize("side", ["below", "above"])
def test_score_arrays_rejects_out_of_range_naming_key_and_first_index(key: str, side: str) -> None:
    columns = random_columns(np.random.default_rng(41), 20)
    lo, hi = RANGES[key]
    bad = lo - 1 if side == "below" else hi + 1
    columns[key][7] = bad
    columns[key][13] = bad
    with pytest.raises(ValueError, match=rf"^{key}: index 7\b") as caught:
        score_arrays(columns)
    assert str(bad) in str(caught.value)


@pytest.mark.parametrize("bad", [-0.5, -1.0, np.nan, np.inf, -np.inf])
def test_score_arrays_rejects_bad_age_naming_key_and_index(bad: float) -> None:
    columns = random_columns(np.random.default_rng(42), 20)
    columns["A"][5] = bad
    columns["A"][9] = bad
    with pytest.raises(ValueError, match=r"^A: index 5\b"):
        score_arrays(columns)


@pytest.mark.parametrize("key", INTEGER_KEYS)
def test_score_arrays_rejects_non_integer_floats_naming_key(key: str) -> None:
    columns: dict[str, Any] = random_columns(np.random.default_rng(43), 20)
    column = columns[key].astype(np.float64)
    column[4] += 0.5
    columns[key] = column
    with pytest.raises(ValueError, match=rf"^{key}: index 4\b"):
        score_arrays(columns)


@pytest.mark.parametrize("key", INTEGER_KEYS)
def test_score_arrays_rejects_nan_in_integer_column(key: str) -> None:
    columns: dict[str, Any] = random_columns(np.random.default_rng(44), 20)
    column = columns[key].astype(np.float64)
    column[2] = np.nan
    columns[key] = column
    with pytest.raises(ValueError, match=rf"^{key}: index 2\b"):
        score_arrays(columns)


@pytest.mark.parametrize("key", INTEGER_KEYS)
def test_score_arrays_rejects_missing_key(key: str) -> None:
    columns = random_columns(np.random.default_rng(45), 10)
    del columns[key]
    with pytest.raises(ValueError, match=rf"^{key}: missing"):
        score_arrays(columns)


@pytest.mark.parametrize("key", ["X", "Age", "p", "vector"])
def test_score_arrays_rejects_unknown_key(key: str) -> None:
    columns: dict[str, Any] = random_columns(np.random.default_rng(46), 10)
    columns[key] = np.zeros(10, dtype=np.int64)
    with pytest.raises(ValueError, match=rf"^{key}: unknown key"):
        score_arrays(columns)


@pytest.mark.parametrize("key", [k for k in INPUT_KEYS if k != "P"])
@pytest.mark.parametrize("length", [9, 11])
def test_score_arrays_rejects_length_mismatch_naming_key(key: str, length: int) -> None:
    columns = random_columns(np.random.default_rng(47), 10)
    columns[key] = random_columns(np.random.default_rng(48), length)[key]
    with pytest.raises(ValueError, match=rf"^{key}: length {length}"):
        score_arrays(columns)


@pytest.mark.parametrize("key", ["S", "A"])
def test_score_arrays_rejects_two_dimensional_columns(key: str) -> None:
    columns: dict[str, Any] = random_columns(np.random.default_rng(49), 10)
    columns[key] = np.stack([columns[key], columns[key]])
    with pytest.raises(ValueError, match=rf"^{key}: must be a 1-D array"):
        score_arrays(columns)


@pytest.mark.parametrize("key", ["Cf", "A"])
def test_score_arrays_rejects_non_numeric_columns(key: str) -> None:
    columns: dict[str, Any] = random_columns(np.random.default_rng(50), 3)
    columns[key] = np.array(["H", "M", "L"])
    with pytest.raises(ValueError, match=rf"^{key}: must be"):
        score_arrays(columns)


def test_score_arrays_rejects_a_non_mapping() -> None:
    with pytest.raises(ValueError, match="columns"):
        score_arrays([[1, 2, 3]])  # type: ignore[arg-type]
