"""A1 deny by default and A3 no privilege climbing, on every route of `app.url_map`.

Routes are walked from the application itself: a route added later is
tested here without anyone writing a test for it, and fails until its
legitimate call is registered in tests/security/routes.py.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tasking.web.security import PUBLIC_ENDPOINTS
from tests.security.conftest import Caller
from tests.security.routes import (
    ACTIONS,
    PUBLIC,
    ROLE_USER,
    Route,
    action,
    body,
    collected_routes,
    intended,
    legit_path,
    routes,
)
from tests.security.world import World

ROUTES = collected_routes()
GUARDED = [r for r in ROUTES if not r.public]


def test_the_battery_walks_the_running_apps_routes(app: Flask) -> None:
    """The routes parametrised at collection are the module app's (nothing missed)."""
    assert {r.key for r in routes(app)} == {r.key for r in ROUTES}


def test_a1_public_endpoints_are_exactly_the_reviewed_allowlist() -> None:
    """Making a route public is a security decision: it must be made here as well."""
    assert frozenset(PUBLIC_ENDPOINTS) == PUBLIC


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_every_route_has_a_registered_legitimate_call(route: Route) -> None:
    """Each route's guard, scoping and CSRF can only be tested from a registered call."""
    registered = action(route)
    assert route.public or registered.user, f"{route.key}: a guarded route needs a user"
    assert route.public or route.declared, f"{route.key}: no @roles, so closed to everyone"


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: r.key)
def test_a1_anonymous_calls_are_refused(caller: Caller, world: World, route: Route) -> None:
    response, changes = caller.attempt(route, "", legit_path(world, route), body(world, route))
    if route.api:
        assert response.status_code == 401, response.get_data(as_text=True)[:300]
        forged = caller.app.test_client().open(
            legit_path(world, route), method=route.method, json=body(world, route),
            headers={"Authorization": "Bearer tsk_" + "A" * 43},
        )  # fmt: skip
        assert forged.status_code == 401, route.key
        assert response.is_json
        assert response.get_json()["error"] == "unauthorised"
    elif route.method == "GET":
        assert response.status_code == 302, response.status_code
        assert response.headers["Location"].startswith("/login"), response.headers["Location"]
    else:
        # A POST without a session has no valid CSRF token either: refused one way or the other.
        assert response.status_code in (302, 400), response.status_code
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login")
    assert changes == {}


@pytest.mark.parametrize("route", [r for r in GUARDED if not r.writes], ids=lambda r: r.key)
def test_a1_the_legitimate_caller_is_let_in(caller: Caller, world: World, route: Route) -> None:
    """The control for the refusals: the registered caller reads the page (writes: see
    test_a3_mass_assignment, which makes every registered write succeed on a copy)."""
    registered = action(route)
    response = caller.call(route, registered.user, legit_path(world, route))
    assert response.status_code in (200, 302), (route.key, response.status_code)


def _climbers(route: Route) -> list[str]:
    registered = ACTIONS.get((route.endpoint, route.method))  # unregistered: fails in the test
    meant = (registered and registered.intended) or route.declared or frozenset()
    return [user for role, user in ROLE_USER.items() if role not in meant]


CLIMBS = [(r, user) for r in GUARDED for user in _climbers(r)]


@pytest.mark.parametrize(("route", "username"), CLIMBS, ids=[f"{r.key} as {u}" for r, u in CLIMBS])
def test_a3_no_role_climbs_to_a_route_it_is_not_meant_to_use(
    caller: Caller, world: World, route: Route, username: str
) -> None:
    """A role outside the route's intended roles gets 403/404 and changes nothing."""
    assert username not in [ROLE_USER[r] for r in intended(route)]
    response, changes = caller.attempt(
        route, username, legit_path(world, route), body(world, route)
    )
    assert response.status_code in (403, 404), (route.key, username, response.status_code)
    assert changes == {}
