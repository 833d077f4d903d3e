"""Sending work to the Celery workers, only once the transaction that makes it visible commits.

Tasks are sent by name through a small client app configured like the
workers, so the web app and the CLI never import the workers package.
Messages carry ids and short codes only: never free text or personal data.

`enqueue_after_commit` writes the task into the outbox (services/outbox.py)
in the caller's transaction, so the change and its task commit or roll back
together; the row is sent right after the commit, and a row that could not
be sent then (the broker was down) is sent by the beat (`send_outbox`). The
Celery task id is the row's, so a row sent twice starts its work once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from functools import cache
from typing import Any

from celery import Celery
from sqlalchemy import Engine, event
from sqlmodel import Session

from config.celery_config import celery_settings
from config.settings import load_settings
from tasking.broker import broker_url
from tasking.models import TaskOutbox
from tasking.services import outbox

log = logging.getLogger(__name__)
_PENDING = "tasking.outbox_pending"
_LISTENING = "tasking.outbox_listening"
# A client gives up on an unreachable broker after one more try (each bounded by the
# broker timeouts): the outbox keeps what it could not send.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


@cache
def _client(url: str) -> Celery:
    client = Celery("tasking-client", set_as_current=False)
    client.conf.update(celery_settings(load_settings(), url))
    client.conf.task_publish_retry_policy = PUBLISH_RETRY
    return client


def send(task_name: str, *args: int | str, task_id: str | None = None) -> None:
    """Send a task now (ids and short codes only); raises if the broker cannot take it."""
    _client(broker_url(load_settings())).send_task(task_name, args=list(args), task_id=task_id)


def send_row(engine: Engine, row: TaskOutbox) -> bool:
    """Send one outbox row and mark it sent; False (noted on the row) if the broker failed."""
    try:
        send(row.task_name, *json.loads(row.args), task_id=row.celery_task_id)
    except Exception as exc:  # any broker failure: the row stays for the beat
        log.warning("outbox %s (%s) not sent: %s", row.id, row.task_name, exc)
        outbox.mark_failed(engine=engine, row_id=row.id or 0, error=f"{type(exc).__name__}: {exc}")
        return False
    outbox.mark_sent(engine=engine, row_id=row.id or 0)
    return True


def send_outbox(engine: Engine, ids: Iterable[int] | None = None) -> tuple[int, int]:
    """Send unsent outbox rows (only `ids` when given); (sent, still unsent)."""
    sent = failed = 0
    for row in outbox.unsent(engine=engine, ids=ids):
        if send_row(engine, row):
            sent += 1
        else:
            failed += 1
    return sent, failed


def enqueue_after_commit(session: Session, task_name: str, *args: int | str) -> TaskOutbox:
    """Keep the task in the session's transaction; send it once that commits, never on rollback."""
    row = outbox.add_task(session=session, task_name=task_name, args=args)
    session.info.setdefault(_PENDING, []).append(row.id)
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)
    return row


def _after_commit(session: Session) -> None:
    ids: list[int] = session.info.pop(_PENDING, [])
    bind: Any = session.get_bind()
    if not ids or not isinstance(bind, Engine):
        return  # a session on an outer connection: the beat sends the rows once committed
    try:
        send_outbox(bind, ids)
    except Exception as exc:  # the commit stands; the beat sends what is left
        log.warning("outbox rows %s left for the beat: %s", ids, exc)


def _after_rollback(session: Session) -> None:
    # The rows went with the transaction; a later commit of this session must not send them.
    session.info.pop(_PENDING, None)
