"""The retry waits of the tasks: doubling, jittered, capped (workers/tasks.py backoff)."""

from __future__ import annotations

import pytest

from config.settings import Settings
from workers import tasks


@pytest.fixture
def backoff_s(monkeypatch: pytest.MonkeyPatch) -> float:
    """TASKING_RETRY_BACKOFF_S as the tasks read it: 0.05 s, as the fault tests use."""
    monkeypatch.setattr(tasks, "settings", lambda: Settings(retry_backoff_s=0.05))
    return 0.05


@pytest.mark.parametrize("retries", range(tasks.MAX_RETRIES))
def test_each_wait_is_in_the_upper_half_of_the_doubling(backoff_s: float, retries: int) -> None:
    ceiling = backoff_s * 2**retries
    waits = [tasks.backoff(retries) for _ in range(200)]
    assert all(ceiling / 2 - 0.001 <= wait <= ceiling + 0.001 for wait in waits)


def test_chunks_failing_together_do_not_retry_together(backoff_s: float) -> None:
    """Twenty chunks blocked on one lock: their first retries are spread, not in lockstep."""
    waits = [tasks.backoff(0) for _ in range(20)]
    assert len(set(waits)) > 10
    assert max(waits) - min(waits) > backoff_s / 4


def test_the_wait_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "settings", lambda: Settings(retry_backoff_s=100.0))
    assert tasks.backoff(2) <= 400.0
    assert all(tasks.backoff(10) <= tasks.RETRY_BACKOFF_MAX_S for _ in range(50))
    assert all(tasks.backoff(10) >= tasks.RETRY_BACKOFF_MAX_S / 2 for _ in range(50))


NAMES = ("scoring.rescore_queue", "scoring.rescore_chunk", "scoring.nightly_run",
         "scoring.sweep_runs", "tasking.send_outbox", "scoring.whatif_preview")  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_the_tasks_keep_five_retries(name: str) -> None:
    assert tasks.rescore_chunk.app.tasks[name].max_retries == 5
