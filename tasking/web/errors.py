"""Errors become pages (or JSON under /api/) in one place; never a traceback, SQL or secret."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from tasking.services.errors import DomainError
from tasking.web.sessions import SessionStoreDown

log = logging.getLogger(__name__)

TITLES = {
    400: "Something in the request was not right",
    401: "Sign in to continue",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not available here",
    409: "The record changed or cannot change that way",
    413: "What you sent is too large",
    422: "Some of what you entered needs changing",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
    503: "The service is unavailable",
}
ERROR_CODES = {
    400: "bad_request", 401: "unauthorised", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid",
    429: "rate_limited", 500: "server_error", 503: "unavailable",
}  # fmt: skip


def error_response(status: int, message: str, *, fields: dict[str, str] | None = None) -> Response:
    """One error, as the JSON envelope under /api/ or as a page elsewhere."""
    if request.path.startswith("/api/"):
        code = ERROR_CODES.get(status, "error")
        body = jsonify({"error": code, "message": message, "fields": fields or {}})
        return make_response(body, status)
    title = TITLES.get(status, "Something went wrong")
    page = render_template(
        "errors/error.html", status=status, title=title, message=message, fields=fields or {}
    )
    return make_response(page, status)


def register_error_pages(app: Flask) -> None:
    """Map domain errors, HTTP errors, CSRF failures and crashes to answers, once."""

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> ResponseReturnValue:
        return error_response(exc.status, exc.message, fields=exc.fields)

    @app.errorhandler(CSRFError)
    def csrf_error(_exc: CSRFError) -> ResponseReturnValue:
        return error_response(
            400,
            "The form had expired or did not come from this service. Go back, reload the page"
            " and try again: nothing was saved.",
        )

    @app.errorhandler(SessionStoreDown)
    def session_store_down(_exc: SessionStoreDown) -> ResponseReturnValue:
        log.error("session store (Redis) unreachable: %s", _exc)
        return error_response(503, "Sign-in is unavailable for a moment. Try again shortly.")

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(OperationalError)
    def database_busy(exc: Exception) -> ResponseReturnValue:
        # Pool exhausted, database locked or unreachable: fail fast and say when to retry
        # (docs/reliability.md, D4); nothing was saved, as the request's transaction rolls back.
        log.warning("database busy or unreachable on %s %s: %s", request.method, request.path, exc)
        response = error_response(
            503, "The service is busy. Nothing was saved; try again in a few seconds."
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if status == 429:
            response = error_response(
                429, "Too many failed attempts. Wait a few minutes, then try again."
            )
            return response
        messages = {
            401: "Sign in to use this service.",
            403: "Your role does not give you access to this page. Ask your administrator if"
            " you think it should.",
            404: "If you typed the address, check it is correct. The record may also be one"
            " you cannot see.",
            405: "Use the buttons on the page rather than typing the address.",
            413: "Send less at once.",
        }
        return error_response(status, messages.get(status, exc.description or ""))

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return error_response(
            500,
            "Try again later. Nothing you sent was saved. If it keeps happening, tell the"
            " service desk the time it happened.",
        )
