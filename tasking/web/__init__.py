"""The web application: `create_app()` builds it; one blueprint per audience.

Views are thin: they read the form or query, call one service in
`tasking/services/`, and render. Rules, transactions and access checks live
in the services; this package adds sign-in, CSRF, deny-by-default routing,
security headers and the mapping of errors to pages. How to write a page:
docs/web.md.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from werkzeug.wrappers import Response as BaseResponse

from config.settings import Settings, SettingsError, load_settings
from tasking.broker import broker_url
from tasking.db import engine_from_settings
from tasking.models import User
from tasking.web import filters
from tasking.web.api.auth import token_user
from tasking.web.db import db, finish
from tasking.web.errors import register_error_pages
from tasking.web.security import guard, security_headers
from tasking.web.sessions import CurrentUser, SessionStore, session_store

MAX_BODY_BYTES = 1024 * 1024
PACKAGE = Path(__file__).resolve().parent.parent


class StartupError(RuntimeError):
    """The web process cannot start: one line naming the setting and the reason."""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    """Build the application from settings (the environment's when none are given)."""
    settings = settings or _settings()
    app = Flask(
        __name__,
        template_folder=str(PACKAGE / "templates"),
        static_folder=str(PACKAGE / "static"),
    )
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_NAME="tasking_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the server-side session
        WTF_CSRF_SSL_STRICT=settings.secure_cookies,
        RATELIMIT_HEADERS_ENABLED=True,
        TASKING_API_RATE_LIMIT=settings.api_rate_limit,
        TASKING_SETTINGS=settings,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["tasking_engine"] = engine or _engine(settings)
    url = _broker(settings)
    app.config["TASKING_BROKER_URL"] = url
    app.extensions["tasking_sessions"] = SessionStore(
        url, idle_s=settings.session_idle_minutes * 60, max_s=settings.session_max_hours * 3600
    )
    CSRFProtect(app)
    _login_manager(app)
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=url,
        storage_options={"socket_timeout": 2, "socket_connect_timeout": 2},
        strategy="fixed-window",
        swallow_errors=True,  # a broker outage must not lock everyone out of signing in
        key_prefix="tasking-limits",
    )
    filters.register(app)
    register_error_pages(app)
    _blueprints(app)
    with app.app_context():
        from tasking.web.auth import limit_sign_ins

        limit_sign_ins(
            limiter, per_user=settings.login_limit_user, per_address=settings.login_limit_address
        )
    app.before_request(guard)

    @app.after_request
    def _commit(response: BaseResponse) -> BaseResponse:
        finish(success=response.status_code < 400)
        return security_headers(response)

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        finish(success=False)  # anything not committed above is rolled back

    return app


def _blueprints(app: Flask) -> None:
    """One blueprint per audience."""
    from tasking.web import (
        account,
        admin,
        api,
        audit,
        auth,
        board,
        cases,
        health,
        requests,
        reviews,
    )

    for module in (auth, health, board, cases, requests, account, admin, reviews, audit, api):
        app.register_blueprint(module.bp)


def _login_manager(app: Flask) -> None:
    manager = LoginManager(app)
    manager.session_protection = None  # the server-side session does this job
    manager.login_view = "auth.login"
    manager.login_message = None

    @manager.user_loader  # type: ignore[untyped-decorator]
    def load(sid: str) -> CurrentUser | None:
        if request.path.startswith("/api/"):
            return None  # API calls authenticate by bearer token only (the request loader)
        record = session_store().get(sid)
        if record is None:
            return None
        user = db().get(User, record.user_id)
        if user is None or not user.is_active or user.session_epoch != record.epoch:
            session_store().end(sid)
            return None
        g.actor = user
        return CurrentUser(user, record)

    manager.request_loader(token_user)


def _secret_key(settings: Settings) -> str:
    """TASKING_SECRET_KEY, else a random key kept (owner-only) in the instance folder."""
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            raise StartupError("TASKING_SECRET_KEY: must be at least 32 characters")
        return settings.secret_key
    path = settings.instance_path / "secret_key"
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        pass
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another web process wrote it a moment ago
        return path.read_text("utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise StartupError(str(exc)) from None


def _engine(settings: Settings) -> Engine:
    try:
        return engine_from_settings(settings)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        raise StartupError(f"DATABASE_URL: cannot be used ({exc})") from None


def _broker(settings: Settings) -> str:
    try:
        return broker_url(settings)
    except (RuntimeError, OSError) as exc:
        raise StartupError(f"REDIS_URL: the broker cannot be reached ({exc})") from None


__all__ = ["StartupError", "create_app", "db"]
