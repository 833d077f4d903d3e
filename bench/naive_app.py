"""Benchmark only: the naive way to rescore, one Celery task per case. Never used by the service.

Started by bench/bench_rescore.py as `celery -A bench.naive_app worker`: the
project's Celery app (its configuration and every `workers` task) plus one
task that rescores a single case the way a request is scored inline, with
the ORM and the per-case service `score_case`, in a transaction of its own.
"""

from __future__ import annotations

from tasking.db import session_scope
from tasking.models import Assessment, Case
from tasking.services.scores import score_case
from workers import app
from workers.tasks import engine

NAIVE_TASK = "bench.naive_rescore_case"


@app.task(name=NAIVE_TASK, acks_late=True, ignore_result=True)
def naive_rescore_case(case_id: int) -> None:
    """Rescore one case now (the per-case baseline the chunked run is compared with)."""
    with session_scope(engine()) as session:
        case = session.get(Case, case_id)
        assessment = session.get(Assessment, case_id)
        if case is None or assessment is None:
            return
        score_case(session=session, case=case, assessment=assessment, reason="naive")


__all__ = ["NAIVE_TASK", "app", "naive_rescore_case"]
