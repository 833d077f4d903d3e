"""API authentication: the bearer token alone (a session cookie never authenticates an API call).

`token_user` is Flask-Login's request loader: for a request under /api/ it
turns `Authorization: Bearer TOKEN` into the token's owner; the app's `guard`
then applies the view's roles as for any user, and the services check the
owner's role and BCU. A missing, unknown, expired or revoked token, or a
disabled owner, is the same 401.
"""

from __future__ import annotations

import logging

from flask import Request, g
from flask_login import UserMixin
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from tasking.db import session_scope
from tasking.models import ApiToken, User, pk, utcnow
from tasking.services.sweep import quick_writer
from tasking.services.tokens import authenticate, needs_touch, touch_token
from tasking.web.db import app_engine

log = logging.getLogger(__name__)
TOUCH_WAIT_MS = 200


class TokenUser(UserMixin):  # type: ignore[misc]
    """The caller of an API request: the token's owner, for this request only."""

    def __init__(self, row: User, token: ApiToken) -> None:
        self.row = row
        self.token = token

    def get_id(self) -> str:
        """An id that can never be mistaken for a sign-in session."""
        return f"token:{pk(self.token)}"

    @property
    def role(self) -> str:
        """The owner's role now (a token carries no role of its own)."""
        return self.row.role


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, if there is one."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_user(request: Request) -> TokenUser | None:
    """Flask-Login request loader: the owner of a live bearer token on an /api/ request."""
    if not request.path.startswith("/api/"):
        return None
    secret = bearer_token(request)
    if secret is None:
        return None
    now = utcnow()
    # Its own short read, before the request's transaction starts: a write call's
    # transaction (BEGIN IMMEDIATE on SQLite) must not be open while the use is noted.
    with session_scope(app_engine(), write=False) as session:
        found = authenticate(session=session, secret=secret, now=now)
    if found is None:
        return None
    token, user = found
    if needs_touch(token, now):
        _touch(pk(token))
    g.actor = user
    g.audit_credential = f"token:{pk(token)}"  # the audit log's "from where"
    return TokenUser(user, token)


def _touch(token_id: int) -> None:
    """Note the token's last use in its own short transaction; never fails or stalls the call.

    It waits at most TOUCH_WAIT_MS for the write lock (a rescore may hold it): a
    missed note is taken again on the next call.
    """
    try:
        with quick_writer(app_engine(), wait_ms=TOUCH_WAIT_MS) as conn, Session(bind=conn) as s:
            touch_token(session=s, token_id=token_id)
    except SQLAlchemyError as exc:  # a busy database must not refuse the call itself
        log.warning("could not record the use of API token %s: %s", token_id, exc)
