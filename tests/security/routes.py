"""Walking `app.url_map`: every route, how to call it legitimately, and who is meant to.

Each route (endpoint and method) has one registered legitimate call, an
`Action`: who makes it, which record of the world its path names, and a
valid body. The battery derives every attack from it (another role, another
BCU's record, no CSRF token, extra fields, over-long fields). A route with no
Action fails the battery with a message asking its author to add one here:
nothing is skipped.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlmodel import Session, select

from tasking.models import CaseLink
from tasking.web.security import PUBLIC_ENDPOINTS, ROLES_ATTR
from tests.security.world import World
from tests.web.conftest import PASSWORD

Body = Callable[[World], dict[str, Any]]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# The public allowlist as the battery knows it: adding to PUBLIC_ENDPOINTS means adding here.
PUBLIC = frozenset({"auth.login", "health.healthz", "static", "api.openapi", "api.docs"})
ROLE_USER = {
    "admin": "admin", "analyst": "analyst", "asset_owner": "asset_owner", "auditor": "auditor",
    "bcu_requester": "bcu_requester", "chair": "chair", "coordinator": "coordinator",
}  # fmt: skip


@dataclass(frozen=True)
class Route:
    """One method of one URL rule."""

    rule: str
    endpoint: str
    method: str
    args: tuple[str, ...]
    declared: frozenset[str] | None  # roles named by @roles (None: unmarked, closed)

    @property
    def api(self) -> bool:
        return self.rule.startswith("/api/")

    @property
    def public(self) -> bool:
        return self.endpoint in PUBLIC_ENDPOINTS

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def key(self) -> str:
        return f"{self.method} {self.rule}"


@dataclass(frozen=True)
class Action:
    """A legitimate call of a route: who, the world record its path names, and the body."""

    user: str
    target: str = ""  # a case name (reference, case_id), a username (token_id, username)...
    body: Body | None = None
    # The roles meant to use the route, when the services narrow the view's @roles.
    intended: frozenset[str] | None = None
    # Query parameters the route reads (the battery injects into each).
    query: tuple[str, ...] = ()
    # Body fields that are controls rather than input (a stale version is a 409, not a 422).
    controls: frozenset[str] = field(default_factory=frozenset)
    # False for a POST that stores nothing but audit rows (a preview, a download, sign-in).
    stores: bool = True
    # Fields the route cuts to a limit or ignores instead of refusing (the sign-in form: a
    # long username is simply not a user; a score preview reads only the assessment).
    lenient: frozenset[str] = field(default_factory=frozenset)
    # The query string of the legitimate call, when the route needs one.
    qs: Callable[[World], dict[str, str]] | None = None


def routes(app: Flask) -> list[Route]:
    """Every route of the app, one per method (HEAD and OPTIONS aside)."""
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        declared = getattr(view, ROLES_ATTR, None)
        for method in METHODS:
            if method in (rule.methods or ()):
                found.append(
                    Route(
                        rule=rule.rule,
                        endpoint=rule.endpoint,
                        method=method,
                        args=tuple(sorted(rule.arguments)),
                        declared=frozenset(declared) if declared is not None else None,
                    )
                )
    return sorted(found, key=lambda r: (r.rule, r.method))


@cache
def collected_routes() -> tuple[Route, ...]:
    """The routes of an application built at collection time (to parametrise tests by route).

    Nothing is connected: the database is in memory and the broker is never called.
    """
    import tempfile
    from pathlib import Path

    from sqlalchemy import create_engine

    from config.settings import Settings
    from tasking.web import create_app

    settings = Settings(
        instance_path=Path(tempfile.mkdtemp(prefix="battery-routes-")),
        redis_url="redis://127.0.0.1:9/0",
        secure_cookies=False,
        secret_key="battery-collection-" + "x" * 32,
    )
    return tuple(routes(create_app(settings, engine=create_engine("sqlite://"))))


def action(route: Route) -> Action:
    """The registered legitimate call of a route, or a failure asking for one."""
    found = ACTIONS.get((route.endpoint, route.method))
    if found is None:
        pytest.fail(
            f"{route.key} ({route.endpoint}) has no legitimate call registered for the security"
            " battery: add an Action for it to ACTIONS in tests/security/routes.py (who calls"
            " it, which record its path names, a valid body), so that its guard, BCU scoping"
            " and CSRF are tested."
        )
    return found


def intended(route: Route) -> frozenset[str]:
    """The roles meant to use a route: the Action's narrower list, else the view's @roles."""
    found = action(route)
    if found.intended is not None:
        return found.intended
    return route.declared or frozenset()


def fill(world: World, route: Route, target: str) -> str:
    """The route's path with its parameters filled from the world record `target`."""
    path = route.rule
    for arg in route.args:
        filler = FILLERS.get(arg)
        if filler is None:
            pytest.fail(
                f"{route.key}: the security battery cannot fill <{arg}>. Register how to fill"
                f" it in FILLERS in tests/security/routes.py (and, if it names a record some"
                f" users may not see, its foreign values in tests/security/test_a2_idor.py)."
            )
        value = filler(world, target)
        for form in (f"<{arg}>", f"<int:{arg}>", f"<string:{arg}>", f"<path:{arg}>"):
            path = path.replace(form, value)
    return path


