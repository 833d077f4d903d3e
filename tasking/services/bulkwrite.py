"""Writing a chunk's new scores back in bulk, the fastest way each database allows.

SQLite (inside BEGIN IMMEDIATE, so nobody writes between our read and this
write): one executemany UPDATE by primary key. Rows still under the model that
scored them only change with age (freshness, age, priority, band), so they get
a narrow statement; rows under an older model get every score column.

PostgreSQL: the new values go into a temporary table by binary COPY, built by
NumPy as one buffer (no Python object per value), then one UPDATE ... FROM
joins it on the chunk's id range. The update only applies where the score
version is still the one we read, so a concurrent writer wins and we skip it.
"""

from __future__ import annotations

import struct
from datetime import datetime

import numpy as np
from sqlalchemy import Connection

from tasking.db import driver_datetime, execute_many

# Score columns a rescore writes, with their PostgreSQL binary types.
ALL_COLUMNS = {
    "harm_base": ">f8", "total_harm": ">f8", "risk": ">f8", "freshness": ">f8",
    "age_days": ">f8", "priority": ">f8", "band": ">i2", "position": ">i2",
    "position_grade": ">i2", "bk_priority": ">f8", "bk_position": ">i2",
}  # fmt: skip
# What can change while the model stays the same: only the intelligence ages.
AGE_COLUMNS = ("freshness", "age_days", "priority", "band", "bk_priority")
_PG_NAMES = {">f8": "float8", ">i2": "int2"}
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_BATCH = "rescore_batch"


def write_scores(
    conn: Connection,
    *,
    case_ids: np.ndarray,
    old_versions: np.ndarray,
    old_models: np.ndarray,
    values: dict[str, np.ndarray],
    version_id: int,
    now: datetime,
    lo: int,
    hi: int,
) -> np.ndarray:
    """Write the given rows' new scores; returns which rows this call wrote."""
    if conn.dialect.name == "sqlite":
        same_model = old_models == version_id
        stamp = driver_datetime(conn, now)
        for rows, names in ((same_model, AGE_COLUMNS), (~same_model, tuple(ALL_COLUMNS))):
            if rows.any():
                _sqlite_update(conn, case_ids[rows], {n: values[n][rows] for n in names},
                               version_id, stamp)  # fmt: skip
        return np.ones(len(case_ids), dtype=bool)
    return _postgres_update(conn, case_ids, old_versions, values, version_id, now, lo, hi)


def _sqlite_update(
    conn: Connection, case_ids: np.ndarray, values: dict[str, np.ndarray], version_id: int,
    stamp: str,
) -> None:  # fmt: skip
    # The run's model id and time are the same for every row: literals (both ours), not params.
    assignments = ", ".join(f"{name} = ?" for name in values)
    sql = (
        f"UPDATE case_score SET {assignments}, model_version_id = {int(version_id)},"  # noqa: S608 - column names from ALL_COLUMNS; values are bound or copied
        f" scored_at = '{stamp}', score_version = score_version + 1 WHERE case_id = ?"
    )
    rows = zip(*(column.tolist() for column in values.values()), case_ids.tolist(), strict=True)
    execute_many(conn, sql, rows)


def _copy_record(kinds: list[str]) -> np.dtype:
    """A row of a binary COPY stream of NOT NULL fixed-size fields: count, (length, value)..."""
    fields: list[tuple[str, str]] = [("n", ">i2")]
    for i, kind in enumerate(kinds):
        fields += [(f"len{i}", ">i4"), (f"v{i}", kind)]
    return np.dtype(fields)


def copy_payload(columns: list[tuple[str, np.ndarray]]) -> bytes:
    """A PostgreSQL binary COPY stream of the given (type, values) columns, built in NumPy."""
    records = np.empty(len(columns[0][1]), dtype=_copy_record([kind for kind, _ in columns]))
    records["n"] = len(columns)
    for i, (kind, values) in enumerate(columns):
        records[f"len{i}"] = np.dtype(kind).itemsize
        records[f"v{i}"] = values
    return _COPY_HEADER + records.tobytes() + _COPY_TRAILER


def copy_out(conn: Connection, query: str, kinds: list[str]) -> list[np.ndarray]:
    """The columns of a trusted PostgreSQL query, read by binary COPY into NumPy (NOT NULL only).

    No Python object per value, but one message per row: it beats fetching rows when
    rows have many columns (a chunk's load), not for two.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)") as copy:
            stream = b"".join(bytes(block) for block in copy)
    finally:
        cursor.close()
    if not stream.startswith(_COPY_HEADER) or not stream.endswith(_COPY_TRAILER):
        raise ValueError("unexpected COPY stream (header extension or trailer)")
    body = stream[len(_COPY_HEADER) : -len(_COPY_TRAILER)]
    record = _copy_record(kinds)
    sizes = [np.dtype(kind).itemsize for kind in kinds]
    records = np.frombuffer(body if len(body) % record.itemsize == 0 else b"", dtype=record)
    if (
        len(records) * record.itemsize != len(body)
        or (records["n"] != len(kinds)).any()
        or any((records[f"len{i}"] != size).any() for i, size in enumerate(sizes))
    ):
        raise ValueError("COPY stream has NULLs or other field sizes than expected")
    # Native byte order, so callers compute on ordinary arrays.
    return [records[f"v{i}"].astype(kind.replace(">", "=")) for i, kind in enumerate(kinds)]


def _postgres_update(
    conn: Connection,
    case_ids: np.ndarray,
    old_versions: np.ndarray,
    values: dict[str, np.ndarray],
    version_id: int,
    now: datetime,
    lo: int,
    hi: int,
) -> np.ndarray:
    names = tuple(ALL_COLUMNS)
    columns = ", ".join(f"{name} {_PG_NAMES[kind]}" for name, kind in ALL_COLUMNS.items())
    payload = copy_payload(
        [(">i8", case_ids), (">i8", old_versions)]
        + [(ALL_COLUMNS[name], values[name]) for name in names]
    )
    assignments = ", ".join(f"{name} = u.{name}" for name in names)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_BATCH}"
            f" (case_id int8, old_version int8, {columns}) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY {_BATCH} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
        cursor.execute(
            f"UPDATE case_score AS s SET {assignments}, model_version_id = %s, scored_at = %s,"  # noqa: S608 - column names from ALL_COLUMNS; values are bound or copied
            f" score_version = s.score_version + 1 FROM {_BATCH} AS u"
            " WHERE s.case_id = u.case_id AND s.score_version = u.old_version"
            " AND s.case_id BETWEEN %s AND %s RETURNING s.case_id",
            [version_id, now, lo, hi],
        )
        written = np.fromiter((row[0] for row in cursor.fetchall()), dtype=np.int64)
    finally:
        cursor.close()
    return np.isin(case_ids, written)
