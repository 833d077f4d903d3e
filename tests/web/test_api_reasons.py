"""The API asks why a case marked above OFFICIAL-SENSITIVE is read (U1, as the case page).

`GET /api/v1/cases/{id}` and `GET /api/v1/requests/{reference}` of a SECRET case
answer a 422 naming the header until `X-Access-Reason-Code` (and, for "other",
`X-Access-Reason`) is sent; the consultation row carries the reason. An
OFFICIAL-SENSITIVE case needs none. Lists are logged as disclosures.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import col, select

from tasking.db import session_scope
from tasking.models import AuditEvent, Case, User, pk
from tasking.services.cases import create_case, submit_asset_request
from tasking.services.markings import set_marking
from tasking.services.tokens import create_token
from tasking.web.api.spec import document
from tests.tasking.conftest import Org

SECRET_SUMMARY = "Fictional covert tactics of the heron group."
CODE, TEXT = "X-Access-Reason-Code", "X-Access-Reason"


def _assessment() -> dict[str, Any]:
    return {
        "P": 2, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 4, "Cf": "M",
        "Ca": 1, "Cb": 1, "O": 1, "T": 0, "rationale": "Fictional rationale.",
    }  # fmt: skip


@pytest.fixture
def cases(web_engine: Engine, web_org: Org) -> dict[str, Case]:
    """An operation marked SECRET, one left OFFICIAL-SENSITIVE, and a SECRET BCU A request
    (its requester cleared to SECRET, so it is in their scope)."""
    users = web_org.users
    made: dict[str, Case] = {}
    with session_scope(web_engine) as session:
        requester = session.get(User, pk(users["bcu_requester"]))
        assert requester is not None
        requester.clearance = "SECRET"
        session.add(requester)
        for name in ("secret", "plain"):
            made[name] = create_case(
                session=session, actor=users["coordinator"],
                data={
                    "kind": "operation", "title": f"Op {name.upper()} HERON (fictional)",
                    "theme_id": web_org.theme.id, "strands": ["Pursue"],
                    "summary": SECRET_SUMMARY, "assessment": _assessment(),
                },
            )  # fmt: skip
        made["request"] = submit_asset_request(
            session=session, actor=users["bcu_a"],
            data={
                "title": "Drone over the fictional allotments", "theme_id": web_org.theme.id,
                "strands": ["Pursue"], "asset_type": "drones", "requested_hours": 10,
                "justification": SECRET_SUMMARY, "assessment": _assessment(),
            },
        )  # fmt: skip
        for name in ("secret", "request"):
            case = made[name]
            set_marking(
                session=session, actor=users["coordinator"], case_id=pk(case),
                expected_version=case.version,
                data={"marking": "SECRET", "reason": "Covert tactics."},
            )  # fmt: skip
        session.flush()
        for case in made.values():
            session.refresh(case)
            session.expunge(case)
    return made


@pytest.fixture
def call(client: FlaskClient, web_engine: Engine, web_org: Org) -> Any:
    """GET /api/v1 + path as a fixture user, with extra headers."""
    secrets: dict[str, str] = {}
    with session_scope(web_engine) as session:
        for name in ("coordinator", "bcu_requester", "bcu_b"):
            user = web_org.users[name]
            secrets[name] = create_token(
                session=session, actor=user, owner_id=pk(user), name="reasons"
            ).secret

    def get(user: str, path: str, **headers: str) -> Any:
        sent = {"Authorization": f"Bearer {secrets[user]}", **headers}
        return client.get("/api/v1" + path, headers=sent)

    return get


def _views(engine: Engine, case: Case, action: str = "case.view") -> list[AuditEvent]:
    with session_scope(engine, write=False) as session:
        query = select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.entity_id == pk(case)
        )
        return list(session.exec(query.order_by(col(AuditEvent.seq))).all())


def _refused(response: Any, *fields: str) -> dict[str, Any]:
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "invalid"
    assert sorted(body["fields"]) == sorted(fields)
    text = response.get_data(as_text=True)
    assert SECRET_SUMMARY not in text  # nothing of the case's content
    assert "HERON" not in text
    assert "allotments" not in text
    return dict(body)


def test_a_secret_case_is_refused_without_a_reason_and_nothing_is_logged(
    call: Any, cases: dict[str, Case], web_engine: Engine
) -> None:
    case = cases["secret"]
    body = _refused(call("coordinator", f"/cases/{pk(case)}"), CODE)
    assert CODE in body["message"]
    assert case.reference in body["message"]
    assert "Choose why" in body["fields"][CODE]
    assert _views(web_engine, case) == []


@pytest.mark.parametrize(
    ("headers", "fields"),
    [
        ({CODE: "curiosity"}, [CODE]),  # not on the list
        ({CODE: "other"}, [TEXT]),  # "other" without words
        ({CODE: "other", TEXT: "why"}, [TEXT]),  # too short
        ({TEXT: "Looking into the heron group"}, [CODE]),  # words without a code
        ({CODE: "audit", TEXT: "x" * 501}, [TEXT]),  # too long
        ({CODE: "a" * 33}, [CODE]),  # longer than any code: refused by the model
    ],
)
def test_bad_reasons_are_refused_naming_the_header(
    call: Any,
    cases: dict[str, Case],
    web_engine: Engine,
    headers: dict[str, str],
    fields: list[str],
) -> None:
    _refused(call("coordinator", f"/cases/{pk(cases['secret'])}", **headers), *fields)
    assert _views(web_engine, cases["secret"]) == []


def test_a_secret_case_is_read_with_a_reason_and_the_row_carries_it(
    call: Any, cases: dict[str, Case], web_engine: Engine
) -> None:
    case = cases["secret"]
    read = call("coordinator", f"/cases/{pk(case)}", **{CODE: "investigation"})
    assert read.status_code == 200, read.get_data(as_text=True)
    assert read.get_json()["summary"] == SECRET_SUMMARY
    assert read.headers["X-Handling-Marking"] == "SECRET"
    other = call(
        "coordinator", f"/cases/{pk(case)}",
        **{CODE: "other", TEXT: "Checking the %C2%A3 figures for the   review"},
    )  # fmt: skip
    assert other.status_code == 200
    first, second = _views(web_engine, case)
    assert (first.category, first.origin) == ("consultation", "api")
    assert (first.reason_code, first.reason) == ("investigation", "")
    assert (second.reason_code, second.reason) == ("other", "Checking the £ figures for the review")


def test_an_official_sensitive_case_needs_no_reason(
    call: Any, cases: dict[str, Case], web_engine: Engine
) -> None:
    case = cases["plain"]
    assert case.marking == "OFFICIAL-SENSITIVE"
    assert call("coordinator", f"/cases/{pk(case)}").status_code == 200
    given = call("coordinator", f"/cases/{pk(case)}", **{CODE: "supervision"})
    assert given.status_code == 200  # a reason sent anyway is kept
    _refused(call("coordinator", f"/cases/{pk(case)}", **{CODE: "nonsense"}), CODE)
    first, second = _views(web_engine, case)
    assert (first.reason_code, second.reason_code) == ("", "supervision")


def test_an_unknown_or_unscoped_case_is_404_before_any_reason_is_asked(
    call: Any, cases: dict[str, Case]
) -> None:
    assert call("coordinator", "/cases/424242").status_code == 404
    missing = call("coordinator", "/cases/424242", **{CODE: "curiosity"})
    assert missing.status_code == 404  # the reason is not even looked at
    assert call("bcu_b", f"/requests/{cases['request'].reference}").status_code == 404


def test_a_secret_request_read_by_its_bcu_asks_too(
    call: Any, cases: dict[str, Case], web_engine: Engine
) -> None:
    case = cases["request"]
    path = f"/requests/{case.reference}"
    _refused(call("bcu_requester", path), CODE)
    assert _views(web_engine, case, "request.view") == []
    read = call("bcu_requester", path, **{CODE: "subject_access"})
    assert read.status_code == 200, read.get_data(as_text=True)
    assert read.get_json()["justification"] == SECRET_SUMMARY
    (row,) = _views(web_engine, case, "request.view")
    assert (row.category, row.reason_code) == ("consultation", "subject_access")


def test_lists_with_a_secret_case_are_logged_as_disclosures(
    call: Any, cases: dict[str, Case], web_engine: Engine
) -> None:
    assert call("coordinator", "/board").status_code == 200
    assert call("bcu_requester", "/requests").status_code == 200
    with session_scope(web_engine, write=False) as session:
        rows = session.exec(
            select(AuditEvent).where(col(AuditEvent.action).in_(("api.board", "api.requests")))
        ).all()
    listed = {row.action: json.loads(row.detail)["references"] for row in rows}
    assert cases["secret"].reference in listed["api.board"]
    assert cases["request"].reference in listed["api.requests"]
    assert {row.category for row in rows} == {"disclosure"}


def test_the_reason_headers_are_in_the_openapi_document(app: Flask) -> None:
    with app.test_request_context():
        paths = document()["paths"]
    for path in ("/api/v1/cases/{case_id}", "/api/v1/requests/{reference}"):
        params = {p["name"]: p for p in paths[path]["get"].get("parameters", [])}
        assert params[CODE]["in"] == "header"
        assert "other" in params[CODE]["schema"]["enum"]
        assert params[TEXT]["in"] == "header"
        assert "reason" in paths[path]["get"]["description"]
