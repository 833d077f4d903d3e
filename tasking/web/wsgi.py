"""The gunicorn entry point (`gunicorn tasking.web.wsgi:app`): the one module-level app.

A web process that cannot start (a bad DATABASE_URL or REDIS_URL, a database
or broker that does not answer) says why in one line naming the setting, on
stderr where gunicorn and honcho show it, and exits with status 3: gunicorn
reads that as "worker failed to boot" and stops, instead of starting workers
again and again.
"""

from __future__ import annotations

import sys

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from tasking.broker import broker_problem, redact
from tasking.web import StartupError, create_app


def check_reach(flask_app: Flask) -> None:
    """StartupError unless the database and the broker answer now."""
    settings = flask_app.config["TASKING_SETTINGS"]
    try:
        with flask_app.extensions["tasking_engine"].connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (SQLAlchemyError, OSError) as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        setting = "DATABASE_URL" if settings.database_url else "TASKING_INSTANCE"
        raise StartupError(f"{setting}: the database does not answer ({reason})") from None
    url = flask_app.config["TASKING_BROKER_URL"]
    if problem := broker_problem(url, settings.broker_timeout_s):
        raise StartupError(f"REDIS_URL: the broker {redact(url)} does not answer ({problem})")


try:
    app = create_app()
    check_reach(app)
except StartupError as exc:
    print(f"tasking web: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(3) from None
