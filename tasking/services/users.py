"""Users and passwords (argon2), and the unit look-ups that go with them."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import ConfigDict, Field
from sqlmodel import Session, col, select

from tasking.models import Asset, Marking, Role, Unit, UnitKind, User
from tasking.services.access import require
from tasking.services.audit import record_event
from tasking.services.errors import Conflict, Invalid, NotFound
from tasking.services.schemas import StrictIn, validate

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
REASON_MAX = 200  # characters of an administrator's reason
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
M = TypeVar("M", bound=StrictIn)
# Each field's problem in an administrator's words.
_PLAIN = {
    "username": "use 1-64 letters, digits, '.' or '_'",
    "display_name": "give their full name (up to 120 characters)",
    "role": "choose a role",
    "clearance": "choose a handling marking",
    "unit_code": "choose a unit",
    "asset_code": "choose an asset",
}
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
    elif len(reason.strip()) > REASON_MAX:
        problems["reason"] = f"at most {REASON_MAX} characters"
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


# One-time passwords: five words of a fixed fictional list would be guessable; these are
# random url-safe characters in groups, so they read aloud and type easily.
ONE_TIME_GROUPS = 4


def one_time_password() -> str:
    """A fresh random password to hand over once (about 120 bits)."""
    return "-".join(secrets.token_urlsafe(8)[:8] for _ in range(ONE_TIME_GROUPS))


class UserIn(StrictIn):
    """A new user as an administrator enters them (the password is generated)."""

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._]+$")
    display_name: str = Field(min_length=1, max_length=120)
    role: Role
    unit_code: str | None = Field(default=None, max_length=16)
    clearance: Marking = Marking.OFFICIAL_SENSITIVE
    asset_code: str | None = Field(default=None, max_length=32)


class UserChangeIn(StrictIn):
    """A change of a user's name, role, unit or owned asset."""

    display_name: str = Field(min_length=1, max_length=120)
    role: Role
    unit_code: str | None = Field(default=None, max_length=16)
    asset_code: str | None = Field(default=None, max_length=32)


def _by_code(session: Session, model: Any, code: Any) -> Any:
    if not code or not isinstance(code, str):
        return None
    return session.exec(select(model).where(model.code == code)).first()


def _scope_problems(session: Session, role: Any, unit_code: Any, asset_code: Any) -> dict[str, str]:
    """What is wrong with a user's unit and asset for their role (field name -> reason)."""
    problems: dict[str, str] = {}
    unit = _by_code(session, Unit, unit_code)
    if unit_code and unit is None:
        problems["unit_code"] = "no such unit"
    if role == Role.BCU_REQUESTER and (unit is None or unit.kind != UnitKind.BCU):
        problems.setdefault("unit_code", "a BCU requester must belong to a BCU")
    if asset_code and _by_code(session, Asset, asset_code) is None:
        problems["asset_code"] = "no such asset"
    return problems


def _validated(session: Session, model: type[M], data: Any) -> M:
    """Validated input; on a problem, the unit and asset problems are named too, all at once."""
    try:
        return validate(model, data)
    except Invalid as exc:
        raw = data if isinstance(data, dict) else {}
        problems = {
            **_scope_problems(
                session, raw.get("role"), raw.get("unit_code"), raw.get("asset_code")
            ),
            **{k: v if v == "unknown field" else _PLAIN.get(k, v) for k, v in exc.fields.items()},
        }
        summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise Invalid(f"invalid user: {summary}", fields=problems) from None


def list_users(*, session: Session, actor: User) -> list[User]:
    """Every user, by username (administrators)."""
    require(actor, "user.manage")
    return list(session.exec(select(User).order_by(col(User.username))).all())


def get_user(*, session: Session, actor: User, user_id: int) -> User:
    """One user (administrators); NotFound otherwise."""
    require(actor, "user.manage")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def add_user(*, session: Session, actor: User, data: Any) -> tuple[User, str]:
    """An administrator adds a user; returns the user and their one-time password.

    Only the password's argon2 hash is stored: the caller shows it once and never again.
    """
    require(actor, "user.manage")
    user_in = _validated(session, UserIn, data)
    password = one_time_password()
    user = create_user(
        session=session, actor=actor, username=user_in.username,
        display_name=user_in.display_name, role=user_in.role.value, password=password,
        unit_code=user_in.unit_code or None, clearance=user_in.clearance.value,
        asset_code=user_in.asset_code or None,
    )  # fmt: skip
    user.password_expired = True  # one-time: they choose their own at first sign-in
    session.add(user)
    session.flush()
    return user, password


