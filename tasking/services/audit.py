"""The one way to write the audit log (DPA 2018 s.62), and the check that it is whole.

Every row says who, when (UTC), what (category, action, record type and id),
from where (origin, address, user agent, sign-in session or API token) and
why (a reason code from `REASONS` and text). Services never touch Flask's
request: the web layer puts an `AuditContext` (or a function returning one)
on the SQLModel session as `session.info["audit_context"]`
(tasking/web/db.py); the CLI and the workers are recognised by their running
click command or Celery task.

Rows form one hash chain: `row_hash` is SHA-256 over `prev_hash`, a record
separator and the canonical content (`canonical`); `seq` numbers the rows
1, 2, 3... in the one order the chain head allowed (the head row is locked
FOR UPDATE on PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE, so
every audit writer must use a write transaction). The database refuses
UPDATE and DELETE on the table (triggers of migration 0008). `verify` walks
the chain and names the first row that was altered, removed or moved.

Erasure contract (disposal): after erasing a record's content, in the same
transaction, call
``record_event(session=..., actor=reviewer, category="erasure",
action="case.dispose", entity_type="case", entity_id=case.id,
reason=<the reviewer's recorded reason>, detail={"fields": [names erased],
"review_id": ...})`` -- field names only, never the erased text.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert
from sqlmodel import Session, col, select

from tasking.db import writer
from tasking.models import AuditEvent, AuditVerification, Case, Role, User, utcnow
from tasking.services.errors import Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)
CATEGORIES = frozenset(
    {"collection", "alteration", "consultation", "disclosure", "combination", "erasure"}
)
ORIGINS = frozenset({"web", "api", "cli", "worker", "system"})
# Why a restricted record is viewed or an export is taken: the short list asked for.
REASONS: tuple[tuple[str, str], ...] = (
    ("investigation", "An investigation or operation I am working on"),
    ("tasking_meeting", "Preparing for or sitting in the tasking meeting"),
    ("supervision", "Supervision, review or moderation"),
    ("disclosure", "Disclosure to a partner, prosecutor or court"),
    ("subject_access", "A subject access request"),
    ("audit", "Audit, compliance or a complaint"),
    ("other", "Another reason (say what)"),
)
REASON_CODES = frozenset(code for code, _ in REASONS)
REASON_TEXT_MAX = 500
GENESIS = "0" * 64  # the prev_hash of row 1
DATETIME_TEXT = "%Y-%m-%d %H:%M:%S.%f"  # how `at` enters the hash (SQLite stores it so)
_LIMITS = {
    "action": 48, "entity_type": 32, "reason_code": 32, "origin": 16, "address": 64,
    "user_agent": 256, "credential": 64,
}  # fmt: skip
CONTEXT_KEY = "audit_context"
RS, SEP = "\x1e", "\x1f"  # between prev_hash and the content; between fields
_DROPPED = {0: None, 0x1E: None, 0x1F: None}


@dataclass(frozen=True)
class AuditContext:
    """Where an act comes from, and the reason its user gave (if one was asked for)."""

    origin: str = "system"
    address: str = ""
    user_agent: str = ""
    credential: str = ""  # "session:<id prefix>", "token:<id>", "cli:<command>", "task:<name>"
    reason_code: str = ""
    reason: str = ""


ContextSource = AuditContext | Callable[[], AuditContext]


def set_context(session: Session, context: ContextSource) -> None:
    """Give a session the context its audit rows carry (a function is asked at each row)."""
    session.info[CONTEXT_KEY] = context


def check_reason(code: str, reason: str) -> tuple[str, str]:
    """A reason from the form: a known code, and text (required for "other"); Invalid if not."""
    code, reason = (code or "").strip(), " ".join((reason or "").split())
    errors: dict[str, str] = {}
    if code not in REASON_CODES:
        errors["reason_code"] = "Choose why you need this record"
    if code == "other" and len(reason) < 5:
        errors["reason"] = "Say why, in at least 5 characters"
    if len(reason) > REASON_TEXT_MAX:
        errors["reason"] = f"Use at most {REASON_TEXT_MAX} characters"
    if errors:
        raise Invalid("a reason is needed: " + "; ".join(errors.values()), fields=errors)
    return code, reason


def reason_label(code: str) -> str:
    """The words of a reason code (the code itself if it is not on the list)."""
    return dict(REASONS).get(code, code)


def current_context(session: Session) -> AuditContext:
    """The context of the session, else of the running CLI command or worker task."""
    source: ContextSource | None = session.info.get(CONTEXT_KEY)
    if source is None:
        return process_context()
    return source if isinstance(source, AuditContext) else source()


def process_context() -> AuditContext:
    """ "worker" inside a Celery task, "cli" inside a `tasking` command, else "system"."""
    try:
        from celery import current_task

        task = current_task
        if task is not None and getattr(task, "request", None) is not None and task.request.id:
            return AuditContext(origin="worker", credential=f"task:{task.name}"[:64])
    except ImportError:  # pragma: no cover - celery is a dependency
        pass
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        return AuditContext(origin="cli", credential=f"cli:{ctx.command_path}"[:64])
    return AuditContext()


def record_event(
    *,
    session: Session,
    actor: User | None,
    category: str,
    action: str,
    entity_type: str,
    entity_id: int | None,
    reason: str = "",
    reason_code: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row to the chain, in the caller's transaction (it commits or rolls
    back with the change). `reason` and `reason_code` default to the context's."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown audit category {category!r}")
    _require_writer(session)
    context = current_context(session)
    event = AuditEvent(
        seq=0,
        actor_id=actor.id if actor else None,
        category=category,
        action=_clean(action, "action"),
        entity_type=_clean(entity_type, "entity_type"),
        entity_id=entity_id,
        reason_code=_clean(reason_code or context.reason_code, "reason_code"),
        reason=_clean(reason or context.reason),
        detail=_clean(json.dumps(dict(detail or {}), sort_keys=True, default=str)),
        origin=_clean(context.origin if context.origin in ORIGINS else "system", "origin"),
        address=_clean(context.address, "address"),
        user_agent=_clean(context.user_agent, "user_agent"),
        credential=_clean(context.credential, "credential"),
    )
    _chain(session, event)
    return event


def _clean(value: str, field: str = "") -> str:
    """Text as it is stored (and hashed): within its column, without NUL (PostgreSQL refuses
    it) or the record and unit separators (which delimit the hashed fields)."""
    value = (value or "").translate(_DROPPED)
    limit = _LIMITS.get(field)
    return value[:limit] if limit else value


def _require_writer(session: Session) -> None:
    """On SQLite an audit row belongs in a write transaction (BEGIN IMMEDIATE).

    The chain stays whole either way: a deferred transaction whose snapshot is stale
    cannot take the write lock (SQLITE_BUSY_SNAPSHOT), so it fails instead of forking
    the chain. But it fails where a writer would have waited, so it is logged.
    """
    bind = session.get_bind()
    if (
        isinstance(bind, Engine)
        and bind.dialect.name == "sqlite"
        and not bind.get_execution_options().get("tasking_write", False)
    ):
        log.warning(
            "audit row written from a read session on SQLite: use a writer"
            " (tasking.db.writer, session_scope(engine), or db(write=True) in a view)"
        )


def _chain(session: Session, event: AuditEvent) -> None:
    """Take the next link: lock the head, hash the row onto it, move the head."""
    # Straight through the connection (the ORM's statement handling would double the cost).
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    head = conn.exec_driver_sql(_HEAD_FOR_UPDATE if postgres else _HEAD).first()
    if head is None:
        raise RuntimeError("audit_chain_head has no row: run `tasking init-db` (migration 0008)")
    event.at = event.at.astimezone(UTC)
    event.seq = int(head[0]) + 1
    event.prev_hash = str(head[1]) or GENESIS
    event.row_hash = link_hash(event.prev_hash, canonical(content_of(event)))
    session.add(event)
    conn.exec_driver_sql(_MOVE_HEAD_PG if postgres else _MOVE_HEAD, (event.seq, event.row_hash))


_HEAD = "SELECT seq, row_hash FROM audit_chain_head WHERE id = 1"
_HEAD_FOR_UPDATE = _HEAD + " FOR UPDATE"
_MOVE_HEAD = "UPDATE audit_chain_head SET seq = ?, row_hash = ? WHERE id = 1"
_MOVE_HEAD_PG = "UPDATE audit_chain_head SET seq = %s, row_hash = %s WHERE id = 1"


# --- the canonical form (version 1): the same text from Python and from SQL ----------

CONTENT_FIELDS = (
    "seq", "at", "actor_id", "category", "action", "entity_type", "entity_id",
    "reason_code", "reason", "detail", "origin", "address", "user_agent", "credential",
)  # fmt: skip
_NUMBERS = frozenset({"seq", "actor_id", "entity_id"})


def content_of(event: AuditEvent) -> list[str]:
    """A row's content as the texts that are hashed, in CONTENT_FIELDS order."""
    values: list[str] = []
    for name in CONTENT_FIELDS:
        value = getattr(event, name)
        if name == "at":
            values.append(as_text(value))
        else:
            values.append("" if value is None else str(value))
    return values


