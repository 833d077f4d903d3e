"""Server-side sign-in sessions: revocable on sign-out, on idle time-out and when a user changes.

The browser's (signed) cookie carries only a random session id. The id's
record lives in Redis with the idle time-out as its expiry, so a cookie
captured before sign-out or time-out is worthless when replayed. The record
also holds the user's `session_epoch` at sign-in: disabling a user or
resetting a password raises the epoch, which ends every session they had.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis
from flask import current_app
from flask_login import UserMixin

from tasking.models import User

KEY_PREFIX = "tasking:web-session:"
# Refresh the idle expiry at most this often (seconds), not on every request.
TOUCH_EVERY_S = 30


class SessionStoreDown(RuntimeError):
    """The session store (Redis) cannot be reached."""


@dataclass(frozen=True)
class SessionRecord:
    """What the server knows about one signed-in browser."""

    sid: str
    user_id: int
    epoch: int
    created: float
    touched: float


class CurrentUser(UserMixin):  # type: ignore[misc]
    """The signed-in user for Flask-Login: the user row and the server-side session id."""

    def __init__(self, row: User, record: SessionRecord) -> None:
        self.row = row
        self.record = record

    def get_id(self) -> str:
        """Flask-Login stores the session id, never the user id, in the cookie."""
        return self.record.sid

    @property
    def role(self) -> str:
        """The user's role."""
        return self.row.role


class SessionStore:
    """Sign-in sessions kept in Redis with an idle expiry and an absolute lifetime."""

    def __init__(self, url: str, *, idle_s: int, max_s: int) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.idle_s = idle_s
        self.max_s = max_s

    def create(self, user: User) -> SessionRecord:
        """A new session for a user who has just signed in (a fresh id: no fixation)."""
        now = time.time()
        record = SessionRecord(
            sid=secrets.token_urlsafe(32),
            user_id=int(user.id or 0),
            epoch=user.session_epoch,
            created=now,
            touched=now,
        )
        self._write(record)
        return record

    def get(self, sid: str) -> SessionRecord | None:
        """The live session with this id, or None if it ended (signed out, idle, too old)."""
        if not sid or len(sid) > 100:
            return None
        try:
            raw: bytes | None = self.client.get(KEY_PREFIX + sid)  # type: ignore[assignment]
        except redis.RedisError as exc:
            raise SessionStoreDown(str(exc)) from exc
        if raw is None:
            return None
        try:
            data: dict[str, Any] = json.loads(raw)
            record = SessionRecord(sid=sid, **data)
        except (ValueError, TypeError):
            return None
        now = time.time()
        if now - record.created > self.max_s:
            self.end(sid)
            return None
        if now - record.touched > TOUCH_EVERY_S:
            record = SessionRecord(sid, record.user_id, record.epoch, record.created, now)
            self._write(record)
        return record

    def end(self, sid: str) -> None:
        """End one session (sign-out)."""
        try:
            self.client.delete(KEY_PREFIX + sid)
        except redis.RedisError as exc:
            raise SessionStoreDown(str(exc)) from exc

    def _write(self, record: SessionRecord) -> None:
        value = json.dumps(
            {
                "user_id": record.user_id,
                "epoch": record.epoch,
                "created": record.created,
                "touched": record.touched,
            }
        )
        try:
            self.client.set(KEY_PREFIX + record.sid, value, ex=self.idle_s)
        except redis.RedisError as exc:
            raise SessionStoreDown(str(exc)) from exc


def session_store() -> SessionStore:
    """The application's session store."""
    store: SessionStore = current_app.extensions["tasking_sessions"]
    return store
