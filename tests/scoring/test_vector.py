"""Vector strings and the `score_vectors` convenience face (docs/scoring.md)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    INPUT_KEYS,
    INTEGER_KEYS,
    Inputs,
    VectorError,
    default_model,
    format_vector,
    parse_vector,
    score_vectors,
)
from tests.scoring.reference import RANGES, score_case

OP_001 = "MoRiLE:1/P:3/Ps:3/F:2/C:3/S:4/V:2/L:5/Cf:H/Ca:2/Cb:2/O:2/T:0"
OP_001_AGED = OP_001 + "/A:12.5"
SCORE_FIELDS = (
    "vector",
    "harm_base",
    "total_harm",
    "risk",
    "freshness",
    "priority",
    "band",
    "position",
    "position_grade",
    "grading",
    "model",
)


def with_part(vector: str, key: str, value: str) -> str:
    """The vector with one key's value replaced."""
    assert key in [p.split(":")[0] for p in vector.split("/")]
    parts = [f"{key}:{value}" if p.split(":")[0] == key else p for p in vector.split("/")]
    return "/".join(parts)


def without_part(vector: str, key: str) -> str:
    parts = [p for p in vector.split("/") if p.split(":")[0] != key]
    assert len(parts) == len(vector.split("/")) - 1
    return "/".join(parts)


inputs_strategy = st.builds(
    Inputs,
    **{key: st.integers(lo, hi) for key, (lo, hi) in RANGES.items()},
    A=st.one_of(
        st.just(0.0),
        st.integers(0, 10_000).map(float),
        st.floats(min_value=0.0, max_value=1e300, allow_nan=False, allow_infinity=False),
    ),
)


# --- format ----------------------------------------------------------------------------------


def test_format_vector_uses_canonical_order_and_omits_zero_age() -> None:
    values = {"T": 0, "O": 2, "Cb": 2, "Ca": 2, "Cf": 2, "L": 5, "V": 2, "S": 4}
    values |= {"C": 3, "F": 2, "Ps": 3, "P": 3, "A": 0.0}
    assert format_vector(values) == OP_001


def test_format_vector_puts_age_last() -> None:
    values = parse_vector(OP_001).as_dict() | {"A": 12.5}
    assert format_vector(values) == OP_001_AGED
    assert format_vector(values | {"A": 30.0}) == OP_001 + "/A:30"


def test_format_vector_writes_confidence_as_letter() -> None:
    for code, letter in enumerate("LMH"):
        values = parse_vector(OP_001).as_dict() | {"Cf": code}
        assert f"/Cf:{letter}/" in format_vector(values)


@settings(max_examples=200, database=None, deadline=None)
@given(inputs_strategy)
def test_format_vector_round_trips_through_parse(inputs: Inputs) -> None:
    text = format_vector(inputs.as_dict())
    assert parse_vector(text) == inputs
    assert parse_vector(text).vector == text


@settings(max_examples=100, database=None, deadline=None)
@given(inputs_strategy, st.randoms(use_true_random=False))
def test_parse_vector_accepts_keys_in_any_order(inputs: Inputs, rng: random.Random) -> None:
    canonical = format_vector(inputs.as_dict())
    prefix, *parts = canonical.split("/")
    rng.shuffle(parts)
    shuffled = "/".join([prefix, *parts])
    assert parse_vector(shuffled) == inputs
    assert parse_vector(shuffled).vector == canonical


# --- parse: accepted ---------------------------------------------------------------------------


def test_parse_vector_reads_every_key() -> None:
    inputs = parse_vector(OP_001_AGED)
    expected = dict(zip(INTEGER_KEYS, [3, 3, 2, 3, 4, 2, 5, 2, 2, 2, 2, 0], strict=True))
    assert inputs.as_dict() == expected | {"A": 12.5}


def test_parse_vector_age_defaults_to_zero() -> None:
    assert parse_vector(OP_001).A == 0.0
    assert parse_vector(OP_001 + "/A:0").vector == OP_001


@pytest.mark.parametrize(("raw", "days"), [("7", 7.0), ("0.25", 0.25), (".5", 0.5), ("1e2", 100.0)])
def test_parse_vector_accepts_age_forms(raw: str, days: float) -> None:
    assert days == parse_vector(f"{OP_001}/A:{raw}").A


# --- parse: rejected ---------------------------------------------------------------------------