def legit_path(world: World, route: Route) -> str:
    """The path of the route's legitimate call (with its query string, if it has one)."""
    found = action(route)
    path = fill(world, route, found.target)
    if found.qs is not None:
        path += "?" + urlencode(found.qs(world))
    return path


def body(world: World, route: Route) -> dict[str, Any]:
    """The legitimate call's body (empty when it takes none)."""
    found = action(route)
    return found.body(world) if found.body is not None else {}


# How each path parameter is filled from a world record name.
FILLERS: dict[str, Callable[[World, str], str]] = {
    "reference": lambda w, t: w.refs[t],
    "case_id": lambda w, t: str(w.ids[t]),
    "token_id": lambda w, t: str(w.token_ids[t]),
    "username": lambda _w, t: t,
    "run_id": lambda w, _t: str(w.run_id),
    "model_id": lambda w, _t: str(w.model_id),
    "filename": lambda _w, t: t or "tasking.css",
    "user_id": lambda w, t: str(w.user_id(t)),
    "row_id": lambda w, t: str(w.row_ids[t]),  # units, assets and themes, by name
    "version_id": lambda w, t: str(w.model2_id if t == "model2" else w.model_id),
}


def _version(name: str) -> Body:
    return lambda w: {"version": str(w.version(name))}


def _form(name: str, **fields: Any) -> Body:
    return lambda w: {"version": str(w.version(name)), **fields}


def _link_id(w: World, first: str, second: str) -> int:
    """The id of the world's link between two cases (read, not made: a body has no effects)."""
    low, high = sorted((w.ids[first], w.ids[second]))
    with Session(w.engine) as session:
        found = session.exec(
            select(CaseLink.id).where(CaseLink.low_case_id == low, CaseLink.high_case_id == high)
        ).first()
    assert found is not None, f"the world has no link between {first} and {second}"
    return found


def _json(name: str, **fields: Any) -> Body:
    return lambda w: {"version": w.version(name), **fields}


def _request_form(w: World) -> dict[str, Any]:
    return {
        "title": "Fictional new request from the battery", "theme_id": str(w.org.theme.id),
        "asset_type": "surveillance", "requested_hours": "30",
        "justification": "Fictional: local options are exhausted.", "summary": "Fictional.",
        "strands": "Pursue", "P": "1", "Ps": "2", "F": "2", "C": "2", "S": "2", "V": "0",
        "L": "3", "Cf": "M", "Ca": "1", "Cb": "1", "O": "1", "T": "0",
        "rationale": "Fictional rationale.",
    }  # fmt: skip


_FACTOR_KEYS = ("P", "Ps", "F", "C", "S", "V", "L", "Cf", "Ca", "Cb", "O", "T")
_REQUEST_FACTS = (
    "title", "theme_id", "asset_type", "requested_hours", "justification", "summary", "strands",
)  # fmt: skip


