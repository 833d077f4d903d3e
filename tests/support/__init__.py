"""Real components for tests: throwaway PostgreSQL and Redis servers.

Nothing here is mocked. A component that cannot be found or started raises
:class:`ComponentUnavailable`; :func:`start_or_skip` turns that into a skip on a
developer machine and into a failure in CI (``CI=true`` or ``CI=1``), so CI can
never pass by silently skipping the real-component tests.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

__all__ = [
    "ComponentUnavailable",
    "free_port",
    "in_ci",
    "log_tail",
    "start_or_skip",
    "wait_for",
]


class ComponentUnavailable(RuntimeError):
    """A required test component is missing or would not start."""


class _Startable(Protocol):
    name: str

    def start(self) -> object: ...


S = TypeVar("S", bound=_Startable)
T = TypeVar("T")


def in_ci() -> bool:
    """True when running under CI, where a missing component is a failure."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def start_or_skip(component: S) -> S:
    """Start ``component``; skip the test (fail it in CI) when it is unavailable."""
    try:
        component.start()
    except ComponentUnavailable as exc:
        reason = f"{component.name} unavailable: {exc}"
        if in_ci():
            pytest.fail(f"{reason} (CI is set: a missing component is a failure)", pytrace=False)
        pytest.skip(reason)
    return component


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (callers retry on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def wait_for(
    check: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    details: Callable[[], str] | None = None,
) -> T:
    """Poll `check` until it returns something truthy; AssertionError after `timeout` seconds.

    The one bounded polling loop of the tests: a wait, never a measure (no test
    passes or fails on how long the wait took, only on whether it ended).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{details()}" if details is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(interval)
