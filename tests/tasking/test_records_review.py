"""Review dates from the schedule, the due lists, and keep decisions (both databases)."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from config.workflow import WORKFLOW_FILE, WorkflowConfigError, load_workflow, parse_workflow
from tasking.db import session_scope
from tasking.models import AuditEvent, Case, RecordReview, utcnow
from tasking.services.errors import Forbidden, Invalid, NotFound
from tasking.services.records import due_lists, keep, reviews_due
from tests.tasking.conftest import Org
from tests.tasking.flow import RequestData, decide, moderate, move, submit, version_of


def _case(engine: Engine, case_id: int) -> Case:
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def _set_review(engine: Engine, case_id: int, days: int | None) -> None:
    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.next_review = None if days is None else utcnow().date() + timedelta(days=days)
        session.add(case)


def test_u4_a_case_gets_its_review_date_from_the_schedule_as_it_enters_each_state(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    today = utcnow().date()
    schedule = load_workflow().review_days["request"]
    case_id, _ = submit(engine, org, request_data)
    assert _case(engine, case_id).next_review == today + timedelta(days=schedule["submitted"])
    move(engine, org, case_id, "triage", "scoring")
    assert _case(engine, case_id).next_review == today + timedelta(days=schedule["scoring"])
    move(engine, org, case_id, "moderation")
    moderate(engine, org, case_id)
    # A case without a pending review gets the new state's scheduled date...
    _set_review(engine, case_id, None)
    move(engine, org, case_id, "awaiting_meeting")
    assert _case(engine, case_id).next_review == today + timedelta(
        days=schedule["awaiting_meeting"]
    )
    # ...but moving on never puts off a review already pending (or overdue).
    _set_review(engine, case_id, -2)
    move(engine, org, case_id, "scoring")
    assert _case(engine, case_id).next_review == today - timedelta(days=2)
    move(engine, org, case_id, "moderation")
    moderate(engine, org, case_id)
    move(engine, org, case_id, "awaiting_meeting")
    # A decision's own review date wins over the schedule.
    given = today + timedelta(days=40)
    decision = decide(
        engine, org, case_id, assets=[{"asset_id": org.surveillance.id, "hours": 8}],
        next_review=given.isoformat(),
    )  # fmt: skip
    assert _case(engine, case_id).next_review == decision.next_review
    assert decision.next_review == given


def test_a_review_date_given_with_a_new_case_is_kept(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    given = utcnow().date() + timedelta(days=3)
    with session_scope(engine) as session:
        from tasking.services.cases import submit_asset_request

        case = submit_asset_request(
            session=session,
            actor=org.users["bcu_a"],
            data=request_data(next_review=given.isoformat()),
        )
        case_id = case.id
    assert case_id is not None
    assert _case(engine, case_id).next_review == given


def test_the_schedule_is_validated_naming_the_problem() -> None:
    data = tomllib.loads(Path(WORKFLOW_FILE).read_text("utf-8"))
    del data["review_days"]["request"]["active"]
    with pytest.raises(WorkflowConfigError, match=r"review_days\.request needs exactly"):
        parse_workflow(data)
    data = tomllib.loads(Path(WORKFLOW_FILE).read_text("utf-8"))
    data["review_days"]["operation"]["triage"] = 0
    with pytest.raises(WorkflowConfigError, match=r"review_days\.operation\.triage"):
        parse_workflow(data)


def test_due_and_overdue_reviews_are_listed_with_need_to_know(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    overdue, _ = submit(engine, org, request_data)
    soon, _ = submit(engine, org, request_data)
    later, _ = submit(engine, org, request_data)
    secret, _ = submit(engine, org, request_data)
    _set_review(engine, overdue, -3)
    _set_review(engine, soon, 2)
    _set_review(engine, later, 60)
    _set_review(engine, secret, -1)
    with session_scope(engine) as session:
        row = session.get(Case, secret)
        assert row is not None
        row.marking = "SECRET"
        session.add(row)
    with Session(engine) as session:
        coordinator = [c.id for c in reviews_due(session=session, actor=org.users["coordinator"])]
        assert coordinator == [overdue, secret, soon]
        # The auditor (OFFICIAL-SENSITIVE) reads the lists but not above their clearance.
        lists = due_lists(session=session, actor=org.users["auditor"])
        assert [c.id for c in lists.reviews] == [overdue, soon]
        with pytest.raises(Forbidden):
            reviews_due(session=session, actor=org.users["bcu_a"])


def test_keep_records_reason_and_next_date_and_is_audited(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    _set_review(engine, case_id, -5)
    next_date = utcnow().date() + timedelta(days=30)
    with session_scope(engine) as session:
        keep(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            data={"reason": "Operation still live", "next_review": next_date.isoformat()},
        )  # fmt: skip
    assert _case(engine, case_id).next_review == next_date
    with Session(engine) as session:
        review = session.exec(select(RecordReview)).one()
        assert (review.decision, review.due, review.reason) == (
            "keep", "review", "Operation still live"
        )  # fmt: skip
        assert review.next_review == next_date
        assert review.reviewer_id == org.users["coordinator"].id
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "record.keep")).one()
        assert event.entity_id == case_id
        assert event.reason == "Operation still live"
        assert reviews_due(session=session, actor=org.users["coordinator"]) == []


def test_keep_names_each_bad_field_and_refuses_readers(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    with session_scope(engine) as session:
        with pytest.raises(Invalid) as bad:
            keep(session=session, actor=org.users["coordinator"], case_id=case_id,
                 data={"reason": "", "next_review": "not a date"})  # fmt: skip
        assert set(bad.value.fields) == {"reason", "next_review"}
        today = utcnow().date().isoformat()
        with pytest.raises(Invalid) as past:
            keep(session=session, actor=org.users["coordinator"], case_id=case_id,
                 data={"reason": "Still needed", "next_review": today})  # fmt: skip
        assert set(past.value.fields) == {"next_review"}
        good = {
            "reason": "Still needed",
            "next_review": (utcnow().date() + timedelta(days=90)).isoformat(),
        }
        with pytest.raises(Forbidden):
            keep(session=session, actor=org.users["auditor"], case_id=case_id, data=good)
        with pytest.raises(Forbidden):
            keep(session=session, actor=org.users["bcu_a"], case_id=case_id, data=good)
        with pytest.raises(NotFound):
            keep(session=session, actor=org.users["coordinator"], case_id=10**6, data=good)
    with Session(engine) as session:
        assert session.exec(select(RecordReview)).all() == []
    assert version_of(engine, case_id) >= 1