def _request_json(w: World) -> dict[str, Any]:
    return {
        "title": "Fictional API request from the battery", "theme_id": w.org.theme.id,
        "asset_type": "surveillance", "requested_hours": 30, "strands": ["Pursue"],
        "justification": "Fictional: local options are exhausted.",
        "assessment": {
            "P": 1, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 3, "Cf": "M", "Ca": 1,
            "Cb": 1, "O": 1, "T": 0,
        },
    }  # fmt: skip


def _assessment_form() -> dict[str, str]:
    return {
        "P": "3", "Ps": "2", "F": "2", "C": "2", "S": "2", "V": "0", "L": "4", "Cf": "H",
        "Ca": "1", "Cb": "2", "O": "2", "T": "0", "rationale": "Fictional new rationale.",
        "reason": "Fictional new reporting.",
    }  # fmt: skip


def _decision_form(w: World) -> dict[str, Any]:
    from sqlmodel import Session

    from tasking.models import Assessment, CaseScore

    with Session(w.engine) as session:
        a = session.get(Assessment, w.ids["intel"])
        s = session.get(CaseScore, w.ids["intel"])
        assert a is not None
        assert s is not None
        versions = {"assessment_version": str(a.version), "score_version": str(s.score_version)}
    review = (datetime.now(UTC).date() + timedelta(days=28)).isoformat()
    return {
        "version": str(w.version("intel")), **versions, "outcome": "deferred",
        "information": "Fictional information.", "threat_risk": "Fictional threat and risk.",
        "action": "Fictional action: wait for capacity.", "next_review": review,
        "owner_id": str(w.user_id("coordinator")),
    }  # fmt: skip


def _decision_json(w: World) -> dict[str, Any]:
    form = _decision_form(w)
    decision = {k: v for k, v in form.items() if k not in ("version", "score_version")}
    decision["assessment_version"] = int(decision["assessment_version"])
    decision["owner_id"] = int(decision["owner_id"])
    return {"version": w.version("intel"), "decision": decision}


def _model_upload(w: World) -> dict[str, Any]:
    from sqlmodel import Session

    from tasking.models import ModelVersion
    from tests.security.world import model_text

    with Session(w.engine) as session:
        current = session.get(ModelVersion, w.model_id)
        assert current is not None
        content = model_text(current.content, 3).encode()
    return {"model_file": (io.BytesIO(content), "model-v3.toml")}


