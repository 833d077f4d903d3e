"""Test helpers: take cases through the workflow services, one transaction per step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from tasking.db import session_scope
from tasking.models import Assessment, Case, Decision, utcnow
from tasking.services.cases import submit_asset_request
from tasking.services.workflow import moderate_score, record_decision, transition
from tests.tasking.conftest import Org

RequestData = Callable[..., dict[str, Any]]


def submit(
    engine: Engine, org: Org, request_data: RequestData, **assessment: Any
) -> tuple[int, int]:
    """Submit one request as BCU A's requester; returns (case id, version)."""
    with session_scope(engine) as session:
        case = submit_asset_request(
            session=session, actor=org.users["bcu_a"], data=request_data(assessment=assessment)
        )
        assert case.id is not None
        return case.id, case.version


def version_of(engine: Engine, case_id: int) -> int:
    """The case's current optimistic-lock version."""
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.version


def assessment_of(engine: Engine, case_id: int) -> Assessment:
    """The case's assessment row, as stored now."""
    with Session(engine) as session:
        row = session.get(Assessment, case_id)
        assert row is not None
        return row


def move(engine: Engine, org: Org, case_id: int, *states: str, who: str = "coordinator") -> int:
    """Walk a case through states; returns the final version."""
    version = 0
    for state in states:
        with session_scope(engine) as session:
            case = transition(
                session=session, actor=org.users[who], case_id=case_id,
                expected_version=version_of(engine, case_id), to_state=state,
                reason=f"to {state}",
            )  # fmt: skip
            version = case.version
    return version


def moderate(engine: Engine, org: Org, case_id: int, who: str = "analyst2", **kw: Any) -> int:
    """Moderate (agree by default) as `who`; returns the case version."""
    kw.setdefault("agree", True)
    with session_scope(engine) as session:
        return moderate_score(
            session=session, actor=org.users[who], case_id=case_id,
            expected_version=version_of(engine, case_id), **kw,
        ).version  # fmt: skip


def to_meeting(engine: Engine, org: Org, case_id: int) -> int:
    """Take a submitted case to the tasking meeting, moderated on the way."""
    move(engine, org, case_id, "triage", "scoring", "moderation")
    moderate(engine, org, case_id)
    return move(engine, org, case_id, "awaiting_meeting")


def decision_data(assessment_version: int = 1, **extra: Any) -> dict[str, Any]:
    """A complete adopting decision under the NDM headings (assets go in `assets`)."""
    return {
        "outcome": "adopted", "assessment_version": assessment_version,
        "information": "Fictional reporting shows weekly supply.",
        "threat_risk": "High harm to vulnerable users.", "action": "Task surveillance for 4 weeks.",
        "next_review": (utcnow().date() + timedelta(days=28)).isoformat(), **extra,
    }  # fmt: skip


def decide(engine: Engine, org: Org, case_id: int, who: str = "chair", **extra: Any) -> Decision:
    """Record a decision as `who` against the case's current versions."""
    extra.setdefault("assessment_version", assessment_of(engine, case_id).version)
    data = decision_data(**extra)
    with session_scope(engine) as session:
        decision = record_decision(
            session=session, actor=org.users[who], case_id=case_id,
            expected_version=version_of(engine, case_id), data=data,
        )  # fmt: skip
        session.flush()
        session.expunge(decision)
        return decision
