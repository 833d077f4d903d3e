"""Submitting, creating, reading and editing cases (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from scoring import score_vectors
from tasking.db import session_scope
from tasking.models import Assessment, AuditEvent, Case, CaseScore, ScoreHistory, State
from tasking.services.cases import (
    create_case,
    get_case,
    submit_asset_request,
    update_assessment,
    update_facts,
)
from tasking.services.errors import Conflict, Forbidden, Invalid, NotFound
from tests.tasking.conftest import Org

RequestData = Callable[..., dict[str, Any]]


def counts(engine: Engine) -> dict[str, int]:
    """Rows in each table a submission writes."""
    with Session(engine) as session:
        return {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (Case, Assessment, CaseScore, ScoreHistory, AuditEvent)
        }


def test_submit_asset_request_stores_case_score_history_and_one_audit_event(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    with session_scope(engine) as session:
        case = submit_asset_request(session=session, actor=org.users["bcu_a"], data=request_data())
        case_id = case.id
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.reference == f"REQ-{case_id:03d}"
        assert case.state == State.SUBMITTED
        assert case.bcu_id == org.bcu_a.id
        assert case.marking == "OFFICIAL-SENSITIVE"
        score = session.get(CaseScore, case_id)
        assert score is not None
        expected = score_vectors([score.scored_vector])[0]
        assert score.priority == expected["priority"]
        assert score.band == 3  # 6 * 1.2 * 4 = 28.8 -> P3
        assert score.priority == pytest.approx(28.8)
        assert score.on_board
        history = session.exec(select(ScoreHistory).where(ScoreHistory.case_id == case_id)).all()
        assert [h.score_version for h in history] == [1]
        events = session.exec(select(AuditEvent).where(AuditEvent.entity_id == case_id)).all()
        assert [(e.category, e.action) for e in events] == [("collection", "request.submit")]
        assert events[0].actor_id == org.users["bcu_a"].id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"assessment": {"P": 5}}, "assessment.P"),
        ({"assessment": {"Cf": "X"}}, "assessment.Cf"),
        ({"assessment": {"S": 0}}, "assessment.S"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"asset_type": "submarine"}, "asset_type"),
        ({"strands": ["Pursue", "Punish"]}, "strands"),
        ({"requested_hours": -1}, "requested_hours"),
        ({"bcu_id": 2}, "bcu_id"),
        ({"state": "adopted"}, "state"),
        ({"score": 200}, "score"),
        ({"version": 9}, "version"),
        ({"theme_id": 999}, "theme_id"),
    ],
)
def test_submit_asset_request_rejects_bad_input_naming_the_field_and_writes_nothing(
    engine: Engine, org: Org, request_data: RequestData, change: dict[str, Any], field: str
) -> None:
    data = request_data()
    change = dict(change)  # the parameter is shared by both database runs
    assessment = change.pop("assessment", None)
    if assessment:
        data["assessment"].update(assessment)
    data.update(change)
    before = counts(engine)
    with pytest.raises(Invalid) as caught, session_scope(engine) as session:
        submit_asset_request(session=session, actor=org.users["bcu_a"], data=data)
    assert field in caught.value.fields
    assert field in caught.value.message
    assert counts(engine) == before


def test_submit_asset_request_bcu_user_always_asks_for_own_bcu(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    with session_scope(engine) as session:
        case = submit_asset_request(
            session=session, actor=org.users["bcu_a"], data=request_data(), bcu_id=org.bcu_b.id
        )
        assert case.bcu_id == org.bcu_a.id


def test_submit_asset_request_refused_for_roles_without_permission(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    for role in ("auditor", "asset_owner", "admin", "chair"):
        with pytest.raises(Forbidden), session_scope(engine) as session:
            submit_asset_request(session=session, actor=org.users[role], data=request_data())
    assert counts(engine)["Case"] == 0


def test_create_case_operation_by_analyst(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    data = request_data(assessment={"T": 1})
    data.update(kind="operation", bcu_id=org.bcu_b.id, codename="Op AMBER QUAY")
    with session_scope(engine) as session:
        case = create_case(session=session, actor=org.users["analyst"], data=data)
        assert case.reference.startswith("OP-")
        score = session.get(CaseScore, case.id)
        assert score is not None
        assert score.band == 0  # threat to life
    with pytest.raises(Forbidden), session_scope(engine) as session:
        create_case(session=session, actor=org.users["bcu_a"], data=data)


def test_get_case_other_bcu_is_not_found_and_view_is_logged(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    with session_scope(engine) as session:
        case_id = submit_asset_request(
            session=session, actor=org.users["bcu_b"], data=request_data()
        ).id
    assert case_id is not None
    with pytest.raises(NotFound), session_scope(engine) as session:
        get_case(session=session, actor=org.users["bcu_a"], case_id=case_id)
    with session_scope(engine) as session:
        assert get_case(session=session, actor=org.users["bcu_b"], case_id=case_id).id == case_id
        assert (
            get_case(session=session, actor=org.users["coordinator"], case_id=case_id).id == case_id
        )
    with Session(engine) as session:
        views = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "case.view", AuditEvent.entity_id == case_id
            )
        ).all()
        assert sorted(e.actor_id for e in views) == sorted(
            [org.users["bcu_b"].id, org.users["coordinator"].id]  # type: ignore[list-item]
        )


def test_update_assessment_rescored_history_and_stale_edit_conflicts(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    """docs/reliability.md D1: a second edit of the same version gets a conflict, nothing lost."""
    with session_scope(engine) as session:
        case = submit_asset_request(session=session, actor=org.users["bcu_a"], data=request_data())
        case_id, version = case.id, case.version
    assert case_id is not None
    first = {**request_data()["assessment"], "L": 5, "rationale": "more reporting"}
    second = {**request_data()["assessment"], "P": 4}
    with session_scope(engine) as session:
        update_assessment(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version, data=first,
        )  # fmt: skip
    with pytest.raises(Conflict) as caught, session_scope(engine) as session:
        update_assessment(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version, data=second,
        )  # fmt: skip
    assert "changed by someone else" in caught.value.message
    with Session(engine) as session:
        assessment = session.get(Assessment, case_id)
        assert assessment is not None
        assert (assessment.l, assessment.p) == (5, 0)  # the first edit kept, the second not applied
        score = session.get(CaseScore, case_id)
        assert score is not None
        assert score.priority == pytest.approx(36.0)
        assert score.score_version == 2
        assert session.get(Case, case_id).version == version + 1  # type: ignore[union-attr]


def test_update_facts_moves_board_row_and_audits_changed_fields(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    with session_scope(engine) as session:
        case = submit_asset_request(session=session, actor=org.users["bcu_a"], data=request_data())
        case_id, version = case.id, case.version
    assert case_id is not None
    facts = {k: v for k, v in request_data().items() if k not in ("assessment",)}
    facts.update(theme_id=org.theme2.id, opportunity_deadline="2027-01-31")
    with session_scope(engine) as session:
        update_facts(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version, data=facts,
        )  # fmt: skip
    with Session(engine) as session:
        score = session.get(CaseScore, case_id)
        assert score is not None
        assert score.theme_id == org.theme2.id
        assert score.bk_deadline.isoformat() == "2027-01-31"
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "case.update")).one()
        assert "theme_id" in event.detail
        assert "opportunity_deadline" in event.detail
