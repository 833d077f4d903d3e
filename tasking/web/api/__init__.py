"""`/api/v1`: the JSON API, on the same services and access rules as the pages.

Authentication is the bearer token only (tasking.web.api.auth); CSRF does not
apply because no cookie is ever trusted here. Every answer that is not a
success is the one envelope `{"error", "message", "fields"}`. Calls are rate
limited per token. The OpenAPI document is generated from the models each
operation declares (tasking.web.api.spec) and served at /api/v1/openapi.json,
with a readable page at /api/v1/docs.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, has_request_context, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from tasking.models import Case
from tasking.services.errors import DomainError, NotFound
from tasking.web.api.spec import API_PREFIX, MAX_ID
from tasking.web.errors import error_response
from tasking.web.filters import highest_marking, mark_page

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)

# Calls per token (or per address before a token is known) in a window; a setting can lower it.
DEFAULT_RATE_LIMIT = "600 per minute"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def rate_limit() -> str:
    """The API rate limit in force (TASKING_API_RATE_LIMIT in the app config, else the default)."""
    return str(current_app.config.get("TASKING_API_RATE_LIMIT", DEFAULT_RATE_LIMIT))


def rate_key() -> str:
    """Who a call counts against: its token, else its address."""
    if current_user.is_authenticated and current_user.get_id().startswith("token:"):
        return str(current_user.get_id())
    return "addr:" + (request.remote_addr or "unknown")


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    csrf = app.extensions.get("csrf")
    if isinstance(csrf, CSRFProtect):
        csrf.exempt(bp)  # bearer tokens only: no cookie is trusted, so no CSRF to forge
    for limiter in app.extensions.get("limiter", set()):
        limiter.limit(rate_limit, key_func=rate_key)(bp)


@bp.url_value_preprocessor
def _ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An id no database column can hold is simply not found (never an overflow error)."""
    for name, value in (values or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            raise NotFound(f"no {name.removesuffix('_id')} {value}")


@bp.before_request
def _json_body() -> None:
    """A body must be one JSON object sent as application/json (a clear 400 otherwise)."""
    if request.method not in _BODY_METHODS:
        return
    if not request.is_json:
        raise DomainError(
            "send the body as JSON with the header Content-Type: application/json",
            fields={"body": "not JSON"},
        )
    try:
        body = request.get_json(silent=True)  # 413 first if the body is too large
    except RecursionError:
        body = None
    if body is None:
        raise DomainError("the body is not valid JSON", fields={"body": "not valid JSON"})
    if not isinstance(body, dict):
        raise DomainError("the body must be a JSON object", fields={"body": "not an object"})


@bp.after_request
def _marking_header(response: BaseResponse) -> BaseResponse:
    """Every answer names the highest handling marking of what it returns (U5)."""
    response.headers["X-Handling-Marking"] = highest_marking(g.get("page_marking"))
    return response


def _note_loaded_case(target: Case, *_args: Any) -> None:
    """A case loaded while answering an API call counts toward the answer's marking."""
    if has_request_context() and request.blueprint == bp.name:
        mark_page(target.marking)


for _event in ("load", "refresh"):
    if not event.contains(Case, _event, _note_loaded_case):
        event.listen(Case, _event, _note_loaded_case)


@bp.errorhandler(401)
def _unauthorised(_exc: HTTPException) -> ResponseReturnValue:
    response = error_response(
        401, "send a valid API token: Authorization: Bearer TOKEN (a session cookie is not enough)"
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="tasking"'
    return response


@bp.errorhandler(429)
def _too_many(_exc: HTTPException) -> ResponseReturnValue:
    return error_response(429, "too many calls with this token: wait, then try again")


@bp.errorhandler(403)
def _forbidden(_exc: HTTPException) -> ResponseReturnValue:
    return error_response(403, "your role does not give you access to this operation")


from tasking.web.api import (  # noqa: E402 - the views register themselves on bp
    boards,
    cases,
    docs,
    preview,
    requests,
    runs,
)

__all__ = ["boards", "bp", "cases", "docs", "preview", "requests", "runs"]
