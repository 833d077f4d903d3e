"""A2 need-to-know on every route: IDOR through every path parameter, and no foreign data.

Viewers: BCU A's and BCU B's requesters (each only their own BCU's requests),
the asset owner (only cases asking for or tasked to their drones) and the chair
(cleared to OFFICIAL-SENSITIVE, so not the SECRET operation). Each tries every
route that takes an id with records they may not see: 404 (403 when the
route is not for their role at all), nothing leaked, nothing changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.security.conftest import Caller
from tests.security.routes import Route, action, body, collected_routes, fill
from tests.security.world import World

ROUTES = collected_routes()
WITH_ARGS = [r for r in ROUTES if r.args and not r.public]
READS = [r for r in ROUTES if r.method == "GET" and not r.public]

# The world's cases each viewer must never see (tests/security/world.py): no page may
# show them. IDOR_CASES are the ones tried through every path parameter: another BCU's
# request and a case of another kind (or above the viewer's clearance).
FOREIGN_CASES = {
    "bcu_requester": ("req_b", "req_b_drones", "op", "intel", "secret_op"),
    "bcu_b": ("req_a", "req_a2", "req_a_drones", "op", "intel", "secret_op"),
    "asset_owner": ("req_a", "req_b", "op", "intel", "secret_op"),
    "chair": ("secret_op",),
    "auditor": ("secret_op",),  # cleared to OFFICIAL-SENSITIVE
}
IDOR_CASES = {
    "bcu_requester": ("req_b", "op"),
    "bcu_b": ("req_a", "intel"),
    "asset_owner": ("req_b", "op"),
    "chair": ("secret_op",),
    "auditor": ("secret_op",),
}
VIEWERS = tuple(FOREIGN_CASES)
# The case each viewer may see, for pages that name one.
OWN_CASE = {
    "bcu_requester": "req_a", "bcu_b": "req_b", "asset_owner": "req_a_drones", "chair": "op",
    "auditor": "op",
}  # fmt: skip
# Path parameters that name records some users may not see: the foreign values per viewer.
SCOPED_ARGS: dict[str, Callable[[str], tuple[str, ...]]] = {
    "reference": lambda viewer: IDOR_CASES[viewer],
    "case_id": lambda viewer: IDOR_CASES[viewer],
    "token_id": lambda viewer: ("analyst" if viewer == "coordinator" else "coordinator",),
}
# Path parameters naming records every user of the route may see, and why.
UNSCOPED_ARGS = {
    "run_id": "scoring runs hold counts, no case data; every run reader sees every run",
    "model_id": "scoring model versions are the same for everyone",
    "version_id": "scoring model versions (administrators only)",
    "filename": "static files are public",
    "username": "administrators only, who manage every user",
    "user_id": "administrators only, who manage every user",
    "row_id": "units, assets and themes: reference data (administrators only)",
}


def _case_ids(data: Any) -> Iterator[int]:
    """Every case id a JSON answer names (`case_id`, or `id` beside a `reference`, and the
    id lists of a run's review lists)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if (key == "case_id" and isinstance(value, int)) or (
                key == "id" and "reference" in data and isinstance(value, int)
            ):
                yield value
            elif key in ("overdue_reviews", "retention_due") and isinstance(value, list):
                yield from (v for v in value if isinstance(v, int))
            else:
                yield from _case_ids(value)
    elif isinstance(data, list):
        for item in data:
            yield from _case_ids(item)


def markers(world: World, names: tuple[str, ...]) -> list[str]:
    """Text that only the named cases' pages can contain (their titles and summaries)."""
    found = []
    for name in names:
        title = world.titles[name]
        found += [title, title.rsplit(" ", 1)[-1]]  # the title, and its unique [CODE]
    return found


def token_markers(world: World, owner: str) -> list[str]:
    return [world.token_names[owner], world.tokens[owner][:10]]


@pytest.mark.parametrize("route", WITH_ARGS, ids=lambda r: r.key)
def test_a2_every_path_parameter_is_declared_scoped_or_not(route: Route) -> None:
    for arg in route.args:
        assert arg in SCOPED_ARGS or arg in UNSCOPED_ARGS, (
            f"{route.key}: <{arg}> is unknown to the IDOR battery. If it names a record some"
            " users may not see, add its foreign values to SCOPED_ARGS in"
            " tests/security/test_a2_idor.py; otherwise say why in UNSCOPED_ARGS."
        )


IDOR = [
    (route, viewer, foreign)
    for route in WITH_ARGS
    for viewer in VIEWERS
    for arg in route.args
    if arg in SCOPED_ARGS
    for foreign in SCOPED_ARGS[arg](viewer)
]


@pytest.mark.parametrize(
    ("route", "viewer", "foreign"), IDOR, ids=[f"{r.key} as {v} on {f}" for r, v, f in IDOR]
)
def test_a2_idor_another_bcus_or_unseen_record_is_not_found(
    caller: Caller, world: World, route: Route, viewer: str, foreign: str
) -> None:
    path = fill(world, route, foreign)
    sent = body(world, route) if route.writes else {}
    response, changes = caller.attempt(route, viewer, path, sent)
    role = world.org.users[viewer].role
    if route.declared is not None and role in route.declared:
        assert response.status_code == 404, (route.key, viewer, foreign, response.status_code)
    else:
        assert response.status_code in (403, 404), (route.key, viewer, response.status_code)
    text = response.get_data(as_text=True)
    leaked = (
        markers(world, (foreign,)) if foreign in world.titles else token_markers(world, foreign)
    )
    assert [m for m in leaked if m in text] == []
    assert changes == {}


def _role(viewer: str) -> str:
    return "bcu_requester" if viewer == "bcu_b" else viewer


READABLE = [
    (route, viewer)
    for route in READS
    for viewer in VIEWERS
    if route.declared is not None and _role(viewer) in route.declared
]


@pytest.mark.parametrize(
    ("route", "viewer"), READABLE, ids=[f"{r.key} as {v}" for r, v in READABLE]
)
def test_a2_no_page_or_answer_shows_a_record_the_viewer_may_not_see(
    caller: Caller, world: World, route: Route, viewer: str
) -> None:
    """Lists, boards, exports, counts and detail pages, each as each scoped viewer."""
    target = action(route).target
    if any(arg in ("reference", "case_id") for arg in route.args):
        target = OWN_CASE[viewer]
    if "token_id" in route.args:
        target = viewer
    response, changes = caller.attempt(route, viewer, fill(world, route, target))
    assert response.status_code < 500, (route.key, viewer, response.status_code)
    assert changes == {}, (route.key, viewer)  # a read never writes (A7), for anyone
    text = response.get_data(as_text=True)
    foreign = markers(world, FOREIGN_CASES[viewer])
    others = [u for u in world.tokens if u != viewer]
    foreign += [m for owner in others for m in token_markers(world, owner)]
    assert [m for m in foreign if m in text] == [], (route.key, viewer)
    # Nor their references (or ids, in a JSON answer) anywhere: lists, summaries, counts.
    refs = [world.refs[n] for n in FOREIGN_CASES[viewer]]
    assert [r for r in refs if re.search(rf"(?<![\w-]){re.escape(r)}(?![\w-])", text)] == []
    if response.is_json:
        named = set(_case_ids(response.get_json()))
        hidden = {world.ids[n] for n in FOREIGN_CASES[viewer]}
        assert named & hidden == set(), (route.key, viewer, named & hidden)
