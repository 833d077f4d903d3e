"""Rank a whole board in the SCORING.md order in one vectorised call.

Order, first to last: threat to life first; priority, highest first; position,
highest first; opportunity deadline, soonest first, cases without one last;
submission time, oldest first; id, lowest first. A total order.

The first two keys are packed into one unsigned 64-bit key: the IEEE-754 bit
pattern of a non-negative float orders like the float itself, and priority
never reaches 2**63 as bits, so the top bit is free for the threat-to-life
flag. One sort on that key settles almost every case; only runs of exactly
equal keys are then ordered by the remaining keys, on those rows alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["rank_order", "ranks", "top_k"]

IndexArray = npt.NDArray[np.intp]


def _as_1d(name: str, values: Any, n: int, dtype: Any) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"{name}: must be a 1-D array of length {n}")
    return array


def _primary_key(priority: np.ndarray, threat: np.ndarray) -> npt.NDArray[np.uint64]:
    if priority.size and not (np.isfinite(priority).all() and (priority >= 0).all()):
        raise ValueError("priority: must be finite and >= 0")
    # + 0.0 turns any -0.0 into +0.0 so equal priorities have equal bits.
    bits = (priority + 0.0).view(np.uint64)
    key = bits | (threat.astype(np.uint64) << np.uint64(63))
    # Ascending order of ~key is descending order of (threat, priority).
    return ~key


_SIGN_BIT = np.uint64(1 << 63)
_NAN_CODE = np.uint64(2**64 - 1)
_POSITION_BITS = 3  # positions 0..7 fit in three bits (the contract's are 0..6)


def _order_codes(values: npt.NDArray[np.float64]) -> npt.NDArray[np.uint64]:
    """uint64 codes that order like the floats: -0.0 equals 0.0, every NaN equal and last."""
    bits = (values + 0.0).view(np.uint64)
    negative = (bits & _SIGN_BIT).astype(bool)
    # Negative floats: flipping every bit reverses their order and puts them first.
    codes: npt.NDArray[np.uint64] = np.where(negative, ~bits, bits | _SIGN_BIT)
    codes[np.isnan(values)] = _NAN_CODE
    return codes


def _dense_rank(values: np.ndarray) -> tuple[npt.NDArray[np.uint64], int]:
    """Rank of each value from 0, equal values sharing a rank; and the bits the ranks need."""
    order = np.argsort(values)
    ordered = values[order]
    step = np.empty(values.shape[0], dtype=np.uint64)
    step[0] = 0
    step[1:] = ordered[1:] != ordered[:-1]
    rank = np.empty_like(step)
    rank[order] = np.cumsum(step)
    return rank, int(rank.max()).bit_length()


def _group_starts(same_as_prev: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Rows that belong to a run of two or more equal keys (given equality with the previous row)."""
    in_run = same_as_prev.copy()
    in_run[:-1] |= same_as_prev[1:]
    return in_run


def _tiebreak_order(
    primary: npt.NDArray[np.uint64],
    position: np.ndarray,
    deadline: np.ndarray | None,
    submitted: np.ndarray | None,
    ids: np.ndarray | None,
) -> IndexArray:
    n = primary.shape[0]
    order: IndexArray = np.argsort(primary)
    if n < 2:
        return order
    same_as_prev = np.empty(n, dtype=bool)
    same_as_prev[0] = False
    sorted_key = primary[order]
    np.equal(sorted_key[1:], sorted_key[:-1], out=same_as_prev[1:])
    del sorted_key
    if not same_as_prev.any():
        return order
    # Only rows in runs of equal primary keys need the remaining keys.
    slots = np.flatnonzero(_group_starts(same_as_prev))
    members = order[slots]
    group = np.cumsum(~same_as_prev[slots], dtype=np.uint64)  # run number, non-decreasing

    # The remaining keys, most significant first, each as values that sort ascending
    # in board order. Each level sorts only the rows still tied after the levels
    # before it, by one packed (group, dense rank) key, so an unstable sort is
    # enough and the work shrinks level by level. The last level (a row's place in
    # `members`) only matters for duplicate ids, and keeps them in that order.
    def position_key(rows: IndexArray) -> np.ndarray:
        return ~position[rows]  # ~p = -p - 1: highest position first, without overflow

    levels: list[Any] = [position_key]
    if deadline is not None:
        levels.append(lambda rows: _order_codes(deadline[rows]))
    if submitted is not None:
        levels.append(lambda rows: _order_codes(submitted[rows]))
    levels.append(lambda rows: rows if ids is None else ids[rows])
    if ids is not None:
        levels.append(None)  # place in `members`

    arranged = np.arange(members.shape[0])  # positions in `members`, in board order so far
    tied = arranged.copy()  # slots of `arranged` whose group still has a tie
    for level in levels:
        current = arranged[tied]
        if level is None:
            rank, bits = current.astype(np.uint64), int(current.max()).bit_length()
        elif level is position_key and _small_positions(position, members):
            rank, bits = (7 - position[members[current]]).astype(np.uint64), _POSITION_BITS
        else:
            rank, bits = _dense_rank(level(members[current]))
        if int(group[-1]).bit_length() + bits <= 64:
            packed = (group << np.uint64(bits)) | rank
            by_level = np.argsort(packed)
        else:  # only for boards of billions of rows
            packed = np.empty(0, dtype=np.uint64)
            by_level = np.lexsort((rank, group))
        arranged[tied] = current[by_level]
        if packed.size:
            packed = packed[by_level]
            same = packed[1:] == packed[:-1]
        else:
            same = (group[by_level][1:] == group[by_level][:-1]) & (
                rank[by_level][1:] == rank[by_level][:-1]
            )
        if not same.any():
            break
        same_as_prev = np.concatenate(([False], same))
        still = np.flatnonzero(_group_starts(same_as_prev))
        tied = tied[still]
        group = np.cumsum(~same_as_prev[still], dtype=np.uint64)
    order[slots] = members[arranged]
    return order


