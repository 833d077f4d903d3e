"""`GET /healthz`: is the database answering, is the broker answering. No record data."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tasking.broker import broker_problem
from tasking.web.db import app_engine

bp = Blueprint("health", __name__)
PROBE_TIMEOUT_S = 2


def database_ok() -> bool:
    """True when the database answers a trivial query."""
    try:
        with app_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False


def broker_ok() -> bool:
    """True when the Redis broker answers PING within a couple of seconds."""
    return broker_problem(current_app.config["TASKING_BROKER_URL"], PROBE_TIMEOUT_S) is None


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    """200 with every part "ok", or 503 naming the part that is down."""
    parts = {
        "database": "ok" if database_ok() else "down",
        "broker": "ok" if broker_ok() else "down",
    }
    healthy = all(value == "ok" for value in parts.values())
    return jsonify({"status": "ok" if healthy else "down", **parts}), 200 if healthy else 503
