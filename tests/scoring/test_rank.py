"""Board ranking (docs/scoring.md, 'Ranking') against a sorted() reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scoring import rank_order, ranks, top_k
from scoring.rank import (
    biggest_moves,
    decode_priorities,
    decode_snapshot,
    encode_priorities,
    encode_snapshot,
    rank_moves,
)
from tests.scoring.reference import rank_reference

# Few distinct values, so every tie-break level is exercised many times.
PRIORITIES = np.array([0.0, 14.28, 45.0, 48.0, 89.99999999999999, 90.0, 132.0, 216.0])
DEADLINES = np.array([np.nan, np.nan, 1.0, 2.0, 3.5, -np.inf, np.inf, 1.7e9])
OPTIONAL_KEYS = ("deadline", "submitted", "ids")


def random_board(seed: int, n: int) -> dict[str, Any]:
    """A board with many ties: priority, threat, position, deadline (NaN = none), submitted, id."""
    rng = np.random.default_rng(seed)
    return {
        "priority": rng.choice(PRIORITIES, size=n),
        "threat": (rng.random(n) < 0.1).astype(np.int64),
        "position": rng.integers(0, 7, size=n),
        "deadline": rng.choice(DEADLINES, size=n),
        "submitted": rng.integers(0, 4, size=n).astype(np.float64) * 86400.0,
        "ids": rng.permutation(10 * n)[:n] + 1000,
    }


def optional(board: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: board[key] for key in keys}


def reference_order(board: dict[str, Any], keys: tuple[str, ...]) -> list[int]:
    return rank_reference(
        board["priority"].tolist(),
        board["threat"].tolist(),
        board["position"].tolist(),
        **{key: board[key].tolist() for key in keys},
    )


KEY_SETS = [(), ("deadline",), ("submitted",), ("ids",), ("deadline", "submitted"), OPTIONAL_KEYS]


@pytest.mark.parametrize("keys", KEY_SETS, ids=lambda keys: "+".join(keys) or "none")
@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 200, 3000])
def test_rank_order_matches_sorted_reference(n: int, keys: tuple[str, ...]) -> None:
    for seed in range(3):
        board = random_board(seed + n, n)
        order = rank_order(
            board["priority"], board["threat"], board["position"], **optional(board, keys)
        )
        assert order.tolist() == reference_order(board, keys)


def test_rank_order_puts_threat_to_life_first_whatever_the_priority() -> None:
    order = rank_order([216.0, 0.0, 132.0, 1.0], [0, 1, 0, 1], [6, 0, 6, 0])
    assert order.tolist() == [3, 1, 0, 2]


def test_rank_order_breaks_ties_in_contract_order() -> None:
    nan = float("nan")
    priority = [50.0] * 7
    position = [3, 3, 3, 3, 3, 3, 5]
    deadline = [nan, 10.0, 5.0, 5.0, nan, 5.0, nan]
    submitted = [1.0, 1.0, 2.0, 1.0, 0.0, 1.0, 9.0]
    ids = [7, 6, 5, 4, 3, 2, 1]
    order = rank_order(priority, [0] * 7, position, deadline=deadline, submitted=submitted, ids=ids)
    # position 5 first; then deadline 5 (submitted 1 before 2; ids 2 before 4),
    # deadline 10, then no deadline (submitted 0 before 1).
    assert order.tolist() == [6, 5, 3, 2, 1, 4, 0]


def test_rank_order_ignores_the_sign_of_zero() -> None:
    # -0.0 ties with 0.0 (and is not mistaken for a threat-to-life flag): ids decide.
    order = rank_order([0.0, -0.0, 0.0, 0.0], [0, 0, 0, 1], [1, 1, 1, 0], ids=[1, 4, 2, 3])
    assert order.tolist() == [3, 0, 2, 1]
    assert top_k(2, [0.0, -0.0, 0.0], [0, 0, 0], [1, 1, 1], ids=[1, 3, 2]).tolist() == [0, 2]


def test_rank_order_is_independent_of_row_order() -> None:
    board = random_board(7, 500)
    order = rank_order(
        board["priority"], board["threat"], board["position"], **optional(board, OPTIONAL_KEYS)
    )
    perm = np.random.default_rng(8).permutation(500)
    shuffled = {key: value[perm] for key, value in board.items()}
    shuffled_order = rank_order(
        shuffled["priority"],
        shuffled["threat"],
        shuffled["position"],
        **optional(shuffled, OPTIONAL_KEYS),
    )
    assert board["ids"][order].tolist() == shuffled["ids"][shuffled_order].tolist()


def test_rank_order_accepts_boolean_threat_flags() -> None:
    board = random_board(9, 300)
    as_int = rank_order(board["priority"], board["threat"], board["position"])
    as_bool = rank_order(board["priority"], board["threat"].astype(bool), board["position"])
    assert as_bool.tolist() == as_int.tolist()


def test_rank_order_does_not_modify_inputs() -> None:
    board = random_board(10, 300)
    before = {key: value.copy() for key, value in board.items()}
    for value in board.values():
        value.flags.writeable = False
    rank_order(
        board["priority"], board["threat"], board["position"], **optional(board, OPTIONAL_KEYS)
    )
    for key, value in board.items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


# --- top_k -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keys", [(), ("deadline",), OPTIONAL_KEYS], ids=["none", "deadline", "all"]
)
@pytest.mark.parametrize("n", [0, 1, 5, 60, 400])
def test_top_k_equals_head_of_rank_order(n: int, keys: tuple[str, ...]) -> None:
    board = random_board(100 + n, n)
    args = (board["priority"], board["threat"], board["position"])
    full = rank_order(*args, **optional(board, keys)).tolist()
    ks = sorted({*range(min(n, 25) + 3), n // 2, n - 1, n, n + 1, n + 10} - {-1})
    for k in ks:
        assert top_k(k, *args, **optional(board, keys)).tolist() == full[:k], k


def test_top_k_breaks_ties_at_the_boundary() -> None:
    # Ten cases share the k-th priority; only their tie-breaks decide which get in.
    priority = [132.0, 90.0] + [60.0] * 10 + [10.0]
    position = [0, 0, 2, 6, 2, 6, 4, 4, 1, 0, 6, 3, 6]
    ids = [50, 40, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20]
    threat = [0] * 13
    full = rank_order(priority, threat, position, ids=ids).tolist()
    assert full[:5] == [0, 1, 10, 5, 3]  # positions 6, lowest id first
    for k in range(14):
        assert top_k(k, priority, threat, position, ids=ids).tolist() == full[:k]


def test_top_k_rejects_negative_k() -> None:
    with pytest.raises(ValueError, match="k"):
        top_k(-1, [1.0], [0], [0])


# --- ranks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 50, 1000])
def test_ranks_is_the_inverse_permutation(n: int) -> None:
    board = random_board(200 + n, n)
    order = rank_order(
        board["priority"], board["threat"], board["position"], **optional(board, OPTIONAL_KEYS)
    )
    rank = ranks(order)
    assert rank.dtype == np.int64
    assert rank[order].tolist() == list(range(1, n + 1))
    assert sorted(rank.tolist()) == list(range(1, n + 1))
    for row in range(n):
        assert order[rank[row] - 1] == row


# --- rejected boards -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1.0, -1e-300, float("nan"), float("inf"), -float("inf")])
def test_rank_order_rejects_bad_priority(bad: float) -> None:
    priority = [10.0, bad, 5.0]
    with pytest.raises(ValueError, match="priority"):
        rank_order(priority, [0, 0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="priority"):
        top_k(1, priority, [0, 0, 0], [1, 1, 1])


@pytest.mark.parametrize("name", ["threat", "position", "deadline", "submitted", "ids"])
def test_rank_order_rejects_length_mismatch_naming_column(name: str) -> None:
    board = random_board(300, 10)
    columns = {key: board[key] for key in ("threat", "position", *OPTIONAL_KEYS)}
    columns[name] = columns[name][:9]
    with pytest.raises(ValueError, match=name):
        rank_order(board["priority"], **columns)


def test_rank_order_rejects_two_dimensional_priority() -> None:
    with pytest.raises(ValueError, match="priority"):
        rank_order([[1.0, 2.0]], [0, 0], [0, 0])


def test_rank_order_rejects_threat_flags_other_than_0_or_1() -> None:
    with pytest.raises(ValueError, match="threat"):
        rank_order([1.0, 2.0], [0, 2], [3, 3])
    with pytest.raises(ValueError, match="threat"):
        top_k(1, [1.0, 2.0], [-1, 0], [3, 3])


# --- movement between two orders, and their stored form ---


def test_rank_moves_reports_rank_changes_for_cases_in_both() -> None:
    moves = rank_moves(np.array([5, 7, 9]), np.array([9, 5, 11]))
    assert moves["case_id"].tolist() == [5, 9]
    assert moves["before"].tolist() == [1, 3]
    assert moves["after"].tolist() == [2, 1]
    assert moves["delta"].tolist() == [-1, 2]


@pytest.mark.parametrize("spread", [1, 3, 1000], ids=["dense", "gappy", "sparse"])
def test_rank_moves_match_intersecting_the_orders(spread: int) -> None:
    rng = np.random.default_rng(spread)
    pool = rng.choice(np.arange(1, 5000 * spread + 1), size=5000, replace=False)
    before = rng.permutation(pool[:4000])
    after = rng.permutation(np.concatenate([pool[1000:4000], pool[4000:]]))
    common, i_before, i_after = np.intersect1d(
        before, after, assume_unique=True, return_indices=True
    )
    moves = rank_moves(before, after)
    assert moves["case_id"].tolist() == common.tolist()
    assert moves["before"].tolist() == (i_before + 1).tolist()
    assert moves["after"].tolist() == (i_after + 1).tolist()
    assert moves["delta"].tolist() == (i_before - i_after).tolist()
    assert rank_moves(before[:0], after)["case_id"].tolist() == []


@pytest.mark.parametrize("k", [0, 1, 10, 400])
def test_biggest_moves_are_the_head_of_a_stable_sort_without_zeros(k: int) -> None:
    rng = np.random.default_rng(k)
    delta = rng.integers(-6, 7, size=300)  # many ties, many zeros
    delta[rng.random(300) < 0.5] = 0
    full = [i for i in np.argsort(-np.abs(delta), kind="stable") if delta[i]][:k]
    assert biggest_moves(delta, k).tolist() == full
    assert biggest_moves(np.zeros(50, dtype=np.int64), 10).tolist() == []


def test_a_snapshot_decodes_to_the_order_and_priorities_it_stored() -> None:
    ids = np.array([42, 7, 2**40, 1], dtype=np.int64)
    priorities = np.array([216.0, 89.99999999999999, 0.0, 14.28])
    assert decode_snapshot(encode_snapshot(ids)).tolist() == ids.tolist()
    assert decode_priorities(encode_priorities(priorities)).tolist() == priorities.tolist()
    assert decode_snapshot(encode_snapshot(np.zeros(0, dtype=np.int64))).tolist() == []
