"""The audit chain's head and the record of each verification of the chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from tasking.models.base import utcnow


class AuditChainHead(SQLModel, table=True):
    """The one row naming the last link of the audit chain.

    Every audit writer locks it (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
    writers are serialised already), so the chain has one order whoever writes.
    """

    __tablename__ = "audit_chain_head"

    id: int | None = Field(default=None, primary_key=True)  # always 1
    seq: int = Field(default=0)
    row_hash: str = Field(default="", max_length=64)


class AuditVerification(SQLModel, table=True):
    """One walk of the chain (nightly, or `tasking audit verify --record`) and its result."""

    __tablename__ = "audit_verification"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    origin: str = Field(default="nightly", max_length=16)
    from_seq: int = Field(default=0)  # the first row checked
    through_seq: int = Field(default=0)  # the last row found good
    through_hash: str = Field(default="", max_length=64)
    rows: int = Field(default=0)
    ok: bool = Field(default=True)
    problem: str = Field(default="", sa_type=Text)
