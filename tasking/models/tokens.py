"""API tokens (stored as hashes only) and the idempotency keys of API submissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import SmallInteger, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from tasking.models.base import utcnow


class ApiToken(SQLModel, table=True):
    """A per-user bearer token for /api/v1; only its SHA-256 is kept, never the token."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=64)
    # SHA-256 (hex) of the whole token: a 256-bit random secret needs no slow hash.
    token_hash: str = Field(max_length=64, unique=True)
    # The first characters of the token, so a person can tell their tokens apart.
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class IdempotencyKey(SQLModel, table=True):
    """The first answer to a keyed API submission, kept 24 hours per user.

    The unique (user, key) pair is inserted in the same transaction as the
    submission, so two concurrent identical submissions make one request.
    """

    __tablename__ = "api_idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)  # SHA-256 of the canonical JSON body
    case_id: int | None = Field(default=None, foreign_key="case_record.id")
    status: int = Field(default=0, sa_type=SmallInteger)
    response: str = Field(default="", sa_type=Text)  # the first answer's JSON body
    created_at: datetime = Field(default_factory=utcnow, index=True)