def as_text(moment: datetime) -> str:
    """A moment as it enters the hash: UTC, microseconds, no zone suffix."""
    return moment.astimezone(UTC).strftime(DATETIME_TEXT)


def canonical(values: Sequence[str]) -> str:
    """The values joined by the unit separator (no stored text holds one: `_clean`)."""
    return SEP.join(values)


def link_hash(prev_hash: str, content: str) -> str:
    """SHA-256 (hex) of the previous row's hash and this row's canonical content."""
    return hashlib.sha256(f"{prev_hash}{RS}{content}".encode()).hexdigest()


def canonical_sql(dialect: str) -> str:
    """SQL giving `prev_hash || RS || canonical(content)` for each row (the text hashed).

    Plain concatenation: SQLite evaluates it several times faster than per-field
    length prefixes, which is most of the walk's cost.
    """
    if dialect == "postgresql":
        sep, rs = "chr(31)", "chr(30)"
        at = "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    else:
        sep, rs = "char(31)", "char(30)"
        at = "at"
    parts = []
    for name in CONTENT_FIELDS:
        if name == "at":
            parts.append(at)
        elif name in _NUMBERS:
            parts.append(f"COALESCE(CAST({name} AS TEXT), '')")
        else:
            parts.append(name)
    return f"prev_hash || {rs} || " + f" || {sep} || ".join(parts)


