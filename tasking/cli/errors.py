"""One line, naming the setting and the reason, instead of a traceback.

The command line's group runs every command inside `one_line_errors`: a
setting that cannot work (config/settings.py names its variable), a bad or
unreachable DATABASE_URL or REDIS_URL, a value the database cannot hold, ends
the command with `Error: ...` on stderr and exit status 1.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import click
import kombu.exceptions
import psycopg
import redis
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from config.settings import SettingsError, load_settings
from tasking.broker import BrokerUnavailable, redact


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_label() -> str:
    """DATABASE_URL as it may be shown (no password), or the embedded default."""
    settings = load_settings()
    if not settings.database_url:
        return f"the embedded database {settings.sqlite_path}"
    try:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "(not a URL)"
    return f"DATABASE_URL {shown}"


def broker_label() -> str:
    """REDIS_URL as it may be shown, or the embedded default."""
    settings = load_settings()
    if not settings.redis_url:
        return f"the embedded Redis on port {settings.embedded_redis_port} (REDIS_URL unset)"
    return f"REDIS_URL {redact(settings.redis_url)}"


def explain(exc: BaseException) -> str | None:
    """A one-line reason for a known failure of configuration or reach; None if unknown."""
    if isinstance(exc, SettingsError):
        return str(exc)
    if isinstance(exc, ArgumentError):
        return (
            "DATABASE_URL is not a database URL: expected sqlite:///PATH or"
            " postgresql+psycopg://USER@HOST/NAME"
        )
    if isinstance(exc, NoSuchModuleError):
        return f"DATABASE_URL names a database this service does not support: {_first_line(exc)}"
    if isinstance(exc, (kombu.exceptions.OperationalError, redis.RedisError, BrokerUnavailable)):
        return f"the broker cannot be reached ({broker_label()}): {_first_line(exc)}"
    if isinstance(exc, DBAPIError) and isinstance(
        exc.orig, (psycopg.OperationalError, sqlite3.OperationalError)
    ):
        return f"the database cannot be used ({database_label()}): {_first_line(exc)}"
    if isinstance(exc, (psycopg.OperationalError, sqlite3.OperationalError)):
        return f"the database cannot be used ({database_label()}): {_first_line(exc)}"
    if isinstance(exc, DBAPIError):
        return f"the database refused the change: {_first_line(exc)}"
    return None


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn known failures of configuration or reach into one `Error:` line (exit 1)."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
        raise
    except Exception as exc:
        reason = explain(exc)
        if reason is None:
            raise
        raise click.ClickException(reason) from None
