"""Worker tests reuse the database fixtures of the service tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from tasking.db import session_scope
from tasking.services.cases import submit_asset_request
from tests.tasking.conftest import (
    Org,
    engine,
    org,
    password_hash,
    pg_template,
    request_data,
    sqlite_template,
)

__all__ = [
    "cases", "engine", "org", "password_hash", "pg_template", "request_data", "sqlite_template",
]  # fmt: skip

RequestData = Callable[..., dict[str, Any]]
# P1 when fresh (132); halves to P2 once the intelligence is 180+ days old.
HIGH = {"P": 3, "Ps": 3, "F": 2, "C": 3, "S": 4, "V": 2, "L": 5, "Cf": "H"}


@pytest.fixture
def cases(engine: Engine, org: Org, request_data: RequestData) -> list[int]:
    """Twelve open requests, half of them P1 cases that will age into P2."""
    ids = []
    with session_scope(engine) as session:
        for i in range(12):
            data = request_data(assessment=HIGH if i % 2 else {"L": 1 + i % 5})
            ids.append(
                submit_asset_request(session=session, actor=org.users["bcu_a"], data=data).id
            )
    return ids
