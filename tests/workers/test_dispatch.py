"""Tasks are sent only after the commit that makes them visible (tasking/dispatch.py, the outbox).

A real Redis is the broker; no worker runs: the tests read the messages left in its queue.
"""

from __future__ import annotations

import base64
import json

import pytest
import redis
from sqlalchemy import Engine
from sqlmodel import Session, select

from tasking import dispatch
from tasking.db import session_scope, writer
from tasking.models import TaskOutbox, Unit, UnitKind
from tasking.services import outbox
from tests.support import free_port
from tests.support.redis import ThrowawayRedis


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
