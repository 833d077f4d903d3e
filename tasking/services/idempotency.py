"""Idempotent API submissions: a retried call with the same key gets the first answer.

The key is claimed by inserting a (user, key) row in the submission's own
transaction, guarded by a unique constraint: of two concurrent identical
calls, one inserts and submits; the other's insert fails on the constraint
(on PostgreSQL it first waits for the winner to commit) and it returns the
winner's stored answer. There is no check-then-insert window. A call that
fails rolls its claim back with everything else, so only successes are kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tasking.models import IdempotencyKey, utcnow
from tasking.services.errors import Conflict, Invalid

KEEP = timedelta(hours=24)
HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Replay:
    """The first answer to a submission made before with the same key and body."""

    status: int
    body: str


def body_hash(body: Any) -> str:
    """SHA-256 of a JSON body in canonical form (key order and spacing do not matter)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def claim_key(
    *, session: Session, user_id: int, key: str, request_hash: str, now: datetime | None = None
) -> IdempotencyKey | Replay:
    """Claim a key for a new submission (the row), or the first answer if it was used."""
    now = now or utcnow()
    # This user's keys older than a day are forgotten, so they may be used again.
    session.execute(
        delete(IdempotencyKey).where(
            col(IdempotencyKey.user_id) == user_id, col(IdempotencyKey.created_at) < now - KEEP
        )
    )
    claim = IdempotencyKey(user_id=user_id, key=key, request_hash=request_hash, created_at=now)
    try:
        with session.begin_nested():
            session.add(claim)
            session.flush()
    except IntegrityError:
        first = session.exec(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        ).one()
        if first.request_hash != request_hash:
            raise Invalid(
                f"{HEADER}: already used with a different body; use a new key for a new request",
                fields={HEADER: "already used with a different body"},
            ) from None
        if not first.response:  # committed rows always carry their answer
            raise Conflict(
                "a submission with this key is still in progress", fields={HEADER: "in progress"}
            ) from None
        return Replay(status=first.status, body=first.response)
    return claim


def record_answer(
    *, session: Session, claim: IdempotencyKey, case_id: int | None, status: int, body: str
) -> None:
    """Keep the answer of a claimed submission, in the same transaction as the submission."""
    claim.case_id = case_id
    claim.status = status
    claim.response = body
    session.add(claim)
    session.flush()


def purge_expired(*, session: Session, now: datetime | None = None) -> int:
    """Forget every user's keys older than a day (a nightly job's work); returns how many."""
    cutoff = (now or utcnow()) - KEEP
    result = session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


__all__ = ["HEADER", "KEEP", "Replay", "body_hash", "claim_key", "purge_expired", "record_answer"]
