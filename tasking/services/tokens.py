"""Per-user API tokens: created (shown once), listed, revoked, and checked on each API call.

A token is 256 random bits; only its SHA-256 is stored, which is enough for a
secret of that strength (a slow password hash protects guessable secrets, and
nobody guesses 2**256). A token acts as its owner: the owner's role and BCU at
the moment of the call, checked by the services like any signed-in user.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from tasking.models import ApiToken, Role, User, pk, utcnow
from tasking.services.audit import record_event
from tasking.services.errors import Forbidden, Invalid, NotFound

TOKEN_PREFIX = "tsk_"  # noqa: S105 - the mark of a token, not a secret
DEFAULT_DAYS = 90
MAX_DAYS = 366
MAX_NAME = 64
# A token's last use is written at most this often (a read call should not write each time).
TOUCH_EVERY = timedelta(minutes=1)
_MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True)
class NewToken:
    """A token just created: `secret` is the only copy of the token, shown once."""

    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    """The stored form of a token (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _may_manage(actor: User | None, owner_id: int) -> None:
    """Users manage their own tokens, administrators anyone's; None is the host's command line."""
    if actor is None:
        return
    if not actor.is_active or (actor.id != owner_id and actor.role != Role.ADMIN):
        raise Forbidden("you may manage only your own API tokens")


def create_token(
    *,
    session: Session,
    actor: User | None,
    owner_id: int,
    name: str,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> NewToken:
    """A new token for a user, valid for `days`; the clear token is returned once, never stored."""
    _may_manage(actor, owner_id)
    name = name.strip()
    problems: dict[str, str] = {}
    if not 1 <= len(name) <= MAX_NAME:
        problems["name"] = f"give the token a name of 1 to {MAX_NAME} characters"
    if not 1 <= days <= MAX_DAYS:
        problems["days"] = f"must be 1..{MAX_DAYS}"
    owner = session.get(User, owner_id)
    if owner is None:
        raise NotFound(f"no user {owner_id}")
    if not owner.is_active:
        problems["user"] = "the account is disabled"
    if problems:
        summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise Invalid(f"invalid input: {summary}", fields=problems)
    now = now or utcnow()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=pk(owner),
        name=name,
        token_hash=hash_token(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        created_at=now,
        created_by_id=actor.id if actor else None,
        expires_at=now + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    record_event(
        session=session, actor=actor, category="alteration", action="token.create",
        entity_type="user", entity_id=owner.id, detail={"token": token.id, "days": days},
    )  # fmt: skip
    return NewToken(token=token, secret=secret)


def list_tokens(*, session: Session, actor: User | None, owner_id: int) -> list[ApiToken]:
    """A user's tokens, newest first (revoked and expired ones too, marked as such)."""
    _may_manage(actor, owner_id)
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == owner_id)
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    )
    return list(session.exec(query).all())


def revoke_token(
    *, session: Session, actor: User | None, token_id: int, now: datetime | None = None
) -> ApiToken:
    """Revoke a token at once; someone else's token is 'not found' (administrators excepted)."""
    token = session.get(ApiToken, token_id)
    if token is None or (
        actor is not None and actor.id != token.user_id and actor.role != Role.ADMIN
    ):
        raise NotFound(f"no API token {token_id}")
    _may_manage(actor, token.user_id)
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.add(token)
        record_event(
            session=session, actor=actor, category="alteration", action="token.revoke",
            entity_type="user", entity_id=token.user_id, detail={"token": token.id},
        )  # fmt: skip
        session.flush()
    return token


def is_live(token: ApiToken, now: datetime) -> bool:
    """Neither revoked nor expired."""
    return token.revoked_at is None and token.expires_at > now


def authenticate(
    *, session: Session, secret: str, now: datetime | None = None
) -> tuple[ApiToken, User] | None:
    """The live token and its active owner for a presented token, or None (never says why)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > _MAX_TOKEN_LENGTH:
        return None
    row = session.exec(
        select(ApiToken, User)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .where(ApiToken.token_hash == hash_token(secret))
    ).first()
    if row is None:
        return None
    token, user = row
    if not is_live(token, now or utcnow()) or not user.is_active:
        return None
    return token, user


def needs_touch(token: ApiToken, now: datetime) -> bool:
    """True when the token's last use is unset or older than TOUCH_EVERY."""
    return token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY


def touch_token(*, session: Session, token_id: int, now: datetime | None = None) -> None:
    """Record that a token was used now (its own small transaction, at most once a minute)."""
    session.connection().execute(
        update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now or utcnow())
    )


__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "TOKEN_PREFIX",
    "NewToken",
    "authenticate",
    "create_token",
    "hash_token",
    "is_live",
    "list_tokens",
    "needs_touch",
    "revoke_token",
    "touch_token",
]
