"""Handling markings of cases: set or raise with a reason; lowering needs the chair.

The marking is need-to-know, not decoration: a user sees no case marked above
their clearance (tasking.services.access.case_scope).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from tasking.models import Case, Marking, Role, User
from tasking.services.access import may_see_marking
from tasking.services.cases import open_edit, record_case_event
from tasking.services.errors import Forbidden, Invalid
from tasking.services.schemas import MarkingIn


def set_marking(
    *, session: Session, actor: User, case_id: int, expected_version: int, data: Any
) -> Case:
    """Set or raise a case's handling marking with a reason; lowering one needs the chair."""
    marking_in, case = open_edit(
        session=session,
        actor=actor,
        permission="case.mark",
        schema=MarkingIn,
        data=data,
        case_id=case_id,
        expected_version=expected_version,
    )
    before = Marking(case.marking)
    if marking_in.marking.level < before.level and actor.role != Role.CHAIR:
        raise Forbidden("lowering a case's marking needs the tasking chair")
    if not may_see_marking(actor, marking_in.marking.value):
        raise Invalid(
            "marking: above your clearance (you could no longer see the case)",
            fields={"marking": "above your clearance"},
        )
    case.marking = marking_in.marking.value
    session.add(case)
    record_case_event(
        session,
        actor,
        case,
        "alteration",
        "case.mark",
        reason=marking_in.reason,
        detail={"from": before.value, "to": case.marking},
    )
    session.flush()
    return case
