"""A7 CSRF on every state-changing page route, reads that never write, and A3 mass assignment.

Refusals run on the module's shared world and prove nothing changed. The
controls (the registered call succeeds with the right token, and the same
call carrying fields it may not set stores what it would without them) run
on copies of the world, one per route.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.security.conftest import Caller, FreshApp
from tests.security.routes import Route, action, body, collected_routes, legit_path
from tests.security.world import World, snapshot

ROUTES = collected_routes()
PAGE_WRITES = [r for r in ROUTES if r.writes and not r.api]
API_WRITES = [r for r in ROUTES if r.writes and r.api]
READS = [r for r in ROUTES if r.method == "GET"]
CSRF_REFUSAL = "did not come from this service"
# Fields no caller may set through a body or a form: the services own them.
PROTECTED = {
    "bcu_id": "2", "score": "99", "priority": "99.5", "band": "P0", "state": "closed",
    "version": "77", "marking": "OFFICIAL", "role": "admin", "created_by_id": "1",
    "is_admin": "1", "clearance": "SECRET", "user_id": "1", "id": "999",
}  # fmt: skip
# Columns that differ between two runs of the same call (clocks, random secrets).
_VOLATILE = re.compile(
    r"(_at|_hash|_epoch|^bk_submitted|^prefix|^as_of|^secret|^celery_task_id|^task_id|^summary)$"
)


@pytest.mark.parametrize("route", PAGE_WRITES, ids=lambda r: r.key)
def test_a7_a_form_without_a_csrf_token_is_refused_and_changes_nothing(
    caller: Caller, world: World, route: Route
) -> None:
    found = action(route)
    response, changes = caller.attempt(
        route, found.user, legit_path(world, route), body(world, route), csrf=None
    )
    assert response.status_code == 400, (route.key, response.status_code)
    assert CSRF_REFUSAL in response.get_data(as_text=True)
    assert changes == {}


@pytest.mark.parametrize("route", PAGE_WRITES, ids=lambda r: r.key)
def test_a7_a_token_from_another_session_is_refused_and_changes_nothing(
    caller: Caller, world: World, route: Route
) -> None:
    found = action(route)
    other = "auditor" if found.user != "auditor" else "admin"
    foreign = caller.csrf(other)
    assert foreign != caller.csrf(found.user)
    response, changes = caller.attempt(
        route, found.user, legit_path(world, route), body(world, route), csrf=foreign
    )
    assert response.status_code == 400, (route.key, response.status_code)
    assert CSRF_REFUSAL in response.get_data(as_text=True)
    assert changes == {}


@pytest.mark.parametrize("route", READS, ids=lambda r: r.key)
def test_a7_get_routes_never_change_the_records(caller: Caller, world: World, route: Route) -> None:
    """Every GET, as its registered caller: no table but the audit log changes."""
    found = action(route)
    response, changes = caller.attempt(route, found.user, legit_path(world, route))
    assert response.status_code < 500, (route.key, response.status_code)
    assert changes == {}, route.key


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows without the columns that differ run to run (audit aside)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in snapshot(engine):
            columns = [row[1] for row in conn.execute(text(f'PRAGMA table_info("{name}")')).all()]
            kept = [c for c in columns if not _VOLATILE.search(c)]
            listed = ", ".join(f'"{c}"' for c in kept)
            rows = conn.execute(text(f'SELECT {listed} FROM "{name}"')).all()  # noqa: S608 - test SQL over fixed table and column names
            tables[name] = sorted((tuple(zip(kept, row, strict=True)) for row in rows), key=repr)
    return tables


def _audit_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


def _with_protected(sent: dict[str, Any]) -> dict[str, Any]:
    return {**sent, **{k: v for k, v in PROTECTED.items() if k not in sent}}


@pytest.mark.parametrize("route", PAGE_WRITES, ids=lambda r: r.key)
def test_a3_mass_assignment_form_fields_beyond_the_form_are_ignored(
    fresh_app: FreshApp, route: Route
) -> None:
    """The same form, once as the page sends it and once with bcu_id, score, state, marking,
    role, created_by_id... added: the stored rows are the same (checked on two copies).

    The first call is also the control of the CSRF refusals above: with its token the
    registered call is accepted and stores what it should."""
    stored = []
    found = action(route)
    for extra in (False, True):
        caller, engine = fresh_app()
        before, audited = snapshot(engine), _audit_rows(engine)
        sent = body(caller.world, route)
        if extra:
            sent = _with_protected(sent)
        response = caller.call(route, found.user, legit_path(caller.world, route), sent)
        assert response.status_code < 400, (route.key, response.get_data(as_text=True)[:2000])
        assert CSRF_REFUSAL not in response.get_data(as_text=True)
        location = response.headers.get("Location", "")
        assert route.endpoint == "auth.logout" or not location.startswith("/login"), route.key
        assert (snapshot(engine) != before) == found.stores, route.key
        if found.stores and not extra:  # U1: every stored change writes its audit row
            assert _audit_rows(engine) > audited, (route.key, "no audit row")
        stored.append((response.status_code, _rows(engine)))
    (plain_status, plain), (extra_status, extra_rows) = stored
    assert extra_status == plain_status, route.key
    differing = {
        f"{t}.{a[0]}": (a[1], b[1])
        for t in plain
        for row_a, row_b in zip(plain[t], extra_rows.get(t, []), strict=False)
        for a, b in zip(row_a, row_b, strict=True)
        if a != b
    }
    assert differing == {}, route.key
    assert plain == extra_rows, route.key  # and no row more or fewer


@pytest.mark.parametrize("route", API_WRITES, ids=lambda r: r.key)
def test_a3_mass_assignment_api_bodies_with_unknown_fields_are_refused(
    caller: Caller, world: World, route: Route
) -> None:
    """Each protected field the operation does not take (the `version` it is sent is its
    optimistic lock) is refused by name, and nothing is stored."""
    found = action(route)
    legit = body(world, route)
    tried = [name for name in sorted(PROTECTED) if name not in legit]
    assert tried, route.key
    for name in tried:
        sent = {**legit, name: PROTECTED[name]}
        response, changes = caller.attempt(route, found.user, legit_path(world, route), sent)
        assert response.status_code == 422, (route.key, name, response.status_code)
        assert response.get_json()["fields"].get(name) == "unknown field", response.get_json()
        assert changes == {}
    # Inside the nested objects too (an assessment, a decision, intelligence).
    for key, value in legit.items():
        if isinstance(value, dict):
            sent = {**legit, key: {**value, "bcu_id": 2, "state": "closed"}}
            response, changes = caller.attempt(route, found.user, legit_path(world, route), sent)
            assert response.status_code == 422, (route.key, key)
            fields = response.get_json()["fields"]
            assert fields.get(f"{key}.bcu_id") == "unknown field", fields
            assert changes == {}


@pytest.mark.parametrize("route", API_WRITES, ids=lambda r: r.key)
def test_a3_control_the_api_body_as_registered_is_accepted(
    fresh_app: FreshApp, route: Route
) -> None:
    """The registered bodies are valid: a 422 above is the unknown field's doing."""
    caller, _engine = fresh_app()
    found = action(route)
    path, sent = legit_path(caller.world, route), body(caller.world, route)
    audited = _audit_rows(_engine)
    response = caller.call(route, found.user, path, sent)
    assert response.status_code in (200, 201), (route.key, response.get_data(as_text=True)[:400])
    if found.stores:  # U1: every stored change writes its audit row
        assert _audit_rows(_engine) > audited, (route.key, "no audit row")