def change_user(*, session: Session, actor: User, user_id: int, data: Any) -> User:
    """Change a user's name, role, unit or owned asset (audited); their sessions end."""
    require(actor, "user.manage")
    change = _validated(session, UserChangeIn, data)
    user = get_user(session=session, actor=actor, user_id=user_id)
    problems = _scope_problems(session, change.role.value, change.unit_code, change.asset_code)
    unit = _by_code(session, Unit, change.unit_code)
    asset = _by_code(session, Asset, change.asset_code)
    if user.id == actor.id and change.role != Role.ADMIN:
        problems["role"] = "you cannot take away your own administrator role"
    if problems:
        summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise Invalid(f"invalid user: {summary}", fields=problems)
    before = {
        "display_name": user.display_name,
        "role": user.role,
        "unit_id": user.unit_id,
        "asset_id": user.asset_id,
    }
    user.display_name = change.display_name
    user.role = change.role.value
    user.unit_id = unit.id if unit else None
    user.asset_id = asset.id if asset else None
    after = {
        "display_name": user.display_name,
        "role": user.role,
        "unit_id": user.unit_id,
        "asset_id": user.asset_id,
    }
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if any(k != "display_name" for k in changed):
        user.session_epoch += 1  # a new role or scope applies from the next sign-in
    session.add(user)
    record_event(
        session=session, actor=actor, category="alteration", action="user.update",
        entity_type="user", entity_id=user.id, detail=changed,
    )  # fmt: skip
    session.flush()
    return user


def set_active(*, session: Session, actor: User, user_id: int, active: bool, reason: str) -> User:
    """Disable (every session ends, tokens stop working) or enable a user, with a reason."""
    require(actor, "user.manage")
    if not 3 <= len(reason.strip()) <= REASON_MAX:
        raise Invalid(
            "reason: 3 to 200 characters",
            fields={"reason": f"say why (3 to {REASON_MAX} characters)"},
        )
    user = get_user(session=session, actor=actor, user_id=user_id)
    if user.id == actor.id and not active:
        raise Conflict("you cannot disable yourself", fields={"user": "that is you"})
    if user.is_active != active:
        user.is_active = active
        user.session_epoch += 1
        session.add(user)
        record_event(
            session=session, actor=actor, category="alteration",
            action="user.enable" if active else "user.disable", entity_type="user",
            entity_id=user.id, reason=reason.strip(),
        )  # fmt: skip
        session.flush()
    return user


def reset_password(*, session: Session, actor: User, user_id: int) -> tuple[User, str]:
    """A new one-time password for a user (shown once); every session they had ends."""
    require(actor, "user.manage")
    user = get_user(session=session, actor=actor, user_id=user_id)
    password = one_time_password()
    user.password_hash = hash_password(password)
    user.password_expired = True
    user.session_epoch += 1
    session.add(user)
    record_event(
        session=session, actor=actor, category="alteration", action="user.password_reset",
        entity_type="user", entity_id=user.id,
    )  # fmt: skip
    session.flush()
    return user, password


class PasswordChangeIn(StrictIn):
    """A user's own new password, with the one they have now."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)  # spaces count
    current_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    confirm_password: str = Field(max_length=MAX_PASSWORD_LENGTH)


def change_own_password(*, session: Session, actor: User, data: Any) -> User:
    """A signed-in user replaces their password (a one-time one included).

    Every session they had ends (the caller opens a new one for this browser); their API
    tokens stay, as they are credentials of their own.
    """
    values = validate(PasswordChangeIn, data)
    problems: dict[str, str] = {}
    if not verify_password(actor, values.current_password):
        problems["current_password"] = "The current password is not right"  # noqa: S105
    problem = password_problem(values.new_password, username=actor.username)
    if problem:
        problems["new_password"] = f"The new password {problem}"
    elif values.new_password == values.current_password:
        problems["new_password"] = "The new password must differ from the current one"  # noqa: S105
    if not problems.get("new_password") and values.confirm_password != values.new_password:
        problems["confirm_password"] = "The passwords do not match"  # noqa: S105
    if problems:
        raise Invalid("; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems)
    actor.password_hash = hash_password(values.new_password)
    actor.password_expired = False
    actor.session_epoch += 1
    session.add(actor)
    record_event(
        session=session, actor=actor, category="alteration", action="user.password_change",
        entity_type="user", entity_id=actor.id,
    )  # fmt: skip
    session.flush()
    return actor


def revoke_access(*, session: Session, actor: User, user_id: int, tokens: bool) -> int:
    """End every signed-in session of a user and, with `tokens`, revoke their API tokens.

    Returns how many tokens were revoked. The web checks `session_epoch` on every request,
    so a browser signed in before this is signed out at its next request.
    """
    from tasking.models import ApiToken
    from tasking.services.tokens import revoke_token

    require(actor, "user.manage")
    user = get_user(session=session, actor=actor, user_id=user_id)
    user.session_epoch += 1
    session.add(user)
    record_event(
        session=session, actor=actor, category="alteration", action="user.revoke_sessions",
        entity_type="user", entity_id=user.id, detail={"tokens": tokens},
    )  # fmt: skip
    revoked = 0
    if tokens:
        live = session.exec(
            select(ApiToken).where(ApiToken.user_id == user.id, col(ApiToken.revoked_at).is_(None))
        ).all()
        for token in live:
            revoke_token(session=session, actor=actor, token_id=int(token.id or 0))
            revoked += 1
    session.flush()
    return revoked
