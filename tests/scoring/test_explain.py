"""explain(): the nearest band moves, checked by re-scoring and brute force."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from scoring import (
    BANDS,
    INTEGER_KEYS,
    BandMove,
    Inputs,
    Model,
    default_model,
    explain,
    load_model_text,
    parse_vector,
    score_arrays,
)
from tests.scoring.reference import RANGES
from tests.scoring.support import model_text_with, odd_model

LEVERS = ("P", "Ps", "F", "C", "S", "V", "L", "Cf")
OP_001 = "MoRiLE:1/P:3/Ps:3/F:2/C:3/S:4/V:2/L:5/Cf:H/Ca:2/Cb:2/O:2/T:0"  # 132, P1
OP_003 = "MoRiLE:1/P:3/Ps:4/F:3/C:2/S:3/V:2/L:4/Cf:M/Ca:1/Cb:1/O:1/T:0"  # 85.68, P2
REQ_014 = "MoRiLE:1/P:4/Ps:3/F:0/C:3/S:2/V:1/L:3/Cf:M/Ca:0/Cb:2/O:2/T:1"  # threat to life
REQ_016 = "MoRiLE:1/P:0/Ps:1/F:2/C:1/S:3/V:0/L:3/Cf:M/Ca:1/Cb:2/O:0/T:0"  # 14.28, P3


def band_of(values: dict[str, Any], model: Model) -> tuple[str, float]:
    """Re-score one case; its band name and priority."""
    columns = {key: np.array([values[key]]) for key in INTEGER_KEYS}
    columns["A"] = np.array([float(values["A"])])
    scores = score_arrays(columns, model=model)
    return BANDS[int(scores["band"][0])], float(scores["priority"][0])


def move_value(move: BandMove) -> float:
    """The numeric value a move sets its factor to."""
    if move.factor == "Cf":
        return float("LMH".index(move.after))
    if move.factor == "A":
        return float(move.after.removesuffix(" days"))
    return float(move.after)


def random_inputs(seed: int, n: int) -> list[Inputs]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        values: dict[str, Any] = {
            k: int(rng.integers(lo, hi + 1)) for k, (lo, hi) in RANGES.items()
        }
        values["T"] = 0
        values["A"] = float(rng.choice([0.0, rng.uniform(0, 250), float(rng.integers(0, 200))]))
        cases.append(Inputs(**values))
    return cases


def check_moves(inputs: Inputs, model: Model) -> None:
    """Every move re-scores to its band; no smaller change in its direction would; none missed."""
    explanation = explain(inputs, model=model)
    base = inputs.as_dict()
    band = explanation.band
    reported: set[tuple[str, int]] = set()
    for move in explanation.moves:
        assert move.band_before == band
        assert move.band_after != band
        if move.factor == "A":
            continue  # checked by check_age_move
        target = move_value(move)
        assert move.before == ("LMH"[base["Cf"]] if move.factor == "Cf" else str(base[move.factor]))
        new_band, new_priority = band_of({**base, move.factor: target}, model)
        assert new_band == move.band_after, str(move)
        assert new_priority == move.priority_after, str(move)
        step = 1 if target > base[move.factor] else -1
        direction = 1 if BANDS.index(new_band) < BANDS.index(band) else -1
        assert step == direction, str(move)  # raising a level never lowers the band
        for between in range(int(base[move.factor]) + step, int(target), step):
            assert band_of({**base, move.factor: between}, model)[0] == band, (str(move), between)
        assert (move.factor, step) not in reported, "one move per factor and direction"
        reported.add((move.factor, step))
    # Brute force over every lever value: each direction that can change the band is reported.
    for key in LEVERS:
        lo, hi = RANGES[key]
        for value in range(lo, hi + 1):
            if value != base[key] and band_of({**base, key: value}, model)[0] != band:
                assert (key, 1 if value > base[key] else -1) in reported, (key, value)
    check_age_move(inputs, explanation.moves, band, model)


def check_age_move(inputs: Inputs, moves: tuple[BandMove, ...], band: str, model: Model) -> None:
    base = inputs.as_dict()
    age_moves = [move for move in moves if move.factor == "A"]
    never_fresh = band_of({**base, "A": 1e9}, model)[0]
    if never_fresh == band or model.decay.function == "none":
        assert age_moves == []
        return
    (move,) = age_moves
    assert move.before == f"{inputs.A:.1f} days"
    assert BANDS.index(move.band_after) == BANDS.index(band) + 1  # ageing drops one band at a time
    shown = move_value(move)
    # The age is shown to 0.1 day: just past it the band has dropped, just before it has not.
    assert band_of({**base, "A": shown + 0.05}, model)[0] == move.band_after
    assert band_of({**base, "A": max(inputs.A, shown - 0.05)}, model)[0] == band
    assert band_of({**base, "A": shown + 0.05}, model)[1] <= move.priority_after


@pytest.mark.parametrize("seed", [1, 2])
def test_explain_moves_are_real_and_minimal(seed: int) -> None:
    for inputs in random_inputs(seed, 60):
        check_moves(inputs, default_model())


def test_explain_moves_are_real_and_minimal_under_another_model() -> None:
    model = odd_model()
    for inputs in random_inputs(3, 60):
        check_moves(inputs, model)


def test_explain_demo_case_moves() -> None:
    explanation = explain(parse_vector(OP_003))
    assert explanation.band == "P2"
    shown = [str(move) for move in explanation.moves]
    assert "likelihood 4 -> 5 moves P2 to P1" in shown
    assert "likelihood 4 -> 2 moves P2 to P3" in shown  # 3 would give 64.26, still P2
    assert "confidence M -> H moves P2 to P1" in shown  # 100.8
    assert "scope 3 -> 4 moves P2 to P1" in shown  # 12 x 1.6 x 1.5 x 4 x 0.85 = 97.92
    assert "physical harm 3 -> 4 moves P2 to P1" in shown  # 13 x 1.4 x 1.5 x 4 x 0.85 = 92.82
    # Lowering V or S, or confidence to L, keeps P2 (V 0: 57.12; S 1: 61.2; Cf L: 70.56).
    assert not [
        m for m in explanation.moves if m.factor in ("V", "S", "Cf") and m.band_after == "P3"
    ]
    check_moves(parse_vector(OP_003), default_model())


def test_band_move_str_reads_as_a_sentence() -> None:
    move = BandMove("L", "4", "5", "P2", "P1", 107.1)
    assert str(move) == "likelihood 4 -> 5 moves P2 to P1"
    move = BandMove("Cf", "L", "H", "P3", "P2", 50.0)
    assert str(move) == "confidence L -> H moves P3 to P2"


def test_explain_threat_to_life_has_no_moves() -> None:
    explanation = explain(parse_vector(REQ_014))
    assert explanation.band == "P0"
    assert explanation.moves == ()
    aged = explain(parse_vector(REQ_014 + "/A:400"))
    assert aged.band == "P0"
    assert aged.moves == ()


def test_explain_age_move_when_ageing_drops_a_band() -> None:
    explanation = explain(parse_vector(OP_001))
    (move,) = [m for m in explanation.moves if m.factor == "A"]
    # 132 x freshness = 90  =>  A = 180 x sqrt((1 - 90/132) / 0.5) = 143.59... days
    threshold = 180 * math.sqrt((1 - 90 / 132) / 0.5)
    assert str(move) == f"intelligence age 0.0 days -> {threshold:.1f} days moves P1 to P2"
    assert str(move) == "intelligence age 0.0 days -> 143.6 days moves P1 to P2"
    assert 90 - 1e-9 < move.priority_after < 90.0


def test_explain_age_move_starts_from_the_current_age() -> None:
    explanation = explain(parse_vector(OP_001 + "/A:100"))
    (move,) = [m for m in explanation.moves if m.factor == "A"]
    assert str(move) == "intelligence age 100.0 days -> 143.6 days moves P1 to P2"


@pytest.mark.parametrize(
    "vector",
    [
        REQ_016,  # P3 already: nothing lower
        "MoRiLE:1/P:4/Ps:4/F:4/C:4/S:5/V:2/L:5/Cf:H/Ca:0/Cb:0/O:0/T:0",  # 216, floor 108: P1
        OP_001 + "/A:200",  # already at the floor
    ],
)
def test_explain_no_age_move_when_ageing_keeps_the_band(vector: str) -> None:
    explanation = explain(parse_vector(vector))
    assert [m for m in explanation.moves if m.factor == "A"] == []
    check_moves(parse_vector(vector), default_model())


def test_explain_no_age_move_without_decay() -> None:
    model = load_model_text(model_text_with(('"power"', '"none"')))
    explanation = explain(parse_vector(OP_001), model=model)
    assert explanation.band == "P1"
    assert [m for m in explanation.moves if m.factor == "A"] == []
    assert any(m.factor == "L" for m in explanation.moves)
