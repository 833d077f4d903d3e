"""Database fixtures: every service test runs on SQLite and on PostgreSQL.

The schema is migrated once per session into a template (a file for SQLite,
a template database for PostgreSQL) and copied for each test, so each test
starts from an empty, fully migrated database of its own.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from tasking.db import make_engine, session_scope
from tasking.migrate import upgrade
from tasking.models import Asset, Role, Theme, Unit, UnitKind, User
from tasking.services.cases import submit_asset_request
from tasking.services.users import hash_password
from tests.support.postgres import ThrowawayPostgres

PG_TEMPLATE = "tasking_template"
_db_numbers = itertools.count(1)
RequestData = Callable[..., dict[str, Any]]
# P1 when fresh (132); halves to P2 once the intelligence is 180+ days old.
HIGH = {"P": 3, "Ps": 3, "F": 2, "C": 3, "S": 4, "V": 2, "L": 5, "Cf": "H"}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file to copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(postgres_server: ThrowawayPostgres) -> str:
    """A migrated PostgreSQL template database."""
    engine = make_engine(postgres_server.create_database(PG_TEMPLATE, replace=True))
    upgrade(engine)
    engine.dispose()
    return PG_TEMPLATE


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated database of each kind for one test."""
    if request.param == "sqlite":
        path = tmp_path / "tasking.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    server: ThrowawayPostgres = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("pg_template")
    name = f"test_{next(_db_numbers)}"
    eng = make_engine(server.create_database(name, template=template), pool_size=10)
    yield eng
    eng.dispose()
    server.drop_database(name)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash shared by fixture users (hashing is deliberately slow)."""
    return hash_password("correct horse battery staple")


class Org:
    """A small fictional organisation: two BCUs, a hub, themes and one user per role."""

    def __init__(self, session: Session, password_hash: str) -> None:
        self.bcu_a = Unit(code="BCU-A", name="Alpha BCU", kind=UnitKind.BCU.value)
        self.bcu_b = Unit(code="BCU-B", name="Bravo BCU", kind=UnitKind.BCU.value)
        self.hub = Unit(code="HUB-1", name="First Hub", kind=UnitKind.HUB.value)
        self.theme = Theme(code="DRUGS", name="Drugs supply")
        self.theme2 = Theme(code="FRAUD", name="Fraud")
        session.add_all([self.bcu_a, self.bcu_b, self.hub, self.theme, self.theme2])
        session.flush()
        self.surveillance = Asset(
            code="SURV-1", name="Surveillance team", asset_type="surveillance",
            hub_id=self.hub.id, weekly_capacity_hours=120,
        )  # fmt: skip
        self.drones = Asset(
            code="DRONE-1", name="Drone unit", asset_type="drones", hub_id=self.hub.id,
            weekly_capacity_hours=40,
        )  # fmt: skip
        session.add_all([self.surveillance, self.drones])
        session.flush()
        self._hash = password_hash
        self.users: dict[str, User] = {}
        for role in Role:
            self.users[role.value] = self.add_user(session, role.value, role.value)
        # The asset owner owns the drone unit (so surveillance requests are not theirs).
        self.users[Role.ASSET_OWNER.value].asset_id = self.drones.id
        session.add(self.users[Role.ASSET_OWNER.value])
        self.users["bcu_a"] = self.users[Role.BCU_REQUESTER.value]
        self.users["bcu_b"] = self.add_user(session, "bcu_b", Role.BCU_REQUESTER.value, self.bcu_b)
        self.users["analyst2"] = self.add_user(session, "analyst2", Role.ANALYST.value)
        # The centre's coordinator and analysts are cleared to SECRET (they see the whole
        # board); everyone else keeps the default OFFICIAL-SENSITIVE.
        for name in (Role.COORDINATOR.value, Role.ANALYST.value, "analyst2"):
            self.users[name].clearance = "SECRET"
            session.add(self.users[name])
        session.flush()

    def add_user(
        self, session: Session, username: str, role: str, unit: Unit | None = None
    ) -> User:
        """Add a user (BCU requesters default to BCU A)."""
        if unit is None and role == Role.BCU_REQUESTER:
            unit = self.bcu_a
        user = User(
            username=username, display_name=username.title(), role=role,
            unit_id=unit.id if unit else None, password_hash=self._hash,
        )  # fmt: skip
        session.add(user)
        session.flush()
        return user


@pytest.fixture
def org(engine: Engine, password_hash: str) -> Org:
    """The small organisation, committed."""
    with session_scope(engine) as session:
        return Org(session, password_hash)


@pytest.fixture
def request_data(org: Org) -> RequestData:
    """Valid asset request input, with overrides (assessment keys go in `assessment`)."""

    def make(assessment: dict[str, Any] | None = None, **facts: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": "Surveillance on prolific burglar",
            "theme_id": org.theme.id,
            "strands": ["Pursue"],
            "asset_type": "surveillance",
            "requested_hours": 40,
            "justification": "Local options are exhausted for this offender.",
            "assessment": {
                "P": 0, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 4, "Cf": "H",
                "Ca": 1, "Cb": 2, "O": 2, "T": 0, **(assessment or {}),
            },
        }  # fmt: skip
        data.update(facts)
        return data

    return make


@pytest.fixture
def cases(engine: Engine, org: Org, request_data: RequestData) -> list[int]:
    """Twelve open requests in BCU A, half of them P1 cases that will age into P2."""
    ids = []
    with session_scope(engine) as session:
        for i in range(12):
            data = request_data(assessment=HIGH if i % 2 else {"L": 1 + i % 5})
            ids.append(
                submit_asset_request(session=session, actor=org.users["bcu_a"], data=data).id
            )
    return ids
