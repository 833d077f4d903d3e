"""The case page over HTTP: who may see it, what it shows, and each of its forms."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import col, select

import scoring
from tasking.db import session_scope
from tasking.models import (
    Assessment,
    AuditEvent,
    Case,
    CaseScore,
    Decision,
    IntelEntry,
    Role,
    State,
    User,
)
from tasking.services.cases import create_case, submit_asset_request
from tasking.services.workflow import TRANSITIONS, moderate_score, transition
from tests.tasking.conftest import Org
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]
SCRIPT = "<script>alert(1)</script>"


@dataclass
class Cases:
    """References of the fixture cases."""

    op: str  # an operation in moderation, assessed by `analyst`, marked-up title
    request_b: str  # BCU B's request, submitted
    meeting: str  # an operation awaiting the meeting, moderated by analyst2


def _assessment(**overrides: Any) -> dict[str, Any]:
    base = {
        "P": 3, "Ps": 3, "F": 2, "C": 3, "S": 4, "V": 2, "L": 5, "Cf": "H",
        "Ca": 2, "Cb": 2, "O": 2, "T": 0, "rationale": "Fictional test rationale.",
    }  # fmt: skip
    return {**base, **overrides}


def _move(session: Any, actor: User, case: Case, *states: str) -> Case:
    for state in states:
        case = transition(
            session=session, actor=actor, case_id=case.id, expected_version=case.version,
            to_state=state, reason="Test progression.",
        )  # fmt: skip
    return case


@pytest.fixture
def cases(web_engine: Engine, web_org: Org) -> Cases:
    """Three cases in different states, made through the services."""
    users = web_org.users
    with session_scope(web_engine) as session:
        op = create_case(
            session=session,
            actor=users["analyst"],
            data={
                "kind": "operation", "title": f"Op test {SCRIPT}", "theme_id": web_org.theme.id,
                "strands": ["Pursue"], "summary": "Fictional summary.",
                "assessment": _assessment(),
            },
        )  # fmt: skip
        op = _move(session, users["coordinator"], op, "triage", "scoring", "moderation")
        request_b = submit_asset_request(
            session=session,
            actor=users["bcu_b"],
            data={
                "title": "Surveillance on a fictional burglar", "theme_id": web_org.theme.id,
                "strands": ["Pursue"], "asset_type": "surveillance", "requested_hours": 40,
                "justification": "Local options are exhausted here.",
                "assessment": _assessment(P=0, Ps=2, F=2, C=2, S=2, V=0, L=4, Cf="M"),
            },
        )  # fmt: skip
        meeting = create_case(
            session=session,
            actor=users["analyst"],
            data={
                "kind": "operation", "title": "Op awaiting the meeting",
                "theme_id": web_org.theme2.id, "strands": ["Pursue"],
                "assessment": _assessment(P=2, L=3),
            },
        )  # fmt: skip
        meeting = _move(session, users["coordinator"], meeting, "triage", "scoring", "moderation")
        meeting = moderate_score(
            session=session, actor=users["analyst2"], case_id=meeting.id,
            expected_version=meeting.version, agree=True, note="Agreed.",
        )  # fmt: skip
        meeting = _move(session, users["coordinator"], meeting, "awaiting_meeting")
        return Cases(op=op.reference, request_b=request_b.reference, meeting=meeting.reference)


def _case(engine: Engine, reference: str) -> Case:
    with session_scope(engine, write=False) as session:
        return session.exec(select(Case).where(Case.reference == reference)).one()


def _audit(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# --- who may see the page ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "analyst", "chair", "asset_owner"])
def test_case_page_for_each_board_role(signed_in: SignedIn, cases: Cases, role: str) -> None:
    response = signed_in(role).get(f"/cases/{cases.op}")
    assert response.status_code == 200
    page = _text(response)
    assert cases.op in page
    assert "OFFICIAL-SENSITIVE" in page
    assert response.headers["Cache-Control"] == "no-store"
