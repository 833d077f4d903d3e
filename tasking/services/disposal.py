"""Disposing of a case (DPA 2018 s.39): erase its content, keep a tombstone and the audit trail.

Erased: the case's title, codename, summary, justification and outcome text;
every intelligence summary; every question and answer; the assessment's
rationale and moderation note; every free-text heading of its decisions; the
stored first answers of API submissions that created it; the reasons of its
links to other cases. Kept (the tombstone): the reference, kind, theme,
marking, state, dates, its links (without their reasons), the MoRiLE inputs and score
with its history, each decision's outcome, the score it saw, assets and hours,
and the audit trail. The disposal is itself logged (category "erasure") naming
the kinds of field erased, never their content.

On SQLite, `secure_delete` (tasking.db) zeroes the space the old text
occupied; the old page images in the write-ahead log are overwritten when the
log is checkpointed (the test checkpoints and reads both files).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from tasking.models import (
    OPEN_STATES,
    Assessment,
    Case,
    Decision,
    IdempotencyKey,
    InfoRequest,
    IntelEntry,
    RecordReview,
    State,
    User,
    utcnow,
)
from tasking.services.audit import record_event
from tasking.services.links import erase_link_reasons
from tasking.services.records import DisposeIn, check_reviewer, due_list_of, reviewable
from tasking.services.schemas import validate
from tasking.services.scores import sync_board_row

TOMBSTONE_TITLE = "Disposed record"
DECISION_TEXT = (
    "information", "threat_risk", "powers_policy", "options", "action", "variation_rationale",
    "asset_type_reason", "decline_reason", "conditions", "dissent",
)  # fmt: skip


def dispose(*, session: Session, actor: User, case_id: int, data: Any) -> RecordReview:
    """Erase a case's personal and free-text content and record the decision; returns it."""
    check_reviewer(actor)
    dispose_in = validate(DisposeIn, data)
    case = reviewable(session, actor, case_id)
    due = due_list_of(case)
    now = utcnow()
    erased: dict[str, int] = {}
    case.title = TOMBSTONE_TITLE
    case.codename = None
    case.summary = ""
    case.justification = ""
    case.outcome = None
    case.next_review = None
    case.retain_until = None
    if case.state in OPEN_STATES or case.state == State.DRAFT:
        case.state = State.CLOSED.value  # off the board: nothing is left to work on
        case.closed_at = now
    case.version += 1  # an edit form still open on the case is now stale
    case.updated_at = now
    session.add(case)
    erased["case"] = 1
    erased["intelligence"] = _blank(session, IntelEntry, case_id, summary="")
    erased["questions"] = _blank(session, InfoRequest, case_id, question="", answer=None)
    erased["decisions"] = _blank(session, Decision, case_id, **dict.fromkeys(DECISION_TEXT, ""))
    erased["assessment"] = _blank(session, Assessment, case_id, rationale="", moderation_note="")
    erased["api_answers"] = _blank(session, IdempotencyKey, case_id, response="")
    erased["link_reasons"] = erase_link_reasons(session, case_id)
    session.flush()
    sync_board_row(session=session, case=case)
    review = RecordReview(
        case_id=case_id, due=due, decision="dispose", reason=dispose_in.reason,
        reviewer_id=int(actor.id or 0),
    )  # fmt: skip
    session.add(review)
    session.flush()
    record_event(
        session=session, actor=actor, category="erasure", action="record.dispose",
        entity_type="case", entity_id=case_id, reason=dispose_in.reason,
        detail={"list": due, "erased": erased},
    )  # fmt: skip
    session.flush()
    # Rows loaded in this session must not keep the old text in memory for a later read.
    for row in list(session.identity_map.values()):
        if isinstance(row, (IntelEntry, InfoRequest, Decision, Assessment, IdempotencyKey)):
            session.expire(row)
    return review


def _blank(session: Session, model: Any, case_id: int, **values: Any) -> int:
    """Overwrite the text columns of a case's rows in one statement; returns the row count."""
    result = session.connection().execute(
        update(model).where(col(model.case_id) == case_id).values(**values)
    )
    return int(result.rowcount or 0)


def is_tombstone(session: Session, case: Case) -> bool:
    """True when the case was disposed of (only its reference, score and outcomes are left)."""
    found = session.exec(
        select(RecordReview.id).where(
            RecordReview.case_id == case.id, RecordReview.decision == "dispose"
        )
    ).first()
    return found is not None
