"""What-if previews write no score; tasks are sent only after the commit that makes them visible."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy import Engine
from sqlmodel import Session, select

import scoring
from tasking import dispatch
from tasking.db import session_scope, writer
from tasking.models import CaseScore, TaskOutbox, Unit, UnitKind
from tasking.services import outbox
from tasking.services.cases import submit_asset_request
from tasking.services.scores import store_model_text
from tasking.services.whatif import run_whatif
from tests.support import free_port
from tests.support.redis import ThrowawayRedis
from tests.tasking.conftest import Org

RequestData = Callable[..., dict[str, Any]]
# Likelihood weighs double in effect: doubling every harm weight doubles priority.
DOUBLED = (
    scoring.model.DEFAULT_MODEL_PATH.read_text("utf-8")
    .replace("version = 1", "version = 7")
    .replace("P = 1.0 ", "P = 2.0 ")
    .replace("Ps = 1.0 ", "Ps = 2.0 ")
    .replace("F = 1.0 ", "F = 2.0 ")
    .replace("C = 1.0 ", "C = 2.0 ")
)


def test_whatif_preview_counts_moves_and_writes_no_score(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    with session_scope(engine) as session:
        for likelihood in (1, 2, 3, 4, 5):  # priorities 7.2, 14.4, 21.6, 28.8, 36.0: all P3
            submit_asset_request(
                session=session,
                actor=org.users["bcu_a"],
                data=request_data(assessment={"L": likelihood}),
            )
        version_id = store_model_text(session=session, content=DOUBLED).id
    with Session(engine) as session:
        before = [
            (s.case_id, s.priority, s.score_version) for s in session.exec(select(CaseScore)).all()
        ]
    assert version_id is not None
    run = run_whatif(engine=engine, model_version_id=version_id)
    summary = json.loads(run.summary)
    assert summary["model"] == "sctac-default:7"
    assert summary["bands_before"] == {"P0": 0, "P1": 0, "P2": 0, "P3": 5}
    # doubled: 14.4, 28.8, 43.2, 57.6, 72.0 -> two cases reach P2
    assert summary["bands_after"] == {"P0": 0, "P1": 0, "P2": 2, "P3": 3}
    assert summary["transitions"] == {"P3->P2": 2}
    assert summary["biggest_moves"] == []  # doubling keeps the order
    with Session(engine) as session:
        after = [
            (s.case_id, s.priority, s.score_version) for s in session.exec(select(CaseScore)).all()
        ]
    assert after == before


@pytest.fixture
def broker(redis_server: ThrowawayRedis, monkeypatch: pytest.MonkeyPatch) -> redis.Redis:
    """A real Redis as the broker for messages sent by the service layer."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    client = redis_server.client()
    client.flushdb()
    return client


def add_then_fail(engine: Engine) -> None:
    """Queue a task in a transaction that then fails (and so rolls back)."""
    with session_scope(engine) as session:
        session.add(Unit(code="BCU-R", name="Romeo BCU", kind=UnitKind.BCU.value))
        dispatch.enqueue_after_commit(session, "scoring.rescore_queue", "all", "never", "model")
        raise RuntimeError("roll back")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_enqueue_after_commit_sends_on_commit_only(engine: Engine, broker: redis.Redis) -> None:
    with session_scope(engine) as session:
        session.add(Unit(code="BCU-Q", name="Quebec BCU", kind=UnitKind.BCU.value))
        dispatch.enqueue_after_commit(
            session, "scoring.rescore_queue", "all", "model published", "model"
        )
        assert broker.llen("scoring") == 0  # nothing before the commit
    assert broker.llen("scoring") == 1
    message = json.loads(broker.lindex("scoring", 0))  # type: ignore[arg-type]
    assert message["headers"]["task"] == "scoring.rescore_queue"
    assert json.loads(base64.b64decode(message["body"]))[0] == ["all", "model published", "model"]
    with pytest.raises(RuntimeError):
        add_then_fail(engine)
    assert broker.llen("scoring") == 1  # the rolled-back transaction sent nothing


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_rolled_back_enqueue_sends_nothing_on_the_sessions_next_commit(
    engine: Engine, broker: redis.Redis
) -> None:
    """Issue 11: the task of a rolled-back change must not ride on a later, unrelated commit."""
    with Session(writer(engine)) as session:
        session.add(Unit(code="BCU-R", name="Romeo BCU", kind=UnitKind.BCU.value))
        dispatch.enqueue_after_commit(session, "scoring.rescore_queue", "all", "never", "model")
        session.rollback()
        session.add(Unit(code="BCU-S", name="Sierra BCU", kind=UnitKind.BCU.value))
        session.commit()
    assert broker.llen("scoring") == 0
    with Session(engine) as session:
        assert session.exec(select(TaskOutbox)).all() == []
        assert [u.code for u in session.exec(select(Unit)).all()] == ["BCU-S"]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_outbox_keeps_what_the_broker_did_not_take_and_sends_it_once(
    engine: Engine, broker: redis.Redis, redis_server: ThrowawayRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Broker down at commit: the change and its task are both kept; the beat's send later."""
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    with session_scope(engine) as session:
        session.add(Unit(code="BCU-Q", name="Quebec BCU", kind=UnitKind.BCU.value))
        row = dispatch.enqueue_after_commit(
            session, "scoring.rescore_queue", "all", "model published", "model"
        )
    (kept,) = outbox.unsent(engine=engine)
    assert (kept.id, kept.attempts, kept.sent_at) == (row.id, 1, None)
    assert "OperationalError" in kept.last_error
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert dispatch.send_outbox(engine) == (1, 0)
    assert dispatch.send_outbox(engine) == (0, 0)  # sent once
    assert broker.llen("scoring") == 1
    message = json.loads(broker.lindex("scoring", 0))  # type: ignore[arg-type]
    assert message["headers"]["id"] == f"outbox-{row.id}"  # a re-send starts the work once
    assert json.loads(base64.b64decode(message["body"]))[0] == ["all", "model published", "model"]


def test_whatif_reads_submission_times_to_the_microsecond_on_sqlite() -> None:
    import sqlite3
    from datetime import UTC, datetime

    from tasking.services.whatif import _TIEBREAKS

    moment = datetime(2026, 12, 4, 17, 49, 10, 999605, tzinfo=UTC)  # in the last millisecond
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE s (bk_submitted TEXT)")
        conn.execute("INSERT INTO s VALUES (?)", (moment.strftime("%Y-%m-%d %H:%M:%S.%f"),))
        (seconds,) = conn.execute(f"SELECT {_TIEBREAKS['sqlite'][1]} FROM s").fetchone()
    assert seconds == pytest.approx(moment.timestamp(), abs=1e-6)
