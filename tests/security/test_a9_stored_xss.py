"""Stored XSS and spreadsheet formulas through every free-text field that is rendered back.

Every registered write is made once, on a copy of the world, with each of its free-text
fields (a text value in the registered body) carrying markup and a formula. Then every
page is read as every role that may read it: the markup is shown escaped, never live;
CSV exports make every formula inert.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tasking.db import make_engine
from tests.security.conftest import Caller, make_app, settings_for
from tests.security.routes import (
    ROLE_USER,
    Route,
    action,
    body,
    collected_routes,
    fill,
    legit_path,
)
from tests.security.world import World
from tests.support.redis import ThrowawayRedis

ROUTES = collected_routes()
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"
LIVE = ("<script>alert(1)", "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
FORMULAS = ("=cmd|' /C calc'!A0", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd")
# Writes that would end the run's sessions or erase what the pages should show.
NOT_REPLAYED = frozenset(
    {"auth.logout", "auth.login", "reviews.dispose_case", "admin.user_active",
     "admin.user_revoke", "admin.user_password", "account.revoke", "admin.models_upload"}
)  # fmt: skip
SCOPED_CASE = {"bcu_requester": "req_a", "asset_owner": "req_a_drones"}


def _texts(sent: dict[str, Any]) -> dict[str, Any]:
    """The body with every free-text value (text with a space in it) carrying the markup."""
    out: dict[str, Any] = {}
    for key, value in sent.items():
        if isinstance(value, dict):
            out[key] = _texts(value)
        elif isinstance(value, str) and " " in value and key not in ("password",):
            out[key] = (FORMULAS[0] + MARKUP)[:60] if key == "name" else FORMULAS[0] + MARKUP
        else:
            out[key] = value
    return out


@pytest.fixture(scope="module")
def stored(
    world_path: tuple[World, Path],
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: ThrowawayRedis,
) -> Iterator[tuple[Caller, Engine, list[Any]]]:
    """A copy of the world after every registered write, its text fields marked up."""
    world, pristine = world_path
    folder = tmp_path_factory.mktemp("xss")
    path = folder / "xss.db"
    shutil.copyfile(pristine, path)
    engine = make_engine(f"sqlite:///{path}")
    copy = World(**{**world.__dict__, "engine": engine, "path": path})
    caller = Caller(make_app(settings_for(folder, redis_server), engine), copy)
    csvs = []
    for route in ROUTES:
        if not route.writes or route.endpoint in NOT_REPLAYED:
            continue
        found = action(route)
        response = caller.call(
            route, found.user, legit_path(copy, route), _texts(body(copy, route))
        )
        assert response.status_code < 500, route.key
        if response.mimetype == "text/csv":
            csvs.append((route.key, response.get_data(as_text=True)))
    submit = next(r for r in ROUTES if r.endpoint == "api.submit_request")
    for formula in FORMULAS:
        sent = {**body(copy, submit), "title": formula + " fictional", "summary": MARKUP}
        response = caller.call(submit, "bcu_requester", submit.rule, sent)
        assert response.status_code == 201, response.get_data(as_text=True)
    yield caller, engine, csvs
    engine.dispose()


def test_the_markup_was_stored(stored: tuple[Caller, Engine, list[Any]]) -> None:
    """The control: the payloads are in the database, so the pages below had them to show."""
    _caller, engine, _csvs = stored
    with engine.connect() as conn:
        titles = conn.execute(text("SELECT title, summary FROM case_record")).all()
    assert sum(MARKUP in (t or "") + (s or "") for t, s in titles) >= 3


READS = [
    (route, user)
    for route in ROUTES
    if route.method == "GET" and not route.public
    for role, user in ROLE_USER.items()
    if route.declared is not None and role in route.declared
]


@pytest.mark.parametrize(("route", "user"), READS, ids=[f"{r.key} as {u}" for r, u in READS])
def test_a9_stored_markup_is_never_live_on_any_page(
    stored: tuple[Caller, Engine, list[Any]], route: Route, user: str
) -> None:
    caller, _engine, _csvs = stored
    target = action(route).target
    if route.args and any(a in ("reference", "case_id") for a in route.args):
        target = SCOPED_CASE.get(user, target)
    if "token_id" in route.args:
        target = user
    response = caller.call(route, user, fill(caller.world, route, target))
    assert response.status_code < 500, (route.key, user)
    if route.api:
        # JSON carries the text as data; it is never served as something a browser renders.
        assert response.mimetype == "application/json", route.key
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        return
    page = response.get_data(as_text=True)
    assert [m for m in LIVE if m in page] == [], (route.key, user)


def test_a9_the_markup_is_shown_escaped_where_it_is_read(
    stored: tuple[Caller, Engine, list[Any]],
) -> None:
    """The control of the test above: the pages do show the stored text, escaped."""
    caller, _engine, _csvs = stored
    shown = 0
    for route, user in READS:
        if route.api or route.args:
            continue
        page = caller.call(route, user, legit_path(caller.world, route)).get_data(as_text=True)
        shown += ESCAPED in page
    assert shown >= 2


def _cells(data: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data)) for cell in row]


def test_a9_csv_exports_make_every_formula_inert(
    stored: tuple[Caller, Engine, list[Any]],
) -> None:
    caller, _engine, csvs = stored
    export = next(r for r in ROUTES if r.endpoint == "requests.export" and r.writes)
    found = action(export)
    response = caller.call(
        export, found.user, legit_path(caller.world, export), body(caller.world, export)
    )
    assert response.mimetype == "text/csv"
    csvs.append((export.key, response.get_data(as_text=True)))
    assert csvs, "no CSV was produced"
    for key, data in csvs:
        cells = _cells(data)
        live = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
        assert live == [], (key, live[:5])
    exported = _cells(csvs[-1][1])
    for formula in FORMULAS:
        assert f"'{formula} fictional" in exported, formula  # kept, made inert