# --- verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The result of walking the chain: good through `through_seq`, or the first problem."""

    ok: bool
    from_seq: int
    through_seq: int
    through_hash: str
    rows: int
    problem: str = ""
    bad_seq: int | None = None


PART_MIN_ROWS = 250_000  # a walk split across processes gives each part at least this many rows


@dataclass(frozen=True)
class _Part:
    """One stretch of the walk: the rows with after < seq <= through, from the row before."""

    ok: bool
    rows: int
    last_seq: int  # the last row that passed (or the row before the stretch)
    last_hash: str
    checkpoint_seen: bool
    problem: str = ""
    bad_seq: int | None = None


def verify(
    conn: Connection,
    *,
    after_seq: int = 0,
    after_hash: str = GENESIS,
    checkpoint: tuple[int, str] | None = None,
    batch: int = 100_000,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    part_rows: int = PART_MIN_ROWS,
) -> Verdict:
    """Walk the chain from the row after (`after_seq`, `after_hash`) to the end.

    Names the first row whose content no longer matches its hash (altered), whose
    number is not the next one (removed), or whose prev_hash is not the hash of the
    row before it (removed, inserted or reordered); then checks the end against the
    chain head (rows removed from the end) and against `checkpoint` (seq, hash) if given.

    With `workers` > 1 (and at least `part_rows` rows a part) the rows are split into
    stretches of seq walked by that many processes at once, each on its own
    connection. A row's check needs only the row before it as stored, so a stretch
    starts from the last row before it; the stretches are then joined in order and
    the first problem of the first stretch that has one is the walk's, the same row
    and words as one walk. Committed rows only: a caller's uncommitted rows are seen
    by one walk (workers=1), not by other connections.
    """
    checkpoint_seen = checkpoint is None or checkpoint[0] <= after_seq
    # The head first: rows appended while we walk are past it and left for the next walk.
    head = conn.exec_driver_sql("SELECT seq, row_hash FROM audit_chain_head WHERE id = 1").first()
    head_seq = int(head[0]) if head is not None else None
    bounds = _split(after_seq, head_seq, workers, part_rows)
    if len(bounds) > 2 and _shareable(conn):
        parts = _walk_parts(conn, bounds, after_seq, after_hash, checkpoint, batch, workers)
    else:
        with contextlib.closing(_prefetched(_batches(conn, after_seq, batch, head_seq))) as chunks:
            parts = [_walk(chunks, after_seq, after_hash, checkpoint, progress)]
    rows = 0
    for part in parts:
        rows += part.rows
        checkpoint_seen = checkpoint_seen or part.checkpoint_seen
        if not part.ok:
            return Verdict(
                False, after_seq + 1, part.last_seq, part.last_hash, rows, part.problem,
                part.bad_seq,
            )  # fmt: skip
    last_seq, last_hash = parts[-1].last_seq, parts[-1].last_hash
    if progress is not None and len(parts) > 1:
        progress(rows)

    def fail(problem: str, seq: int | None) -> Verdict:
        return Verdict(False, after_seq + 1, last_seq, last_hash, rows, problem, seq)

    if not checkpoint_seen and checkpoint is not None:
        return fail(
            f"the chain ends at row {last_seq} and no longer reaches the checkpoint"
            f" {checkpoint[0]} (rows removed from the end)",
            checkpoint[0],
        )
    if (
        head is not None
        and after_seq <= int(head[0])
        and (int(head[0]) != last_seq or (last_seq > after_seq and head[1] != last_hash))
    ):
        return fail(
            f"the chain ends at row {last_seq} but its head names row {head[0]}"
            " (rows removed from the end, or the head was changed)",
            last_seq + 1,
        )
    return Verdict(True, after_seq + 1, last_seq, last_hash, rows)


