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


def _tiebreak_order(
    primary: npt.NDArray[np.uint64],
    position: np.ndarray,
    deadline: np.ndarray | None,
    submitted: np.ndarray | None,
    ids: np.ndarray | None,
) -> IndexArray:
    n = primary.shape[0]
    # Unstable is fine: rows in a run of equal keys are fully re-ordered below.
    order: IndexArray = np.argsort(primary)
    if n < 2:
        return order
    sorted_key = primary[order]
    same_as_next = sorted_key[1:] == sorted_key[:-1]
    if not same_as_next.any():
        return order
    in_run = np.zeros(n, dtype=bool)
    in_run[1:] |= same_as_next
    in_run[:-1] |= same_as_next
    slots = np.flatnonzero(in_run)
    members = order[slots]
    # Runs are contiguous in `order`; a run number keeps rows inside their run.
    run = np.cumsum(np.concatenate(([True], ~same_as_next)))[slots]
    keys: list[np.ndarray] = [members if ids is None else ids[members]]
    if submitted is not None:
        keys.append(submitted[members])
    if deadline is not None:
        keys.append(deadline[members])  # NaN (no deadline) sorts after every date
    keys.append(run * 8 + (7 - position[members].astype(np.int64)))
    order[slots] = members[np.lexsort(keys)]
    return order


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
