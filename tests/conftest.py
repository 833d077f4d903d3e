"""Session-wide real components. The logic lives in tests/support/.

A component that cannot be found or started skips its tests on a developer
machine and fails them when CI is set (CI=true or CI=1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import start_or_skip
from tests.support.postgres import ThrowawayPostgres
from tests.support.redis import ThrowawayRedis

# Importing the Celery app must never start the embedded Redis from a test run:
# tests that need a broker start their own and pass its URL explicitly.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:9/0")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    """A throwaway PostgreSQL server (or TASKING_TEST_POSTGRES_URL / PG_URL if set)."""
    server = start_or_skip(ThrowawayPostgres.from_env())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[ThrowawayRedis]:
    """A throwaway Redis server with the append-only file on."""
    server = start_or_skip(ThrowawayRedis())
    yield server
    server.close()
