"""The organisation: units, users, assets and Control Strategy themes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from tasking.models.base import utcnow


class Unit(SQLModel, table=True):
    """A Basic Command Unit, a specialist crime hub or a central unit."""

    __tablename__ = "unit"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=16)  # UnitKind


class User(SQLModel, table=True):
    """A person who signs in; BCU requesters belong to exactly one BCU."""

    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=120)
    role: str = Field(max_length=32)  # Role
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    # The highest marking this user may see (Marking), set by an administrator.
    clearance: str = Field(default="OFFICIAL-SENSITIVE", max_length=32)
    # Asset owners: the asset they own (they see the cases asking for its type or tasking it).
    # Checked by the services, with no foreign key: SQLite then adds and drops the column
    # in place on a table every other table refers to (no table rebuild under data).
    asset_id: int | None = Field(default=None)
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    # Raised on logout-everywhere, disable or password change: old sessions die.
    session_epoch: int = Field(default=0)
    # A one-time password from an administrator: the user must choose their own before
    # anything else (tasking/web/account/password.py).
    password_expired: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)


class Asset(SQLModel, table=True):
    """A specialist asset (team or capability) with a weekly capacity in hours."""

    __tablename__ = "asset"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=120)
    asset_type: str = Field(max_length=32, index=True)
    hub_id: int = Field(foreign_key="unit.id")
    weekly_capacity_hours: int = Field(ge=0, le=10_000)


class Theme(SQLModel, table=True):
    """A Control Strategy theme (national threat or local priority)."""

    __tablename__ = "theme"
    __table_args__ = (UniqueConstraint("code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=120)
    is_local: bool = Field(default=False)


# The asset types the centre tasks, with a display name; kept as codes in rows.
ASSET_TYPES: dict[str, str] = {
    "surveillance": "Surveillance",
    "technical": "Technical support",
    "firearms": "Firearms",
    "financial": "Financial investigation",
    "covert": "Covert operations",
    "dogs": "Dogs",
    "drones": "Drones",
    "test_purchase": "Test purchase",
}
