"""Rank a whole board in the order of docs/scoring.md in one vectorised call.

Order, first to last: threat to life first; priority, highest first; position,
highest first; opportunity deadline, soonest first, cases without one last;
submission time, oldest first; id, lowest first. A total order.

The first two keys are packed into one unsigned 64-bit key: the IEEE-754 bit
pattern of a non-negative float orders like the float itself, and priority
never reaches 2**63 as bits, so the top bit is free for the threat-to-life
flag. The board is sorted once on that key's high bits with the row number
packed into its low bits: a plain sort of numbers, several times faster than
an argsort. Rows whose high bits tie (in practice, equal priorities) are then
ordered level by level: the key's low bits, position, deadline, submission
time, id. Each level sorts only the rows still tied after the levels before
it, on one packed (group, rank) number, so the work shrinks as it goes.
Rows equal in every key (possible only with duplicate ids) keep input order.

Below that, the arithmetic of movement between two board orders (how far each
case moved, the biggest moves) and the compact bytes an order is stored as in a
rank snapshot. All of it is pure: tested in tests/scoring/test_rank.py without a
database.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "biggest_moves",
    "decode_priorities",
    "decode_snapshot",
    "encode_priorities",
    "encode_snapshot",
    "rank_moves",
    "rank_order",
    "ranks",
    "top_k",
]

IndexArray = npt.NDArray[np.intp]
# rank_moves uses tables indexed by case id (int32 positions, so under 2**31 cases)
# unless the ids are sparser than this many per case in the two orders.
DENSE_IDS_FACTOR = 2


def _as_1d(name: str, values: Any, n: int, dtype: Any) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"{name}: must be a 1-D array of length {n}")
    return array


def _primary_key(priority: np.ndarray, threat: np.ndarray) -> npt.NDArray[np.uint64]:
    if priority.size and not (np.isfinite(priority).all() and (priority >= 0).all()):
        raise ValueError("priority: must be finite and >= 0")
    if threat.size and (threat.min() < 0 or threat.max() > 1):
        raise ValueError("threat: must be 0 or 1")
    # + 0.0 turns any -0.0 into +0.0 so equal priorities have equal bits.
    bits = (priority + 0.0).view(np.uint64)
    key = bits | (threat.astype(np.uint64) << np.uint64(63))
    # Ascending order of ~key is descending order of (threat, priority).
    return ~key


_SIGN_BIT = np.uint64(1 << 63)
_NAN_CODE = np.uint64(2**64 - 1)


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


def _in_runs(same_as_prev: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Rows in a run of two or more equal keys, given whether each row equals the one before."""
    in_run = same_as_prev.copy()
    in_run[:-1] |= same_as_prev[1:]
    return in_run


def _sort_with_ties(
    key: npt.NDArray[np.uint64], key_bits: int
) -> tuple[IndexArray, npt.NDArray[np.bool_]]:
    """Order that sorts `key` ascending, and whether each key then ties with the one before.

    When the key leaves room for a row number in its 64 bits, the two are packed and
    sorted as plain numbers (several times faster than an argsort on large arrays);
    equal keys then keep their input order.
    """
    n = key.shape[0]
    index_bits = max(1, (n - 1).bit_length())
    if key_bits + index_bits <= 64:
        packed = (key << np.uint64(index_bits)) | np.arange(n, dtype=np.uint64)
        packed.sort()
        order = (packed & np.uint64((1 << index_bits) - 1)).astype(np.intp)
        packed >>= np.uint64(index_bits)
        return order, packed[1:] == packed[:-1]
    order = np.argsort(key)
    ordered = key[order]
    return order, ordered[1:] == ordered[:-1]


def _sort_within_groups(
    group: npt.NDArray[np.uint64], rank: npt.NDArray[np.uint64], bits: int
) -> tuple[IndexArray, npt.NDArray[np.bool_]]:
    """Order by (group, rank) and, in that order, whether each row ties with the one before."""
    group_bits = int(group[-1]).bit_length()
    if group_bits + bits <= 64:
        return _sort_with_ties((group << np.uint64(bits)) | rank, group_bits + bits)
    by_key: IndexArray = np.lexsort((rank, group))  # boards of billions of rows only
    group, rank = group[by_key], rank[by_key]
    return by_key, (group[1:] == group[:-1]) & (rank[1:] == rank[:-1])


Level = Callable[[IndexArray, IndexArray], tuple[npt.NDArray[np.uint64], int]]


def _tiebreak_levels(
    low_bits: Level,
    position: np.ndarray,
    deadline: np.ndarray | None,
    submitted: np.ndarray | None,
    ids: np.ndarray | None,
) -> list[Level]:
    """The rest of the primary key, then keys 3 to 6 of the board order, as (rank, bits)."""

    def by_position(rows: IndexArray, places: IndexArray) -> tuple[npt.NDArray[np.uint64], int]:
        values = position[rows]
        if values.min() >= 0 and values.max() <= 7:  # the contract's 0..6: no sort needed
            return (7 - values).astype(np.uint64), 3
        return _dense_rank(~values)  # ~p = -p - 1: highest first, without overflow

    def by_time(times: np.ndarray) -> Level:
        return lambda rows, places: _dense_rank(_order_codes(times[rows]))

    def by_id(rows: IndexArray, places: IndexArray) -> tuple[npt.NDArray[np.uint64], int]:
        return _dense_rank(rows if ids is None else ids[rows])

    def by_place(rows: IndexArray, places: IndexArray) -> tuple[npt.NDArray[np.uint64], int]:
        return places.astype(np.uint64), int(places.max()).bit_length()

    levels: list[Level] = [low_bits, by_position]
    levels += [by_time(times) for times in (deadline, submitted) if times is not None]
    levels.append(by_id)
    if ids is not None:
        levels.append(by_place)  # rows equal in every key (duplicate ids) keep input order
    return levels


