"""Users and passwords (argon2), and the unit look-ups that go with them."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from tasking.models import Asset, Marking, Role, Unit, UnitKind, User
from tasking.services.access import require
from tasking.services.audit import record_event
from tasking.services.errors import Conflict, Invalid, NotFound

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
# Passwords seen first in every guessing list; refused whatever their length.
_WEAK = frozenset(
    {
        "password", "password1", "password123", "passw0rd", "qwerty", "qwertyuiop",
        "letmein", "welcome", "welcome1", "iloveyou", "admin", "administrator", "changeme",
        "123456789012", "111111111111", "abc123abc123", "trustno1", "monkey", "dragon",
        "football", "baseball", "sunshine", "princess", "superman", "starwars", "whatever",
    }
)  # fmt: skip
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password: only timing equal work")


def password_problem(password: str, *, username: str = "") -> str | None:
    """Why a password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters (a passphrase is best)"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    lowered = password.lower()
    if lowered in _WEAK or lowered.rstrip("0123456789!") in _WEAK:
        return "is a well-known password"
    if len(set(password)) < 4:
        return "uses too few different characters"
    if username and username.lower() in lowered:
        return "must not contain the username"
    return None


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """True when the password matches the user's hash."""
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_verify(password: str) -> None:
    """Spend what checking a password costs, for a sign-in whose username does not exist."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_DUMMY_HASH, password)


def create_user(
    *,
    session: Session,
    actor: User | None,
    username: str,
    display_name: str,
    role: str,
    password: str,
    unit_code: str | None = None,
    clearance: str = Marking.OFFICIAL_SENSITIVE.value,
    asset_code: str | None = None,
) -> User:
    """Add a user; BCU requesters must name their BCU. Raises Invalid or Conflict.

    `clearance` is the highest marking they may see; an asset owner sees the work of
    the asset named by `asset_code` (none without one).
    """
    problems: dict[str, str] = {}
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("_", "").isalnum()
    ):
        problems["username"] = "use 1-64 letters, digits, '.' or '_'"
    if role not in {r.value for r in Role}:
        problems["role"] = "unknown role"
    if not display_name.strip():
        problems["display_name"] = "required"
    problem = password_problem(password, username=username)
    if problem:
        problems["password"] = problem
    unit = None
    if unit_code:
        unit = session.exec(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            problems["unit"] = "no such unit"
    if role == Role.BCU_REQUESTER and (unit is None or unit.kind != UnitKind.BCU):
        problems.setdefault("unit", "a BCU requester must belong to a BCU")
    if clearance not in {m.value for m in Marking}:
        problems["clearance"] = "unknown marking"
    asset = None
    if asset_code:
        asset = session.exec(select(Asset).where(Asset.code == asset_code)).first()
        if asset is None:
            problems["asset"] = "no such asset"
    if problems:
        summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise Invalid(f"invalid user: {summary}", fields=problems)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"username {username!r} is taken", fields={"username": "taken"})
    user = User(
        username=username,
        display_name=display_name.strip(),
        role=role,
        unit_id=unit.id if unit else None,
        clearance=clearance,
        asset_id=asset.id if asset else None,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    record_event(
        session=session, actor=actor, category="collection", action="user.create",
        entity_type="user", entity_id=user.id, detail={"role": role},
    )  # fmt: skip
    return user


def set_clearance(
    *, session: Session, actor: User, user_id: int, clearance: str, reason: str
) -> User:
    """An administrator sets the highest marking a user may see, with a reason (audited)."""
    require(actor, "user.manage")
    problems: dict[str, str] = {}
    if clearance not in {m.value for m in Marking}:
        problems["clearance"] = "unknown marking"
    if len(reason.strip()) < 3:
        problems["reason"] = "required"
    if problems:
        summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise Invalid(f"invalid clearance: {summary}", fields=problems)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    before, user.clearance = user.clearance, clearance
    session.add(user)
    record_event(
        session=session, actor=actor, category="alteration", action="user.clearance",
        entity_type="user", entity_id=user.id, reason=reason.strip(),
        detail={"from": before, "to": clearance},
    )  # fmt: skip
    session.flush()
    return user