def _walk(
    chunks: Iterable[list[tuple[Any, ...]]],
    start_seq: int,
    start_hash: str,
    checkpoint: tuple[int, str] | None,
    progress: Callable[[int], None] | None = None,
) -> _Part:
    """Check rows (seq, hashed text, prev_hash, row_hash) in seq order following the row
    (`start_seq`, `start_hash`); stop at the first problem."""
    expected_seq, prev = start_seq + 1, start_hash
    last_seq, seen = start_seq, False
    check_seq = checkpoint[0] if checkpoint is not None else None

    def fail(problem: str, seq: int) -> _Part:
        # Every row that passed had the next number: they are start_seq+1 .. last_seq.
        return _Part(False, last_seq - start_seq, last_seq, prev, seen, problem, seq)

    sha = hashlib.sha256
    for chunk in chunks:
        for seq, hashed, prev_hash, row_hash in chunk:
            if seq != expected_seq:
                return fail(
                    f"row {expected_seq} is missing: after row {last_seq} the next row is"
                    f" {seq} (rows removed)",
                    expected_seq,
                )
            if prev_hash != prev:
                return fail(
                    f"row {seq} does not follow row {last_seq}: its prev_hash is not row"
                    f" {last_seq}'s hash (rows removed, inserted or reordered)",
                    seq,
                )
            if sha(hashed.encode()).hexdigest() != row_hash:
                return fail(f"row {seq} was altered: its content does not match its hash", seq)
            if seq == check_seq:
                assert checkpoint is not None
                if row_hash != checkpoint[1]:
                    return fail(
                        f"row {seq} does not match the checkpoint {checkpoint[0]}:"
                        f"{checkpoint[1]} (the chain was rewritten)",
                        seq,
                    )
                seen = True
            prev = row_hash
            last_seq = seq
            expected_seq = seq + 1
        if progress is not None:
            progress(last_seq - start_seq)
    return _Part(True, last_seq - start_seq, last_seq, prev, seen)