def _days_ahead(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


_AUDIT_REASON = {"reason_code": "audit", "reason": "Fictional: a complaint."}
_INTEL_FORM = {
    "source_grade": "1", "info_grade": "B", "handling": "P",
    "summary": "Fictional graded report.", "received_at": "2026-11-30T10:00",
}  # fmt: skip
_INTEL_JSON = {
    "source_grade": 1, "info_grade": "B", "handling": "P", "summary": "Fictional.",
    "received_at": "2026-11-30T10:00:00Z",
}  # fmt: skip
VECTOR = "MoRiLE:1/P:2/Ps:2/F:2/C:2/S:2/V:0/L:4/Cf:H/Ca:1/Cb:2/O:2/T:0/A:0"
EDITORS = frozenset({"coordinator", "analyst"})
LINKERS = frozenset({"coordinator", "analyst", "chair"})
CONTROLS = frozenset({"version", "assessment_version", "score_version", "action", "csrf_token"})

# The legitimate call of every route, by (endpoint, method).
ACTIONS: dict[tuple[str, str], Action] = {
    ("auth.login", "GET"): Action("", query=("next",)),
    ("auth.login", "POST"): Action(
        "",
        body=lambda _w: {"username": "coordinator", "password": PASSWORD},
        query=("next",),
        stores=False,
        lenient=frozenset({"username", "password"}),
    ),
    ("auth.logout", "POST"): Action("coordinator", stores=False),
    ("auth.home", "GET"): Action("coordinator"),
    ("health.healthz", "GET"): Action(""),
    ("static", "GET"): Action("", "tasking.css"),
    ("board.board", "GET"): Action(
        "coordinator",
        query=(
            "hub_id",
            "bcu_id",
            "theme_id",
            "asset_type",
            "band",
            "state",
            "kind",
            "harm",
            "likelihood",
            "cursor",
            "before",
        ),
    ),
    ("cases.case_page", "GET"): Action("coordinator", "op"),
    # Why a restricted case is viewed (the reason is asked before the page).
    ("cases.view_reason", "POST"): Action(
        "coordinator",
        "op",
        lambda _w: {"reason_code": "tasking_meeting", "reason": "Fictional: the meeting."},
        stores=False,
    ),
    ("cases.assessment", "POST"): Action(
        "analyst",
        "op",
        lambda w: {"version": str(w.version("op")), **_assessment_form()},
        intended=EDITORS,
        controls=CONTROLS,
    ),
    ("cases.intelligence", "POST"): Action(
        "analyst",
        "op",
        lambda w: {"version": str(w.version("op")), **_INTEL_FORM},
        intended=EDITORS,
        controls=CONTROLS,
    ),
    ("cases.moderation", "POST"): Action(
        "analyst2",
        "op",
        _form("op", decision="agree", note="Fictional: agreed."),
        intended=frozenset({"analyst"}),
        controls=CONTROLS,
    ),
    ("cases.change_state", "POST"): Action(
        "coordinator",
        "req_a2",
        _form("req_a2", to_state="scoring", reason="Fictional."),
        intended=frozenset({"coordinator", "analyst", "chair"}),
        controls=CONTROLS,
    ),
    ("cases.marking", "POST"): Action(
        "coordinator",
        "op",
        _form("op", marking="OFFICIAL-SENSITIVE", reason="Fictional."),
        intended=frozenset({"coordinator", "analyst", "chair"}),
        controls=CONTROLS,
    ),
    ("cases.question", "POST"): Action(
        "coordinator",
        "req_a2",
        _form("req_a2", question="Fictional: which street?"),
        intended=frozenset({"coordinator"}),
        controls=CONTROLS,
    ),
    ("cases.decision", "POST"): Action(
        "chair",
        "intel",
        _decision_form,
        intended=frozenset({"chair", "coordinator"}),
        controls=CONTROLS,
    ),
    # Linking two cases the caller may both see (the world links op to secret_op already).
    ("cases.link", "POST"): Action(
        "coordinator",
        "op",
        lambda w: {
            "reference": w.refs["intel"],
            "link_type": "same_subject",
            "reason": "Fictional: one nominal in both.",
        },
        intended=LINKERS,
    ),
    # Unlinking the world's link of op (its far end, SECRET, is out of the chair's sight).
    ("cases.unlink", "POST"): Action(
        "coordinator",
        "op",
        lambda w: {"link_id": str(_link_id(w, "op", "secret_op")), "reason": "Fictional: apart."},
        intended=LINKERS,
    ),
    ("requests.new", "GET"): Action("bcu_requester"),
    ("requests.index", "GET"): Action("bcu_requester", query=("page",)),
    ("requests.export", "GET"): Action("bcu_requester"),
    ("requests.export", "POST"): Action(
        "bcu_requester",
        body=lambda _w: {"reason_code": "investigation", "reason": "Fictional: our own list."},
        stores=False,
    ),
    ("requests.detail", "GET"): Action("bcu_requester", "req_a"),
    ("requests.submit", "POST"): Action("bcu_requester", body=_request_form, controls=CONTROLS),
    ("requests.preview", "POST"): Action(
        "bcu_requester",
        body=_request_form,
        controls=CONTROLS,
        stores=False,
        # The live panel (fetched by tasking.js) scores the assessment only and answers
        # 200 with the problems inside it.
        lenient=frozenset((*_REQUEST_FACTS, *_FACTOR_KEYS, "rationale")),
    ),
    ("requests.answer", "POST"): Action(
        "bcu_requester",
        "req_a",
        _form("req_a", answer="Fictional: the north address."),
        controls=CONTROLS,
    ),
    ("requests.withdraw", "POST"): Action(
        "bcu_requester",
        "req_a2",
        _form("req_a2", reason="Fictional: no longer needed."),
        controls=CONTROLS,
    ),
    ("account.tokens", "GET"): Action("coordinator"),
    ("account.create", "POST"): Action(
        "coordinator", body=lambda _w: {"name": "Fictional tool", "days": "30"}
    ),
    ("account.revoke", "POST"): Action("coordinator", "coordinator"),
    ("account.password", "GET"): Action("coordinator"),
    ("account.change_password", "POST"): Action(
        "analyst2",
        body=lambda _w: {
            "current_password": PASSWORD,
            "new_password": "fictional battery passphrase seven",
            "confirm_password": "fictional battery passphrase seven",
        },
    ),
    ("account.tokens_of", "GET"): Action("admin", "spare"),
    ("account.create_for", "POST"): Action(
        "admin", "spare", lambda _w: {"name": "Fictional tool", "days": "30"}
    ),
    # Administration
    ("admin.index", "GET"): Action("admin"),
    ("admin.users_index", "GET"): Action("admin"),
    ("admin.users_create", "POST"): Action(
        "admin",
        body=lambda _w: {
            "username": "fictional_new",
            "display_name": "Fictional Newcomer",
            "role": "analyst",
            "clearance": "OFFICIAL-SENSITIVE",
        },
    ),
    ("admin.user", "GET"): Action("admin", "spare"),
    ("admin.user_change", "POST"): Action(
        "admin", "spare", lambda _w: {"display_name": "Spare Renamed", "role": "analyst"}
    ),
    ("admin.user_clearance", "POST"): Action(
        "admin",
        "spare",
        lambda _w: {"clearance": "OFFICIAL", "clearance_reason": "Fictional review."},
    ),
    ("admin.user_active", "POST"): Action(
        "admin",
        "spare",
        lambda _w: {"active": "no", "active_reason": "Fictional leaver."},
        controls=frozenset({"active"}),  # a radio: anything but "yes" disables
    ),
    ("admin.user_password", "POST"): Action("admin", "spare"),
    ("admin.user_revoke", "POST"): Action(
        "admin", "spare", lambda _w: {"tokens": "yes"}, controls=frozenset({"tokens"})
    ),
    ("admin.units", "GET"): Action("admin"),
    ("admin.units_create", "POST"): Action(
        "admin", body=lambda _w: {"code": "BCU-Z", "name": "Zulu BCU", "kind": "bcu"}
    ),
    ("admin.unit", "GET"): Action("admin", "bcu_b"),
    ("admin.unit_change", "POST"): Action(
        "admin", "bcu_b", lambda _w: {"code": "BCU-B", "name": "Bravo BCU North", "kind": "bcu"}
    ),
    ("admin.assets", "GET"): Action("admin"),
    ("admin.assets_create", "POST"): Action(
        "admin",
        body=lambda w: {
            "code": "DOG-1",
            "name": "Dog unit",
            "asset_type": "dogs",
            "hub_id": str(w.row_ids["hub"]),
            "weekly_capacity_hours": "30",
        },
    ),
    ("admin.asset", "GET"): Action("admin", "drones"),
    ("admin.asset_change", "POST"): Action(
        "admin",
        "drones",
        lambda w: {
            "code": "DRONE-1",
            "name": "Drone unit (north)",
            "asset_type": "drones",
            "hub_id": str(w.row_ids["hub"]),
            "weekly_capacity_hours": "44",
        },
    ),
    ("admin.themes", "GET"): Action("admin"),
    ("admin.themes_create", "POST"): Action(
        "admin",
        body=lambda _w: {"code": "KNIFE", "name": "Knife crime", "is_local": "yes"},
        controls=frozenset({"is_local"}),  # a checkbox: anything but "yes" is unticked
    ),
    ("admin.theme", "GET"): Action("admin", "theme2"),
    ("admin.theme_change", "POST"): Action(
        "admin", "theme2", lambda _w: {"code": "FRAUD", "name": "Fraud and scams"}
    ),
    ("admin.models", "GET"): Action("admin"),
    ("admin.models_upload", "POST"): Action("admin", body=_model_upload),
    ("admin.model", "GET"): Action("admin", "model2"),
    ("admin.model_whatif", "POST"): Action("admin", "model2"),
    ("admin.model_publish", "POST"): Action(
        "admin", "model2", lambda _w: {"reason": "Fictional: the board agreed it."}
    ),
    ("admin.runs", "GET"): Action("admin"),
    # Records reviews (DPA 2018 s.39)
    ("reviews.index", "GET"): Action("coordinator"),
    ("reviews.case", "GET"): Action("coordinator", "op"),
    ("reviews.keep", "POST"): Action(
        "coordinator",
        "op",
        lambda _w: {"keep_reason": "Fictional: still active.", "next_review": _days_ahead(60)},
    ),
    ("reviews.dispose_case", "POST"): Action(
        "coordinator",
        "req_b_drones",
        lambda _w: {"dispose_reason": "Fictional: retention period over.", "confirm": "yes"},
    ),
    # The auditor's questions (answers are pages; a POST with a reason is the CSV)
    ("audit.index", "GET"): Action("auditor"),
    ("audit.case", "GET"): Action(
        "auditor", qs=lambda w: {"reference": w.refs["op"]}, query=("reference",)
    ),
    ("audit.case", "POST"): Action(
        "auditor",
        body=lambda w: {"reference": w.refs["op"], **_AUDIT_REASON},
        stores=False,
        query=("reference",),
    ),
    ("audit.user_seen", "GET"): Action(
        "auditor", qs=lambda _w: {"username": "analyst"}, query=("username", "start", "end")
    ),
    ("audit.user_seen", "POST"): Action(
        "auditor",
        body=lambda _w: {"username": "analyst", **_AUDIT_REASON},
        stores=False,
        query=("username", "start", "end"),
    ),
    ("audit.disclosures", "GET"): Action("auditor", query=("start", "end")),
    ("audit.disclosures", "POST"): Action(
        "auditor", body=lambda _w: dict(_AUDIT_REASON), stores=False, query=("start", "end")
    ),
    # The API (bearer tokens; bodies are JSON)
    ("api.openapi", "GET"): Action(""),
    ("api.docs", "GET"): Action(""),
    ("api.board", "GET"): Action(
        "coordinator",
        query=(
            "hub_id",
            "bcu_id",
            "theme_id",
            "asset_type",
            "band",
            "state",
            "kind",
            "harm",
            "likelihood",
            "cursor",
            "before",
            "limit",
        ),
    ),
    ("api.read_case", "GET"): Action("coordinator", "op"),
    ("api.post_assessment", "POST"): Action(
        "analyst",
        "op",
        _json(
            "op",
            assessment={
                k: (int(v) if v.isdigit() else v)
                for k, v in _assessment_form().items()
                if k != "reason"
            },
        ),
    ),
    ("api.post_intelligence", "POST"): Action(
        "analyst", "op", _json("op", intelligence=_INTEL_JSON)
    ),
    ("api.post_moderation", "POST"): Action(
        "analyst2",
        "op",
        _json("op", agree=True, note="Fictional: agreed."),
        intended=frozenset({"analyst"}),
    ),
    ("api.post_transition", "POST"): Action(
        "coordinator", "req_a2", _json("req_a2", to_state="scoring", reason="Fictional.")
    ),
    ("api.post_decision", "POST"): Action("chair", "intel", _decision_json),
    ("api.post_question", "POST"): Action(
        "coordinator", "req_a2", _json("req_a2", question="Fictional: which street?")
    ),
    ("api.list_models", "GET"): Action("coordinator"),
    ("api.read_model", "GET"): Action("coordinator"),
    ("api.list_runs", "GET"): Action("coordinator", query=("limit",)),
    ("api.read_run", "GET"): Action("coordinator"),
    ("api.score_preview", "POST"): Action(
        "coordinator",
        body=lambda _w: {"vectors": [VECTOR]},
        stores=False,  # scores without storing anything
    ),
    ("api.submit_request", "POST"): Action("bcu_requester", body=_request_json),
    ("api.list_requests", "GET"): Action("bcu_requester", query=("page", "per_page")),
    ("api.read_request", "GET"): Action("bcu_requester", "req_a"),
    ("api.answer_question", "POST"): Action(
        "bcu_requester", "req_a", _json("req_a", answer="Fictional: the north address.")
    ),
    ("api.withdraw", "POST"): Action(
        "bcu_requester", "req_a2", _json("req_a2", reason="Fictional: no longer needed.")
    ),
}
