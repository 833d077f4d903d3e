"""Deny by default: every route names the roles it serves, or is listed as public.

`roles(...)` marks a view with the roles it serves; `guard` runs before every
request and refuses anything not marked (a route added without a decision
about who may use it is closed, and a test walks the URL map to catch it).
Security headers go on every response, error pages and static files included.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from tasking.models import Role, User

# Endpoints anyone may call, signed in or not.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "health.healthz", "static", "api.openapi", "api.docs"})
ROLES_ATTR = "tasking_roles"
# Every signed-in role: for pages that are about the user themself (home, sign-out).
ANY_ROLE = frozenset(Role)
# Who works the ranked boards and case pages (docs/domain.md).
BOARD_ROLES = frozenset({Role.COORDINATOR, Role.ANALYST, Role.CHAIR, Role.ASSET_OWNER})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)

F = TypeVar("F", bound=Callable[..., Any])


def roles(*allowed: Role | frozenset[Role]) -> Callable[[F], F]:
    """Mark a view with the roles that may use it (checked by `guard` before the view runs)."""
    names: set[str] = set()
    for item in allowed:
        names.update(r.value for r in (item if isinstance(item, frozenset) else {item}))

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs)

        setattr(wrapped, ROLES_ATTR, frozenset(names))
        return cast(F, wrapped)

    return decorate


def view_roles(endpoint: str | None) -> frozenset[str] | None:
    """The roles a view serves, or None when it is not marked (and so closed)."""
    if endpoint is None:
        return None
    view = current_app.view_functions.get(endpoint)
    found = getattr(view, ROLES_ATTR, None)
    return frozenset(found) if found is not None else None


def actor() -> User:
    """The signed-in user's row (only called from guarded views)."""
    return cast(User, current_user.row)


def guard() -> BaseResponse | None:
    """Before every request: public, or signed in with a role the view names; else refuse."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return None  # 404/405 for unknown URLs, or a public page
    allowed = view_roles(endpoint)
    if not current_user.is_authenticated:
        if request.path.startswith("/api/"):
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if allowed is None or current_user.role not in allowed:
        abort(403)
    return None


def security_headers(response: BaseResponse) -> BaseResponse:
    """Headers every response carries (docs/reliability.md, A8)."""
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint != "static":
        # Pages hold intelligence: never kept by the browser or a proxy.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def safe_next(target: str | None) -> str | None:
    """A local path to go to after sign-in, or None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target