REJECTED = [
    # (description, vector, key named, words in the reason)
    ("no prefix", OP_001.removeprefix("MoRiLE:1/"), "MoRiLE", "must start with"),
    ("wrong prefix", OP_001.replace("MoRiLE:1", "MORILE:1"), "MoRiLE", "must start with"),
    ("version 2", OP_001.replace("MoRiLE:1", "MoRiLE:2"), "MoRiLE", "unsupported"),
    ("prefix not first", without_part(OP_001, "MoRiLE") + "/MoRiLE:1", "MoRiLE", "must start"),
    ("unknown key", OP_001 + "/X:1", "X", "unknown key"),
    ("lower-case key", OP_001.replace("/P:3", "/p:3"), "p", "unknown key"),
    ("duplicate key", OP_001 + "/L:5", "L", "more than once"),
    ("duplicate age", OP_001_AGED + "/A:12.5", "A", "more than once"),
    ("missing P", without_part(OP_001, "P"), "P", "missing"),
    ("missing Cf", without_part(OP_001, "Cf"), "Cf", "missing"),
    ("missing T", without_part(OP_001, "T"), "T", "missing"),
    ("P above range", with_part(OP_001, "P", "5"), "P", "out of range"),
    ("S below range", with_part(OP_001, "S", "0"), "S", "out of range"),
    ("L above range", with_part(OP_001, "L", "6"), "L", "out of range"),
    ("T above range", with_part(OP_001, "T", "2"), "T", "out of range"),
    ("V negative", with_part(OP_001, "V", "-1"), "V", "whole number"),
    ("S not a number", with_part(OP_001, "S", "four"), "S", "whole number"),
    ("S empty", with_part(OP_001, "S", ""), "S", "whole number"),
    ("L 3.0", with_part(OP_001, "L", "3.0"), "L", "whole number"),
    ("C with plus sign", with_part(OP_001, "C", "+3"), "C", "whole number"),
    ("Cf lower case", with_part(OP_001, "Cf", "h"), "Cf", "H, M, L"),
    ("Cf as code", with_part(OP_001, "Cf", "2"), "Cf", "H, M, L"),
    ("Cf empty", with_part(OP_001, "Cf", ""), "Cf", "H, M, L"),
    ("negative age", OP_001 + "/A:-1", "A", "non-negative"),
    ("negative zero age", OP_001 + "/A:-0", "A", "non-negative"),
    ("NaN age", OP_001 + "/A:NaN", "A", "non-negative"),
    ("inf age", OP_001 + "/A:inf", "A", "non-negative"),
    ("overflowing age", OP_001 + "/A:1e999", "A", "finite"),
    ("age not a number", OP_001 + "/A:old", "A", "non-negative"),
    ("age empty", OP_001 + "/A:", "A", "non-negative"),
    ("empty part", OP_001.replace("/S:4", "//S:4"), "vector", "not KEY:VALUE"),
    ("trailing slash", OP_001 + "/", "vector", "not KEY:VALUE"),
    ("part without colon", OP_001 + "/A", "A", "not KEY:VALUE"),
    ("empty string", "", "MoRiLE", "must start with"),
]


@pytest.mark.parametrize(
    ("vector", "key", "reason"),
    [row[1:] for row in REJECTED],
    ids=[row[0] for row in REJECTED],
)
def test_parse_vector_rejects_naming_key_and_reason(vector: str, key: str, reason: str) -> None:
    with pytest.raises(VectorError) as caught:
        parse_vector(vector)
    assert caught.value.key == key
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{key}: ")
    assert isinstance(caught.value, ValueError)


def test_parse_vector_rejects_non_strings() -> None:
    with pytest.raises(VectorError, match="must be a string"):
        parse_vector(12)  # type: ignore[arg-type]


def test_parse_vector_rejects_overlong_text() -> None:
    with pytest.raises(VectorError, match="longer than"):
        parse_vector(OP_001 + "/A:" + "1" * 300)


# --- score_vectors ------------------------------------------------------------------------------


def test_score_vectors_returns_every_contract_field() -> None:
    (result,) = score_vectors([OP_001_AGED])
    assert set(SCORE_FIELDS) <= set(result)
    assert result["model"] == "sctac-default:1"
    assert result["vector"] == OP_001_AGED
    assert result["band"] == "P1"
    assert result["position_grade"] == "Strong"
    assert result["grading"] == "Adopt"
    for key in ("harm_base", "total_harm", "risk", "freshness", "priority"):
        assert type(result[key]) is float, key
    assert type(result["position"]) is int


def test_score_vectors_matches_reference_fields() -> None:
    vectors = [OP_001, OP_001_AGED, with_part(OP_001, "T", "1"), with_part(OP_001, "Cf", "L")]
    model = default_model()
    for vector, result in zip(vectors, score_vectors(vectors), strict=True):
        inputs = parse_vector(vector).as_dict()
        expected = score_case(inputs | {"Cf": "LMH"[int(inputs["Cf"])]}, model)
        for key in SCORE_FIELDS:
            if isinstance(expected[key], float):
                assert result[key] == pytest.approx(expected[key], abs=1e-9), key
            else:
                assert result[key] == expected[key], key


def test_score_vectors_returns_canonical_vectors() -> None:
    prefix, *parts = OP_001_AGED.split("/")
    scrambled = "/".join([prefix, *reversed(parts)])
    (result,) = score_vectors([scrambled])
    assert result["vector"] == OP_001_AGED


def test_score_vectors_accepts_any_iterable_and_empty() -> None:
    assert score_vectors([]) == []
    assert len(score_vectors(v for v in [OP_001, OP_001_AGED])) == 2


@pytest.mark.parametrize(
    ("bad", "key", "reason"),
    [
        (with_part(OP_001, "L", "9"), "L", "out of range"),
        (OP_001 + "/Q:1", "Q", "unknown key"),
        (without_part(OP_001, "Cb"), "Cb", "missing"),
        (OP_001 + "/A:-3", "A", "non-negative"),
    ],
)
def test_score_vectors_error_names_index_key_and_reason(bad: str, key: str, reason: str) -> None:
    vectors = [OP_001, OP_001_AGED, OP_001, bad, OP_001]
    with pytest.raises(ValueError, match=r"^vector 3: ") as caught:
        score_vectors(vectors)
    message = str(caught.value)
    assert f": {key}: " in message
    assert reason in message


def test_input_keys_follow_the_contract_order() -> None:
    assert INPUT_KEYS == ("P", "Ps", "F", "C", "S", "V", "L", "Cf", "Ca", "Cb", "O", "T", "A")
