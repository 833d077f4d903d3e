"""A9 bad input on every route: SQL injection through every query parameter, over-long
bodies and fields, and stored markup or spreadsheet formulas rendered back (XSS, CSV).

Query parameters are those each route's registered call names (`Action.query`); for the
API they must also match the OpenAPI document, so a parameter added later is known here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask

from tests.security.conftest import Caller
from tests.security.routes import ACTIONS, Route, action, body, collected_routes, legit_path
from tests.security.world import World

ROUTES = collected_routes()
WRITES = [r for r in ROUTES if r.writes]


def _query(route: Route) -> tuple[str, ...]:
    found = ACTIONS.get((route.endpoint, route.method))
    return found.query if found is not None else ()


QUERIED = [(r, p) for r in ROUTES for p in _query(r)]


def action_user(route: Route) -> str:
    found = ACTIONS.get((route.endpoint, route.method))
    return found.user if found is not None else ""


def _role(user: str) -> str:
    return "bcu_requester" if user == "bcu_b" else user


INJECTIONS = (
    "' OR '1'='1",
    "1 OR 1=1",
    "1; DROP TABLE case_record; --",
    "' UNION SELECT username, password_hash FROM app_user --",
    "1) OR (1=1",
    "%' /*",
    "P0' OR 1=1 --",
    "\\'; SELECT 1; --",
)
NOT_SHOWN = ("password_hash", "$argon2", "Traceback", "sqlite3.", "OperationalError", "SELECT ")


def _seen(world: World, text: str) -> set[str]:
    """The world's cases a response shows (by their unique title code)."""
    return {name for name, title in world.titles.items() if title.rsplit(" ", 1)[-1] in text}


def test_api_query_parameters_are_those_of_the_openapi_document(app: Flask) -> None:
    """A query parameter added to an API operation must be added to its registered call."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    for route in ROUTES:
        if not route.api or route.method != "GET" or route.public:
            continue
        path = route.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        operation = document["paths"][path]["get"]
        named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert named == set(_query(route)), route.key


# Each query parameter as the registered caller, and as the scoped users the route serves
# (an injection must not widen a BCU's or an asset owner's view either).
INJECTED = [
    (route, param, user)
    for route, param in QUERIED
    for user in dict.fromkeys(
        [
            action_user(route),
            *(u for u in ("asset_owner", "bcu_b") if _role(u) in (route.declared or ())),
        ]
    )
]


@pytest.mark.parametrize(
    ("route", "param", "user"), INJECTED, ids=[f"{r.key}?{p} as {u}" for r, p, u in INJECTED]
)
def test_a9_sql_injection_through_every_query_parameter(
    caller: Caller, world: World, route: Route, param: str, user: str
) -> None:
    """4xx or a normal page, never 500, never a row the plain call does not show."""
    found = action(route)
    path = legit_path(world, route).split("?")[0]
    legit_query = found.qs(world) if found.qs is not None else {}
    sent = body(world, route) if route.writes else None
    baseline = caller.call(route, user, path, sent, query=legit_query)
    shown = _seen(world, baseline.get_data(as_text=True))
    for payload in INJECTIONS:
        response, changes = caller.attempt(
            route, user, path, sent, query={**legit_query, param: payload}
        )
        text = response.get_data(as_text=True)
        assert response.status_code < 500, (route.key, param, payload, response.status_code)
        assert _seen(world, text) <= shown, (route.key, param, payload)
        forbidden = [s for s in NOT_SHOWN if s not in payload]  # the payload may be echoed
        assert [s for s in forbidden if s in text] == [], (route.key, param, payload)
        if not route.writes or not found.stores:
            assert changes == {}, (route.key, param, payload)


@pytest.mark.parametrize("route", WRITES, ids=lambda r: r.key)
def test_a9_a_body_over_one_megabyte_is_413_and_changes_nothing(
    caller: Caller, world: World, route: Route
) -> None:
    found = action(route)
    raw = b"title=" + b"x" * (1024 * 1024 + 16)
    if route.api:
        raw = json.dumps({"title": "x" * (1024 * 1024 + 16)}).encode()
    response, changes = caller.attempt(route, found.user, legit_path(world, route), raw=raw)
    assert response.status_code == 413, (route.key, response.status_code)
    assert changes == {}
    assert "no-store" in response.headers.get("Cache-Control", "")
    assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", "")


def _fields(sent: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the text and number fields of a body (nested objects included)."""
    names = []
    for key, value in sent.items():
        if isinstance(value, dict):
            names += _fields(value, f"{prefix}{key}.")
        elif isinstance(value, str | int) and not isinstance(value, bool):
            names.append(f"{prefix}{key}")
    return names


def _replace(sent: dict[str, Any], dotted: str, value: str) -> dict[str, Any]:
    head, _, rest = dotted.partition(".")
    copy = dict(sent)
    copy[head] = _replace(copy[head], rest, value) if rest else value
    return copy


def _names(page: str, name: str) -> bool:
    """The page's error summary links to the field (its id may carry a form prefix), or
    its problem message names it."""
    anchor = re.escape(name.replace(".", "-")).replace("_", "[_-]")
    if re.search(rf'href="#(?:f-|\w+-)?{anchor}"', page):
        return True
    summary = re.search(r'class="error-summary".*?</div>', page, re.S)
    return bool(summary) and name in summary.group(0)  # type: ignore[union-attr]


@pytest.mark.parametrize("route", WRITES, ids=lambda r: r.key)
def test_a9_a_100k_character_field_is_422_naming_the_field(
    caller: Caller, world: World, route: Route
) -> None:
    """Each field of the registered body, 100,000 characters long in turn: refused with the
    field named (a control such as the version read is a 4xx), never a 500, nothing stored."""
    found = action(route)
    legit = body(world, route)
    names = [n for n in _fields(legit) if n != "csrf_token"]
    long_text = "7" * 100_000
    for name in names:
        sent = _replace(legit, name, long_text)
        response, changes = caller.attempt(route, found.user, legit_path(world, route), sent)
        status, text = response.status_code, response.get_data(as_text=True)
        assert status < 500, (route.key, name, status)
        if name.split(".")[-1] in found.controls or name in found.lenient:
            # A control (the version read, a checkbox) or a field the route cuts or ignores:
            # never a 500, and nothing stored when refused.
            assert status < 400 or changes == {}, (route.key, name)
            continue
        assert status == 422, (route.key, name, status)
        assert changes == {}, (route.key, name)
        if route.api:
            fields = response.get_json()["fields"]
            assert any(k == name or k.startswith(name + ".") for k in fields), (name, fields)
        else:
            assert _names(text, name), (route.key, name)


@pytest.mark.parametrize(("route", "param"), QUERIED, ids=[f"{r.key}?{p}" for r, p in QUERIED])
def test_a9_a_100k_character_query_parameter_is_never_a_500(
    caller: Caller, world: World, route: Route, param: str
) -> None:
    found = action(route)
    path = legit_path(world, route).split("?")[0]
    legit_query = found.qs(world) if found.qs is not None else {}
    sent = body(world, route) if route.writes else None
    query = {**legit_query, param: "9" * 100_000}
    response = caller.call(route, found.user, path, sent, query=query)
    assert response.status_code < 500, (route.key, param, response.status_code)
    if route.api:
        assert response.status_code == 422, (route.key, param)
        assert param in response.get_json()["fields"], response.get_json()
