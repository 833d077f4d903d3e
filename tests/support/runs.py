"""Test shortcut: a scoring run taken from start to finish through the run services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from tasking.models import ScoringRun
from tasking.services.runs import chunk_ids, finish_if_complete, run_chunk, start_run


def completed_run(engine: Engine, **start: Any) -> ScoringRun:
    """Start a run, do every chunk and finish it; the completed run row."""
    run = start_run(engine=engine, **start)
    assert run is not None
    assert run.id is not None
    for chunk in chunk_ids(engine=engine, run_id=run.id):
        run_chunk(engine=engine, chunk_id=chunk)
    assert finish_if_complete(engine=engine, run_id=run.id)
    with Session(engine) as session:
        done = session.get(ScoringRun, run.id)
        assert done is not None
        assert done.status == "completed"
        return done
