"""Disposal: content erased everywhere, a tombstone and the audit trail kept, the erasure logged.

On SQLite the erased text is also gone from the database file and its
write-ahead log (secure_delete, then a checkpoint).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from tasking.db import session_scope
from tasking.models import (
    Assessment,
    AuditEvent,
    Case,
    CaseScore,
    Decision,
    InfoRequest,
    IntelEntry,
    RecordReview,
    utcnow,
)
from tasking.services.disposal import TOMBSTONE_TITLE, dispose
from tasking.services.errors import Forbidden, Invalid, NotFound
from tasking.services.questions import answer_information_request, request_information
from tasking.services.workflow import log_intelligence
from tests.tasking.conftest import Org
from tests.tasking.flow import RequestData, decide, moderate, move, submit, version_of


def _full_case(engine: Engine, org: Org, request_data: RequestData, marker: str) -> int:
    """A request with the marker in every free-text field a case can hold."""
    with session_scope(engine) as session:
        from tasking.services.cases import submit_asset_request

        data = request_data(
            assessment={"rationale": f"rationale {marker}"},
            title=f"title {marker}",
            justification=f"justification {marker}",
        )
        case = submit_asset_request(session=session, actor=org.users["bcu_a"], data=data)
        case_id = case.id
    assert case_id is not None
    move(engine, org, case_id, "triage")
    with session_scope(engine) as session:
        request_information(
            session=session, actor=org.users["coordinator"], case_id=case_id,
            expected_version=version_of(engine, case_id), data={"question": f"q {marker}"},
        )  # fmt: skip
    with session_scope(engine) as session:
        answer_information_request(
            session=session, actor=org.users["bcu_a"], case_id=case_id,
            expected_version=version_of(engine, case_id), data={"answer": f"a {marker}"},
        )  # fmt: skip
    with session_scope(engine) as session:
        log_intelligence(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id),
            data={"source_grade": 1, "info_grade": "B", "handling": "P",
                  "summary": f"intel {marker}", "received_at": utcnow().isoformat()},
        )  # fmt: skip
    move(engine, org, case_id, "scoring", "moderation")
    moderate(engine, org, case_id)
    move(engine, org, case_id, "awaiting_meeting")
    decide(
        engine, org, case_id, information=f"info {marker}", dissent=f"dissent {marker}",
        assets=[{"asset_id": org.surveillance.id, "hours": 40}],
    )  # fmt: skip
    return case_id


def _dispose(engine: Engine, org: Org, case_id: int, who: str = "coordinator") -> None:
    with session_scope(engine) as session:
        dispose(
            session=session, actor=org.users[who], case_id=case_id,
            data={"reason": "Retention period over"},
        )  # fmt: skip


def test_u4_disposal_erases_content_keeps_a_tombstone_and_logs_the_erasure(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    marker = f"MARK{uuid.uuid4().hex}"
    case_id = _full_case(engine, org, request_data, marker)
    with Session(engine) as session:
        before = session.get(CaseScore, case_id)
        assert before is not None
        reference, priority = _case_ref(session, case_id), before.priority
        outcome = session.exec(select(Decision).where(Decision.case_id == case_id)).one().outcome
    _dispose(engine, org, case_id)
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.reference, case.title, case.summary, case.justification) == (
            reference, TOMBSTONE_TITLE, "", ""
        )  # fmt: skip
        assert case.state == "closed"
        score = session.get(CaseScore, case_id)
        assert score is not None
        assert score.priority == priority
        assert not score.on_board
        decision = session.exec(select(Decision).where(Decision.case_id == case_id)).one()
        assert decision.outcome == outcome
        assert (decision.information, decision.dissent, decision.action) == ("", "", "")
        assert (
            session.exec(select(IntelEntry).where(IntelEntry.case_id == case_id)).one().summary
            == ""
        )
        question = session.exec(select(InfoRequest).where(InfoRequest.case_id == case_id)).one()
        assert (question.question, question.answer) == ("", None)
        assert session.get(Assessment, case_id).rationale == ""  # type: ignore[union-attr]
        # Nothing anywhere in the case's rows still holds the marker.
        for model in (Case, Decision, IntelEntry, InfoRequest, Assessment):
            for row in session.exec(select(model)).all():
                assert marker not in json.dumps(row.model_dump(), default=str), model
        events = session.exec(select(AuditEvent).where(AuditEvent.entity_id == case_id)).all()
        erasure = [e for e in events if e.category == "erasure"]
        assert [e.action for e in erasure] == ["record.dispose"]
        assert erasure[0].reason == "Retention period over"
        assert marker not in erasure[0].detail
        assert len(events) > 5  # the trail of the case's life is kept
        review = session.exec(select(RecordReview)).one()
        assert (review.decision, review.case_id) == ("dispose", case_id)
    with pytest.raises(NotFound):
        _dispose(engine, org, case_id)  # once only


def _case_ref(session: Session, case_id: int) -> str:
    case = session.get(Case, case_id)
    assert case is not None
    return case.reference


def test_only_the_coordinator_disposes_and_a_reason_is_needed(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    for who in ("auditor", "admin", "chair", "bcu_a"):
        with pytest.raises(Forbidden):
            _dispose(engine, org, case_id, who)
    with session_scope(engine) as session, pytest.raises(Invalid) as bad:
        dispose(session=session, actor=org.users["coordinator"], case_id=case_id,
                data={"reason": ""})  # fmt: skip
    assert set(bad.value.fields) == {"reason"}
    with Session(engine) as session:
        assert session.get(Case, case_id).title != TOMBSTONE_TITLE  # type: ignore[union-attr]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the file is SQLite's
def test_erased_text_is_gone_from_the_sqlite_file_and_its_wal(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    assert engine.dialect.name == "sqlite"
    marker = f"ERASEME{uuid.uuid4().hex}"
    case_id = _full_case(engine, org, request_data, marker)
    path = Path(str(engine.url.database))
    wal = Path(f"{path}-wal")

    def held() -> bool:
        data = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        return marker.encode() in data

    assert held()  # the marker really is written before disposal
    _dispose(engine, org, case_id)
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    assert not held()
