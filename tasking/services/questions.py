"""Questions to the requesting BCU: `triage` -> `information_requested` -> `triage`."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from tasking.models import CaseKind, InfoRequest, State, User, pk, utcnow
from tasking.services.cases import get_case, open_edit, record_case_event
from tasking.services.errors import Conflict
from tasking.services.schemas import AnswerIn, QuestionIn
from tasking.services.scores import sync_board_row

S = State


def request_information(
    *, session: Session, actor: User, case_id: int, expected_version: int, data: Any
) -> InfoRequest:
    """A coordinator asks the requesting BCU for more: `triage` -> `information_requested`."""
    question_in, case = open_edit(
        session=session,
        actor=actor,
        permission="info.request",
        schema=QuestionIn,
        data=data,
        case_id=case_id,
        expected_version=expected_version,
    )
    if case.kind != CaseKind.REQUEST or case.state != S.TRIAGE:
        raise Conflict(
            f"{case.reference} is not a BCU request in triage", fields={"state": case.state}
        )
    asked = InfoRequest(case_id=pk(case), question=question_in.question, asked_by_id=pk(actor))
    session.add(asked)
    case.state = S.INFORMATION_REQUESTED.value
    session.add(case)
    sync_board_row(session=session, case=case)
    session.flush()
    record_case_event(
        session,
        actor,
        case,
        "alteration",
        "case.transition",
        reason="more information requested from the BCU",
        detail={"from": S.TRIAGE.value, "to": case.state, "info_request": asked.id},
    )
    return asked


def answer_information_request(
    *, session: Session, actor: User, case_id: int, expected_version: int, data: Any
) -> InfoRequest:
    """The requesting BCU answers the open question; the request returns to `triage`."""
    answer_in, case = open_edit(
        session=session,
        actor=actor,
        permission="info.answer",
        schema=AnswerIn,
        data=data,
        case_id=case_id,
        expected_version=expected_version,
    )
    asked = session.exec(
        select(InfoRequest).where(
            InfoRequest.case_id == case.id, col(InfoRequest.answered_at).is_(None)
        )
    ).first()
    if case.state != S.INFORMATION_REQUESTED or asked is None:
        raise Conflict(f"{case.reference} has no open question", fields={"state": case.state})
    asked.answer, asked.answered_by_id, asked.answered_at = answer_in.answer, actor.id, utcnow()
    session.add(asked)
    case.state = S.TRIAGE.value
    session.add(case)
    sync_board_row(session=session, case=case)
    record_case_event(
        session,
        actor,
        case,
        "collection",
        "case.transition",
        reason="the BCU answered the request",
        detail={"from": S.INFORMATION_REQUESTED.value, "to": case.state, "info_request": asked.id},
    )
    session.flush()
    return asked


def information_requests(*, session: Session, actor: User, case_id: int) -> list[InfoRequest]:
    """The questions asked about a case the actor may see, and the answers, oldest first."""
    case = get_case(session=session, actor=actor, case_id=case_id, log_view=False)
    return list(
        session.exec(
            select(InfoRequest).where(InfoRequest.case_id == case.id).order_by(col(InfoRequest.id))
        ).all()
    )