def _split(after_seq: int, head_seq: int | None, workers: int, part_rows: int) -> list[int]:
    """Stretch boundaries [after_seq, b1, ..., head_seq]: a few stretches per worker, each of
    at least `part_rows` rows (so a slower process takes fewer); one stretch if small."""
    if head_seq is None or workers < 2 or head_seq - after_seq < 2 * max(part_rows, 1):
        return [after_seq, head_seq if head_seq is not None else after_seq]
    count = min(4 * workers, (head_seq - after_seq) // max(part_rows, 1))
    step = (head_seq - after_seq) / count
    inner = [after_seq + round(step * i) for i in range(1, count)]
    return [after_seq, *inner, head_seq]


def _shareable(conn: Connection) -> bool:
    """True when other processes can open the same database (not SQLite in memory)."""
    url = conn.engine.url
    return url.get_backend_name() == "postgresql" or (
        url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    )


def _walk_parts(
    conn: Connection,
    bounds: list[int],
    after_seq: int,
    after_hash: str,
    checkpoint: tuple[int, str] | None,
    batch: int,
    workers: int,
) -> list[_Part]:
    """The stretches walked by `workers` processes; the results in seq order, up to and
    including the first that failed."""
    url = conn.engine.url.render_as_string(hide_password=False)
    jobs = [
        (url, low, high, after_seq, after_hash, checkpoint, batch)
        for low, high in itertools.pairwise(bounds)
    ]
    # Fork: the workers start at once, without importing the application again (seconds
    # each). They touch nothing inherited (each opens its own connection) and leave by
    # os._exit, so this process's connections are never closed from a worker.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_walk_stretch, *job) for job in jobs]
        parts: list[_Part] = []
        for future in futures:
            part = future.result()
            parts.append(part)
            if not part.ok:
                for later in futures:
                    later.cancel()  # the first problem is found: the rest need not start
                break
    return parts


def _walk_stretch(
    url: str,
    low: int,
    high: int,
    after_seq: int,
    after_hash: str,
    checkpoint: tuple[int, str] | None,
    batch: int,
) -> _Part:
    """In a worker process: walk the rows low < seq <= high, following the last stored row
    at or before `low` (or the walk's start)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            start_seq, start_hash = after_seq, after_hash
            if low > after_seq:
                before = conn.exec_driver_sql(
                    "SELECT seq, row_hash FROM audit_event WHERE seq > %(a)s AND seq <= %(b)s"
                    " ORDER BY seq DESC LIMIT 1"
                    if conn.dialect.name == "postgresql"
                    else "SELECT seq, row_hash FROM audit_event WHERE seq > :a AND seq <= :b"
                    " ORDER BY seq DESC LIMIT 1",
                    {"a": after_seq, "b": low},
                ).first()
                if before is not None:
                    start_seq, start_hash = int(before[0]), str(before[1])
            with contextlib.closing(_prefetched(_batches(conn, low, batch, high))) as chunks:
                return _walk(chunks, start_seq, start_hash, checkpoint)
    finally:
        engine.dispose()


def _batches(
    conn: Connection, after_seq: int, batch: int, through: int | None
) -> Iterator[list[tuple[Any, ...]]]:
    """(seq, hashed text, prev_hash, row_hash) in seq order, in batches, by the raw cursor."""
    upto = f" AND seq <= {int(through)}" if through is not None else ""
    sql = (
        f"SELECT seq, {canonical_sql(conn.dialect.name)}, prev_hash, row_hash"  # noqa: S608 - column names from the model; values are bound
        " FROM audit_event WHERE seq > {}" + upto + " ORDER BY seq LIMIT {}"
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        start = after_seq
        while True:
            cursor.execute(sql.format(int(start), int(batch)))
            chunk: list[tuple[Any, ...]] = cursor.fetchall()
            if not chunk:
                return
            yield chunk
            start = int(chunk[-1][0])
            if len(chunk) < batch:
                return
    finally:
        cursor.close()


_END = object()


def _prefetched(
    chunks: Iterator[list[tuple[Any, ...]]],
) -> Generator[list[tuple[Any, ...]], None, None]:
    """The next batch is read (the driver waits without the GIL) while this one is hashed."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                ready.put(chunk)
            ready.put(_END)
        except BaseException as exc:  # handed to the walking thread
            ready.put(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="audit-verify-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # let a blocked put finish, then the reader ends
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        reader.join()


def chain_head(conn: Connection) -> tuple[int, str]:
    """The last link (seq, hash): a checkpoint to keep outside the database."""
    head = conn.exec_driver_sql("SELECT seq, row_hash FROM audit_chain_head WHERE id = 1").first()
    if head is None:
        return 0, GENESIS
    return int(head[0]), str(head[1]) or GENESIS


def parse_checkpoint(value: str) -> tuple[int, str]:
    """`SEQ:HASH` as printed by `tasking audit checkpoint`."""
    seq, _, digest = value.strip().partition(":")
    digest = digest.lower()
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("a checkpoint is SEQ:HASH, e.g. 1234:9f86d08...(64 hex digits)")
    return int(seq), digest


def record_verification(
    session: Session, verdict: Verdict, *, origin: str, at: datetime | None = None
) -> None:
    """Keep the result of a walk (the nightly run's, or a recorded CLI run)."""
    session.add(
        AuditVerification(
            at=at or utcnow(),
            origin=origin[:16],
            from_seq=verdict.from_seq,
            through_seq=verdict.through_seq,
            through_hash=verdict.through_hash,
            rows=verdict.rows,
            ok=verdict.ok,
            problem=verdict.problem,
        )
    )


def last_good_verification(conn: Connection) -> tuple[int, str]:
    """Where the last successful walk ended (seq, hash), or the start of the chain."""
    row = conn.exec_driver_sql(
        "SELECT through_seq, through_hash FROM audit_verification WHERE ok"
        " AND through_seq > 0 ORDER BY through_seq DESC LIMIT 1"
    ).first()
    if row is None:
        return 0, GENESIS
    return int(row[0]), str(row[1])


def verify_since_last(engine: Engine, *, origin: str = "nightly") -> Verdict:
    """Verify the rows added since the last good walk, and record the result."""
    with writer(engine).connect() as conn, conn.begin():
        return check_and_record(conn, origin=origin)


def check_and_record(conn: Connection, *, origin: str = "nightly") -> Verdict:
    """In the caller's transaction: walk the rows after the last good walk, keep the result.

    A failed walk is kept too; the next one starts again from the last good walk,
    so a problem is reported every night until it is dealt with.
    """

    after_seq, after_hash = last_good_verification(conn)
    verdict = verify(conn, after_seq=after_seq, after_hash=after_hash)
    conn.execute(
        insert(AuditVerification).values(
            at=utcnow(),
            origin=origin[:16],
            from_seq=verdict.from_seq,
            through_seq=verdict.through_seq,
            through_hash=verdict.through_hash,
            rows=verdict.rows,
            ok=verdict.ok,
            problem=verdict.problem,
        )
    )
    return verdict


def summary_of(verdict: Verdict) -> dict[str, Any]:
    """A walk's result for a run summary."""
    return {
        "ok": verdict.ok,
        "from_seq": verdict.from_seq,
        "through_seq": verdict.through_seq,
        "rows": verdict.rows,
        "problem": verdict.problem,
    }


# --- the auditor's questions (U3) -------------------------------------------------------

MAX_ROWS = 10_000
CONSULTED = ("consultation", "disclosure")


@dataclass(frozen=True)
class TrailRow:
    """One audit row as an auditor reads it (names and references resolved)."""

    seq: int
    at: datetime
    who: str
    role: str
    category: str
    action: str
    record: str  # e.g. "case OP-001", "user 12"
    marking: str
    reason_code: str
    reason: str
    origin: str
    address: str
    user_agent: str
    credential: str
    detail: str


@dataclass(frozen=True)
class Trail:
    """The answer to one auditor question."""

    title: str
    rows: list[TrailRow]
    truncated: bool
    markings: list[str]


def require_auditor(actor: User) -> None:
    """Only the auditor (data protection officer) reads the log."""
    if actor.role != Role.AUDITOR:
        raise Forbidden("only an auditor reads the audit log")


def _trail(session: Session, title: str, *conditions: Any) -> Trail:
    query = (
        select(AuditEvent, User, Case)
        .join(User, col(User.id) == col(AuditEvent.actor_id), isouter=True)
        .join(
            Case,
            (col(Case.id) == col(AuditEvent.entity_id)) & (col(AuditEvent.entity_type) == "case"),
            isouter=True,
        )
        .where(*conditions)
        .order_by(col(AuditEvent.seq))
        .limit(MAX_ROWS + 1)
    )
    found = session.exec(query).all()
    rows = [
        TrailRow(
            seq=event.seq,
            at=event.at,
            who=f"{user.display_name} ({user.username})" if user else "(system)",
            role=user.role if user else "",
            category=event.category,
            action=event.action,
            record=(
                f"case {case.reference}"
                if case is not None
                else f"{event.entity_type} {event.entity_id if event.entity_id is not None else ''}"
            ).strip(),
            marking=case.marking if case is not None else "",
            reason_code=event.reason_code,
            reason=event.reason,
            origin=event.origin,
            address=event.address,
            user_agent=event.user_agent,
            credential=event.credential,
            detail=event.detail,
        )
        for event, user, case in found[:MAX_ROWS]
    ]
    markings = sorted({row.marking for row in rows if row.marking})
    return Trail(title, rows, len(found) > MAX_ROWS, markings)


def case_trail(*, session: Session, actor: User, reference: str) -> Trail:
    """Who consulted (or disclosed, changed, created) a case, when, from where and why."""
    require_auditor(actor)
    case_id = session.exec(select(Case.id).where(Case.reference == reference.strip()[:32])).first()
    if case_id is None:
        raise NotFound(f"no case {reference.strip()[:32]}")
    # Rows about the case itself, and rows that name it among others: boards, searches,
    # exports and API lists that showed it, links made from another case (their detail
    # lists references as JSON strings, so the quotes make the match exact).
    named = f'%"{_like_escape(reference.strip()[:32])}"%'
    return _trail(
        session,
        f"Everyone who acted on {reference.strip()}",
        col(AuditEvent.entity_type) == "case",
        (col(AuditEvent.entity_id) == case_id) | (col(AuditEvent.detail).like(named, escape="\\")),
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def user_trail(
    *, session: Session, actor: User, username: str, start: datetime, end: datetime
) -> Trail:
    """What one user saw (consultations and disclosures) between two moments."""
    require_auditor(actor)
    user_id = session.exec(select(User.id).where(User.username == username.strip())).first()
    if user_id is None:
        raise NotFound(f"no user {username.strip()[:64]}")
    return _trail(
        session,
        f"What {username.strip()} saw, {_days(start, end)}",
        col(AuditEvent.actor_id) == user_id,
        col(AuditEvent.category).in_(CONSULTED),
        col(AuditEvent.at) >= start,
        col(AuditEvent.at) < end,
    )


def disclosure_trail(*, session: Session, actor: User, start: datetime, end: datetime) -> Trail:
    """Every disclosure (export, API list) between two moments."""
    require_auditor(actor)
    return _trail(
        session,
        f"Every disclosure, {_days(start, end)}",
        col(AuditEvent.category) == "disclosure",
        col(AuditEvent.at) >= start,
        col(AuditEvent.at) < end,
    )


def _days(start: datetime, end: datetime) -> str:
    """A period as its first and last days (the end is exclusive)."""
    last = end.astimezone(UTC) - timedelta(microseconds=1)
    return f"{start.astimezone(UTC):%d %b %Y} to {last:%d %b %Y} (UTC)"


@dataclass(frozen=True)
class ChainState:
    """The chain's head and its last walks, for the auditor's landing page."""

    head_seq: int
    head_hash: str
    last: Any  # AuditVerification | None
    last_good: Any  # AuditVerification | None


def chain_state(*, session: Session, actor: User) -> ChainState:
    """Where the chain ends and what the last walks found."""
    require_auditor(actor)
    seq, digest = chain_head(session.connection())
    newest = select(AuditVerification).order_by(col(AuditVerification.id).desc()).limit(1)
    last = session.exec(newest).first()
    good = session.exec(newest.where(col(AuditVerification.ok))).first()
    return ChainState(seq, digest, last, good)
