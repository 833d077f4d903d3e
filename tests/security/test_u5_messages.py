"""U5: Celery messages carry ids and short codes only, never free text or personal data.

What is sent is read where it is sent (tasking/dispatch.py, the outbox rows); every task
the workers run is checked for what it takes, so a task added later that takes text
fails here until its parameters are reviewed.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pytest
from sqlmodel import Session, select

from config.celery_config import celery_settings
from config.settings import Settings
from tasking import dispatch
from tasking.models import TaskOutbox
from tasking.services.outbox import add_task
from tests.security.conftest import FreshApp
from tests.security.routes import action, body, collected_routes, legit_path
from tests.security.world import World

ROUTES = collected_routes()
# A message argument: an id, or a short code / date / JSON filter of ids and codes.
SHORT = re.compile(r'^[A-Za-z0-9_ .:{}",-]{0,60}$')
# Every parameter a worker task may take, and why it is not free text.
TASK_PARAMETERS = {
    "chunk_id": "an id",
    "model_version_id": "an id",
    "run_date": "a date (YYYY-MM-DD)",
    "board_filter": "'all' or a JSON object of board filters (ids and codes)",
    "reason": "a short code naming why a run started (cut to 60 characters by the task)",
    "kind": "a run kind code",
}


def _short(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and bool(SHORT.match(value)))


def _no_world_text(world: World, value: Any) -> bool:
    texts = [t for title in world.titles.values() for t in (title, title.rsplit(" ", 1)[-1])]
    return not any(t in str(value) for t in texts)


def test_u5_the_outbox_refuses_a_free_text_argument(world: World) -> None:
    with Session(world.engine) as session:
        with pytest.raises(ValueError, match="ids and short codes"):
            add_task(session=session, task_name="scoring.rescore_queue", args=["x" * 61])
        session.rollback()


def test_u5_every_worker_task_takes_ids_and_short_codes_only() -> None:
    from workers import tasks as worker_tasks

    found = {
        obj.name: obj
        for obj in vars(worker_tasks).values()
        if str(getattr(obj, "name", "")).startswith(("scoring.", "tasking."))
    }
    assert found, "no worker task found"
    for name, task in found.items():
        run = getattr(task, "run", task)
        params = [p for p in inspect.signature(run).parameters if p != "self"]
        unknown = [p for p in params if p not in TASK_PARAMETERS]
        assert unknown == [], (
            f"task {name} takes {unknown}: a message argument must be an id or a short code"
            " (U5). Review it and add it to TASK_PARAMETERS in tests/security/test_u5_messages.py"
            " saying why it is not free text."
        )


def test_u5_the_beat_sends_no_arguments(tmp_path: Any) -> None:
    schedule = celery_settings(Settings(instance_path=tmp_path), "redis://127.0.0.1:9/0")
    for name, entry in schedule["beat_schedule"].items():
        args = [*entry.get("args", ()), *entry.get("kwargs", {}).values()]
        assert all(_short(a) for a in args), (name, args)


def test_u5_messages_sent_from_the_pages_carry_ids_and_short_codes(
    fresh_app: FreshApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every registered write is made (the routes that queue work among them); each
    message as sent, and each outbox row, holds ids and short codes only."""
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def record(task_name: str, *args: int | str, task_id: str | None = None) -> None:
        sent.append((task_name, args))

    monkeypatch.setattr(dispatch, "send", record)
    caller, engine = fresh_app()
    for route in ROUTES:
        if not route.writes or route.endpoint in ("auth.logout", "auth.login"):
            continue
        found = action(route)
        path, data = legit_path(caller.world, route), body(caller.world, route)
        response = caller.call(route, found.user, path, data)
        assert response.status_code < 500, route.key
    # The control: publishing a model and asking for its what-if queue work today.
    assert {"scoring.whatif_preview", "scoring.rescore_queue"} <= {n for n, _a in sent}
    with Session(engine) as session:
        rows = session.exec(select(TaskOutbox)).all()
    assert rows
    messages = [*sent, *((row.task_name, tuple(json.loads(row.args))) for row in rows)]
    for name, args in messages:
        assert all(_short(a) for a in args), (name, args)
        assert all(_no_world_text(caller.world, a) for a in args), (name, args)
