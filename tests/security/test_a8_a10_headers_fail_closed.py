"""A8 security headers on every route's answers (pages, API, redirects, errors, static) and
A10 failing closed (a crash is a bare 500 page; an authorisation check that raises denies).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tasking.services import access
from tasking.web import security, sessions
from tasking.web.security import ANY_ROLE, roles
from tests.security.conftest import Caller, make_app, settings_for
from tests.security.routes import Route, action, body, collected_routes, legit_path
from tests.security.world import World
from tests.support.redis import ThrowawayRedis

ROUTES = collected_routes()


def assert_headers(response: TestResponse, what: str, *, static: bool = False) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, what
    assert "default-src 'self'" in csp, what
    assert "unsafe-inline" not in csp, what
    assert "unsafe-eval" not in csp, what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") in ("no-referrer", "same-origin"), what
    if not static:
        assert "no-store" in headers.get("Cache-Control", ""), what


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_a8_headers_on_every_route_for_its_caller_and_for_anyone(
    caller: Caller, world: World, route: Route
) -> None:
    """The registered caller's answer (a write is sent without its CSRF token or with an
    empty API body, so it is refused and changes nothing) and an anonymous caller's."""
    found = action(route)
    path = legit_path(world, route)
    static = route.endpoint == "static"
    if route.writes:
        sent = {} if route.api else body(world, route)
        response, changes = caller.attempt(route, found.user, path, sent, csrf=None)
        assert changes == {}
    else:
        response = caller.call(route, found.user, path)
    assert_headers(response, f"{route.key} as {found.user}: {response.status_code}", static=static)
    anonymous = caller.call(route, "", path, {} if route.writes else None, csrf=None)
    assert_headers(anonymous, f"{route.key} anonymous: {anonymous.status_code}", static=static)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/page", 404),
        ("GET", "/api/v1/no/such/thing", 404),
        ("DELETE", "/board", 405),
        ("GET", "/static/no-such-file.css", 404),
    ],
)
def test_a8_headers_on_error_answers(caller: Caller, method: str, path: str, status: int) -> None:
    response = caller.browser("coordinator").open(path, method=method)
    assert response.status_code == status
    assert_headers(response, f"{method} {path}", static="/static/" in path)


SECRET_SQL = "SELECT password_hash FROM app_user WHERE username = 'chair'"


@pytest.fixture
def crashing(tmp_path: Path, redis_server: ThrowawayRedis, world: World) -> Flask:
    """An app with one extra route that crashes with SQL and a secret in its message."""
    app = make_app(settings_for(tmp_path, redis_server, flush=False), world.engine)

    @roles(ANY_ROLE)
    def crash() -> str:
        raise RuntimeError(f"{SECRET_SQL} -- {app.config['SECRET_KEY']}")

    app.add_url_rule("/battery-crash", "battery_crash", crash)
    app.add_url_rule("/api/v1/battery-crash", "battery_api_crash", crash)
    return app


def test_a10_a_crash_is_a_plain_500_with_no_traceback_sql_or_secret(
    crashing: Flask, world: World
) -> None:
    browser = Caller(crashing, world)
    for path in ("/battery-crash", "/api/v1/battery-crash"):
        route = Route(path, "x", "GET", (), frozenset())
        response = browser.call(route, "coordinator", path)
        page = response.get_data(as_text=True)
        assert response.status_code == 500, path
        for leak in ("Traceback", "RuntimeError", "SELECT", "password_hash", 'File "'):
            assert leak not in page, (path, leak)
        assert str(crashing.config["SECRET_KEY"]) not in page
        assert_headers(response, path)


def _raising(name: str, calls: list[str]) -> Callable[..., Any]:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        calls.append(name)
        raise RuntimeError(f"{name} failed")

    return broken


# The authorisation helpers: who may use a view, what a role may do, which cases a user
# may know of, which markings they may see, and the sign-in session behind them.
# (access.bcu_scope is not listed: no query uses it any more; case_scope is the rule.)
HELPERS = {
    "view_roles": (security, "view_roles"),
    "require": (access, "require"),
    "case_scope": (access, "case_scope"),
    "visible_markings": (access, "visible_markings"),
    "is_bcu_scoped": (access, "is_bcu_scoped"),
    "session_get": (sessions.SessionStore, "get"),
}


def _break_everywhere(monkeypatch: pytest.MonkeyPatch, name: str, calls: list[str]) -> int:
    """Replace a helper in its module and in every tasking module that imported it."""
    owner, attribute = HELPERS[name]
    original = getattr(owner, attribute)
    broken = _raising(name, calls)
    monkeypatch.setattr(owner, attribute, broken)
    replaced = 1
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("tasking.") and getattr(module, attribute, None) is original:
            monkeypatch.setattr(module, attribute, broken)
            replaced += 1
    return replaced


# Reads that show cases, and writes that change them, each as a user allowed to.
PROBES = (
    ("board.board", "GET", "coordinator"),
    ("cases.case_page", "GET", "coordinator"),
    ("cases.case_page", "GET", "asset_owner"),
    ("requests.index", "GET", "bcu_requester"),
    ("requests.detail", "GET", "bcu_requester"),
    ("api.board", "GET", "coordinator"),
    ("api.read_case", "GET", "coordinator"),
    ("api.read_request", "GET", "bcu_requester"),
    ("cases.assessment", "POST", "analyst"),
    ("api.post_transition", "POST", "coordinator"),
    ("requests.answer", "POST", "bcu_requester"),
)


@pytest.mark.parametrize("helper", sorted(HELPERS))
def test_a10_an_authorisation_helper_that_raises_denies(
    caller: Caller, world: World, monkeypatch: pytest.MonkeyPatch, helper: str
) -> None:
    # The sign-in session serves pages only (the API reads its bearer token).
    probes = [p for p in PROBES if helper != "session_get" or not p[0].startswith("api.")]
    for endpoint, _method, user in probes:  # signed in before the helpers break
        if not endpoint.startswith("api."):
            caller.csrf(user)
    calls: list[str] = []
    assert _break_everywhere(monkeypatch, helper, calls) >= 1
    titles = [title.rsplit(" ", 1)[-1] for title in world.titles.values()]
    used = 0
    for endpoint, method, user in probes:
        route = next(r for r in ROUTES if r.endpoint == endpoint and r.method == method)
        path = legit_path(world, route)
        if user in ("asset_owner", "bcu_requester") and route.args:
            path = path.replace(world.refs["op"], world.refs["req_a_drones"])
        sent = body(world, route) if route.writes else None
        before = len(calls)
        try:
            response, changes = caller.attempt(route, user, path, sent)
        except RuntimeError:
            # Even the error page could not be drawn (it needs the broken helper): the
            # server answers its own bare 500. Nothing was served; nothing was kept.
            assert len(calls) > before, (helper, endpoint)
            used += 1
            continue
        if len(calls) == before:
            continue  # this path does not use the helper
        used += 1
        page = response.get_data(as_text=True)
        assert response.status_code >= 400 or response.status_code == 302, (helper, endpoint)
        if response.status_code == 302:  # sent to sign in again: no session, no content
            assert response.headers["Location"].startswith("/login"), (helper, endpoint)
        assert [t for t in titles if t in page] == [], (helper, endpoint)
        assert changes == {}, (helper, endpoint)
    assert used, f"no probe uses {helper}: add one that does to PROBES"