def _small_positions(position: np.ndarray, members: IndexArray) -> bool:
    """Whether every position in the tied rows is 0..7, so it packs into three bits."""
    tied = position[members]
    return bool(tied.min() >= 0 and tied.max() <= 7)


def rank_order(
    priority: Any,
    threat: Any,
    position: Any,
    *,
    deadline: Any = None,
    submitted: Any = None,
    ids: Any = None,
) -> IndexArray:
    """Indices that put a board in SCORING.md order (first case first).

    `deadline` and `submitted` are numbers on any monotone time scale (e.g.
    epoch seconds or days); NaN in `deadline` means no deadline. Without
    `ids`, a case's position in the input stands in for its id.
    """
    priority_arr = np.asarray(priority, dtype=np.float64)
    if priority_arr.ndim != 1:
        raise ValueError("priority: must be a 1-D array")
    n = priority_arr.shape[0]
    threat_arr = _as_1d("threat", threat, n, np.int64)
    position_arr = _as_1d("position", position, n, np.int64)
    deadline_arr = None if deadline is None else _as_1d("deadline", deadline, n, np.float64)
    submitted_arr = None if submitted is None else _as_1d("submitted", submitted, n, np.float64)
    ids_arr = None if ids is None else _as_1d("ids", ids, n, np.int64)
    primary = _primary_key(priority_arr, threat_arr)
    return _tiebreak_order(primary, position_arr, deadline_arr, submitted_arr, ids_arr)


def ranks(order: IndexArray) -> npt.NDArray[np.int64]:
    """Rank (1 = first) of each input row, given the order from `rank_order`."""
    result = np.empty(order.shape[0], dtype=np.int64)
    result[order] = np.arange(1, order.shape[0] + 1)
    return result


def top_k(
    k: int,
    priority: Any,
    threat: Any,
    position: Any,
    *,
    deadline: Any = None,
    submitted: Any = None,
    ids: Any = None,
) -> IndexArray:
    """Indices of the first k cases of the board, in order, without sorting the rest."""
    if k < 0:
        raise ValueError("k: must be >= 0")
    priority_arr = np.asarray(priority, dtype=np.float64)
    n = priority_arr.shape[0]
    if k == 0 or n == 0:
        return np.empty(0, dtype=np.intp)
    if k >= n:
        return rank_order(
            priority, threat, position, deadline=deadline, submitted=submitted, ids=ids
        )[:k]
    threat_arr = _as_1d("threat", threat, n, np.int64)
    primary = _primary_key(priority_arr, threat_arr)
    # Every case whose primary key ties with the k-th best is a candidate.
    kth = np.partition(primary, k - 1)[k - 1]
    candidates = np.flatnonzero(primary <= kth)

    def pick(values: Any, dtype: Any) -> np.ndarray | None:
        return None if values is None else _as_1d("column", values, n, dtype)[candidates]

    sub_order = _tiebreak_order(
        primary[candidates],
        _as_1d("position", position, n, np.int64)[candidates],
        pick(deadline, np.float64),
        pick(submitted, np.float64),
        pick(ids, np.int64) if ids is not None else candidates.astype(np.int64),
    )
    result: IndexArray = candidates[sub_order[:k]]
    return result