def _tiebreak_order(
    primary: npt.NDArray[np.uint64],
    position: np.ndarray,
    deadline: np.ndarray | None,
    submitted: np.ndarray | None,
    ids: np.ndarray | None,
) -> IndexArray:
    n = primary.shape[0]
    if n < 2:
        return np.arange(n, dtype=np.intp)
    # First sort on the primary key's high bits with the row number packed into
    # its low bits (a plain sort, not an argsort); the low bits become the first
    # tie-break level below, so the result is exactly the order of the full key.
    index_bits = max(1, (n - 1).bit_length())
    low_mask = np.uint64((1 << index_bits) - 1)
    packed = (primary & ~low_mask) | np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & low_mask).astype(np.intp)
    same_as_prev = np.empty(n, dtype=bool)
    same_as_prev[0] = False
    packed >>= np.uint64(index_bits)
    np.equal(packed[1:], packed[:-1], out=same_as_prev[1:])
    del packed
    if not same_as_prev.any():
        return order
    # Only the rows in runs of equal high bits need more keys. Each level sorts
    # just the rows still tied after the levels before it, on one packed
    # (group, rank) key, so the work shrinks level by level.
    slots = np.flatnonzero(_in_runs(same_as_prev))
    members = order[slots]
    group = np.cumsum(~same_as_prev[slots], dtype=np.uint64)  # run number, non-decreasing

    def low_bits(rows: IndexArray, places: IndexArray) -> tuple[npt.NDArray[np.uint64], int]:
        return primary[rows] & low_mask, index_bits

    arranged = np.arange(members.shape[0])  # places in `members`, in board order so far
    tied = arranged.copy()  # which entries of `arranged` are still tied within their group
    for level in _tiebreak_levels(low_bits, position, deadline, submitted, ids):
        places = arranged[tied]
        rank, bits = level(members[places], places)
        by_key, same = _sort_within_groups(group, rank, bits)
        arranged[tied] = places[by_key]
        if not same.any():
            break
        same_as_prev = np.concatenate(([False], same))
        still = np.flatnonzero(_in_runs(same_as_prev))
        tied = tied[still]
        group = np.cumsum(~same_as_prev[still], dtype=np.uint64)
    order[slots] = members[arranged]
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
    """Indices that put a board in the order of docs/scoring.md (first case first).

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


# --- Movement between two board orders, and the stored form of an order ------------------


def encode_snapshot(ids: np.ndarray) -> bytes:
    """Case ids in board order as stored in a snapshot (little-endian int64, compressed)."""
    return zlib.compress(np.asarray(ids).astype("<i8").tobytes(), 1)


def encode_priorities(priorities: np.ndarray) -> bytes:
    """The priorities beside a snapshot's case ids (little-endian float64, compressed)."""
    return zlib.compress(np.asarray(priorities).astype("<f8").tobytes(), 1)


def decode_snapshot(blob: bytes) -> np.ndarray:
    """Case ids in board order from a stored snapshot."""
    return np.frombuffer(zlib.decompress(blob), dtype="<i8").astype(np.int64)


def decode_priorities(blob: bytes) -> np.ndarray:
    """The priorities stored beside a snapshot's case ids, in the same order."""
    return np.frombuffer(zlib.decompress(blob), dtype="<f8").astype(np.float64)


def rank_moves(before: np.ndarray, after: np.ndarray) -> dict[str, np.ndarray]:
    """Ranks of the cases present in both orders, and how far each moved (positive = up).

    In case id order. Ids are dense, so each order's positions go into a table
    indexed by id: linear time, where intersecting sorted copies is not.
    """
    top_id = int(max(before.max(initial=0), after.max(initial=0)))
    if top_id > DENSE_IDS_FACTOR * (len(before) + len(after)) + 1024 or top_id >= 2**31:
        common, i_before, i_after = np.intersect1d(
            before, after, assume_unique=True, return_indices=True
        )
    else:
        at_before = np.full(top_id + 1, -1, dtype=np.int32)
        at_after = np.full(top_id + 1, -1, dtype=np.int32)
        at_before[before] = np.arange(len(before), dtype=np.int32)
        at_after[after] = np.arange(len(after), dtype=np.int32)
        common = np.flatnonzero((at_before >= 0) & (at_after >= 0))
        i_before = at_before[common].astype(np.int64)
        i_after = at_after[common].astype(np.int64)
    return {
        "case_id": common.astype(np.int64),
        "before": i_before + 1,
        "after": i_after + 1,
        "delta": i_before - i_after,
    }


def biggest_moves(delta: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest non-zero moves, largest first, ties in index order.

    The same as the head of a stable full sort, from a partition and a sort of
    the few candidates left.
    """
    if k < 1:
        return np.zeros(0, dtype=np.intp)
    size = np.abs(delta)
    floor = 1
    if len(size) > k:
        floor = max(floor, int(np.partition(size, len(size) - k)[len(size) - k]))
    candidates = np.flatnonzero(size >= floor)
    return candidates[np.argsort(-size[candidates], kind="stable")][:k]
