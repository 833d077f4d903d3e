"""Markings are need-to-know: a BCU requester cannot lower (or set) one (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from tasking.db import session_scope
from tasking.models import Case
from tasking.services.errors import Forbidden
from tasking.services.markings import set_marking
from tests.tasking.conftest import Org
from tests.tasking.flow import RequestData, submit, version_of


def _marking(engine: Engine, case_id: int) -> str:
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.marking


@pytest.mark.parametrize("who", ["bcu_a", "analyst"])
def test_u5_only_the_chair_lowers_a_marking(
    engine: Engine, org: Org, request_data: RequestData, who: str
) -> None:
    case_id, _ = submit(engine, org, request_data)
    lower = {"marking": "OFFICIAL", "reason": "Nothing sensitive left"}
    with session_scope(engine) as session, pytest.raises(Forbidden):
        set_marking(
            session=session, actor=org.users[who], case_id=case_id,
            expected_version=version_of(engine, case_id), data=lower,
        )  # fmt: skip
    assert _marking(engine, case_id) == "OFFICIAL-SENSITIVE"
    with session_scope(engine) as session:
        set_marking(
            session=session, actor=org.users["chair"], case_id=case_id,
            expected_version=version_of(engine, case_id), data=lower,
        )  # fmt: skip
    assert _marking(engine, case_id) == "OFFICIAL"


def test_u5_a_bcu_requester_cannot_mark_their_own_request_at_all(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    with session_scope(engine) as session, pytest.raises(Forbidden):
        set_marking(
            session=session, actor=org.users["bcu_a"], case_id=case_id,
            expected_version=version_of(engine, case_id),
            data={"marking": "SECRET", "reason": "Raising it"},
        )  # fmt: skip
    assert _marking(engine, case_id) == "OFFICIAL-SENSITIVE"
