"""Review and retention dates kept apart; stale drafts listed for deletion (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from tasking.db import session_scope
from tasking.models import Case, utcnow
from tasking.services.cases import submit_asset_request
from tasking.services.errors import Forbidden
from tasking.services.records import drafts_due_for_deletion, retention_due
from tasking.services.runs import _review_lists  # the nightly run's lists
from tasking.services.workflow import transition
from tests.tasking.conftest import Org
from tests.tasking.flow import RequestData, submit, version_of


def _draft(engine: Engine, org: Org, request_data: RequestData, days_ago: int) -> int:
    with session_scope(engine) as session:
        case = submit_asset_request(
            session=session, actor=org.users["bcu_a"], data=request_data(), draft=True,
            now=utcnow() - timedelta(days=days_ago),
        )  # fmt: skip
        session.flush()
        case.updated_at = utcnow() - timedelta(days=days_ago)  # untouched since
        session.add(case)
        assert case.id is not None
        return case.id


def _close(engine: Engine, org: Org, case_id: int, days_ago: int) -> None:
    with session_scope(engine) as session:
        transition(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version_of(engine, case_id), to_state="closed",
            reason="Withdrawn by the BCU", now=utcnow() - timedelta(days=days_ago),
        )  # fmt: skip


def test_drafts_older_than_configured_age_are_listed(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    stale = _draft(engine, org, request_data, days_ago=120)  # config: 90 days
    _draft(engine, org, request_data, days_ago=10)
    old_submitted, _ = submit(engine, org, request_data)
    with Session(engine) as session:
        listed = drafts_due_for_deletion(session=session, actor=org.users["coordinator"])
        assert [c.id for c in listed] == [stale]
        assert old_submitted not in [c.id for c in listed]
        with pytest.raises(Forbidden):
            drafts_due_for_deletion(session=session, actor=org.users["bcu_a"])


def test_closing_sets_retention_apart_from_review_and_nightly_lists_it_when_due(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    long_ago, _ = submit(engine, org, request_data)
    recent, _ = submit(engine, org, request_data)
    _close(engine, org, long_ago, days_ago=400)  # request, no decision: 1 year
    _close(engine, org, recent, days_ago=0)
    today = utcnow().date()
    with Session(engine) as session:
        closed = session.get(Case, recent)
        assert closed is not None
        assert closed.next_review is None
        assert closed.retain_until is not None
        assert closed.retain_until > today  # not due on the day it closes
        due = retention_due(session=session, actor=org.users["auditor"])
        assert [c.id for c in due] == [long_ago]
        lists = _review_lists(session.connection(), today)
        assert lists["retention_due"] == [long_ago]
