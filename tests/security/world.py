"""The security battery's fictional world: two BCUs, an asset owner, and cases in known states.

Built once per test module through the real services (tests that expect a
refusal share it and prove they changed nothing); tests that must succeed
work on a copy (`World.copy_database`). Every name and text is invented.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, col, select

from tasking.db import session_scope
from tasking.models import Case, ModelVersion, ScoringRun, pk
from tasking.services.cases import create_case, submit_asset_request
from tasking.services.links import link_cases
from tasking.services.markings import set_marking
from tasking.services.moderation import moderate_score
from tasking.services.questions import request_information
from tasking.services.scores import store_model_text
from tasking.services.tokens import create_token
from tasking.services.workflow import transition
from tests.tasking.conftest import Org

# Tables whose rows a refused or read-only request may still add: the audit log (every
# table named audit*: a denial or a view may well be logged) and a token's last use
# (noted outside the request).
LOG_TABLES = frozenset({"audit_event"})
IGNORED_COLUMNS = frozenset({("api_token", "last_used_at")})
# Every user the battery signs in as (the fixture org's users).
USERS = (
    "admin", "analyst", "analyst2", "asset_owner", "auditor", "bcu_requester", "bcu_b", "chair",
    "coordinator",
)  # fmt: skip


def assessment(**overrides: Any) -> dict[str, Any]:
    """A complete, valid MoRiLE assessment (fictional)."""
    base: dict[str, Any] = {
        "P": 2, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 4, "Cf": "H",
        "Ca": 1, "Cb": 2, "O": 2, "T": 0, "rationale": "Fictional rationale for the battery.",
    }  # fmt: skip
    base.update(overrides)
    return base


def model_text(content: str, version: int) -> str:
    """A model file's text as another version of the same model."""
    return re.sub(r"(?m)^version = \d+", f"version = {version}", content, count=1)


def request_facts(theme_id: int, title: str, asset_type: str = "surveillance") -> dict[str, Any]:
    """A valid asset request (fictional)."""
    return {
        "title": title, "theme_id": theme_id, "strands": ["Pursue"], "asset_type": asset_type,
        "requested_hours": 40, "justification": f"Local options exhausted ({title}).",
        "summary": f"Summary of {title}.", "assessment": assessment(),
    }  # fmt: skip


@dataclass
class World:
    """The records of the battery, by name: references, ids, titles, tokens."""

    engine: Engine
    path: Path
    org: Org
    refs: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # username -> secret
    token_ids: dict[str, int] = field(default_factory=dict)  # username -> token id
    token_names: dict[str, str] = field(default_factory=dict)
    row_ids: dict[str, int] = field(default_factory=dict)  # units, assets, themes by name
    run_id: int = 0
    model_id: int = 0
    model2_id: int = 0  # a stored version that is not current

    def user_id(self, username: str) -> int:
        return pk(self.org.users[username])

    def copy_database(self, to: Path) -> Path:
        """A copy of the world's database file (for a test whose requests succeed)."""
        self.engine.dispose()
        shutil.copyfile(self.path, to)
        return to

    def case(self, name: str) -> Case:
        with Session(self.engine) as session:
            row = session.get(Case, self.ids[name])
            assert row is not None
            return row

    def version(self, name: str) -> int:
        return self.case(name).version


def build_world(engine: Engine, path: Path, password_hash: str) -> World:
    """Org, cases in the states each route needs, a token per user, a run and a model."""
    with session_scope(engine) as session:
        org = Org(session, password_hash)
        # The administrators' target: disabled, renamed and signed out by the battery.
        org.users["spare"] = org.add_user(session, "spare", "analyst")
    world = World(engine=engine, path=path, org=org)
    users = org.users
    theme = pk(org.theme)
    world.row_ids = {
        "bcu_a": pk(org.bcu_a), "bcu_b": pk(org.bcu_b), "hub": pk(org.hub),
        "surveillance": pk(org.surveillance), "drones": pk(org.drones),
        "theme": pk(org.theme), "theme2": pk(org.theme2),
    }  # fmt: skip

    def add(name: str, case: Case) -> None:
        world.refs[name], world.ids[name], world.titles[name] = case.reference, pk(case), case.title

    def walk(name: str, who: str, *states: str) -> None:
        for state in states:
            with session_scope(engine) as session:
                transition(
                    session=session, actor=users[who], case_id=world.ids[name],
                    expected_version=world.version(name), to_state=state, reason=f"to {state}",
                )  # fmt: skip

    requests = (
        ("req_a", "bcu_requester", "surveillance"),  # BCU A's: triage, a question open
        ("req_a2", "bcu_requester", "surveillance"),  # BCU A's: triage, no question
        ("req_a_drones", "bcu_requester", "drones"),  # BCU A's, the asset owner's type
        ("req_b", "bcu_b", "surveillance"),  # BCU B's
        ("req_b_drones", "bcu_b", "drones"),  # BCU B's, the asset owner's type
    )
    for name, who, asset_type in requests:
        with session_scope(engine) as session:
            title = f"Fictional {name} request [KESTREL-{name.upper()}]"
            case = submit_asset_request(
                session=session, actor=users[who], data=request_facts(theme, title, asset_type)
            )
            add(name, case)
    for name, kind in (("op", "operation"), ("intel", "intelligence"), ("secret_op", "operation")):
        with session_scope(engine) as session:
            title = f"Fictional {name} case [MARLIN-{name.upper()}]"
            data = {
                "kind": kind, "title": title, "theme_id": theme, "strands": ["Pursue"],
                "summary": f"Summary of {title}.", "assessment": assessment(),
            }  # fmt: skip
            add(name, create_case(session=session, actor=users["analyst"], data=data))
    walk("req_a", "coordinator", "triage")
    walk("req_a2", "coordinator", "triage")
    with session_scope(engine) as session:
        request_information(
            session=session, actor=users["coordinator"], case_id=world.ids["req_a"],
            expected_version=world.version("req_a"),
            data={"question": "Fictional question: which address is meant?"},
        )  # fmt: skip
    walk("op", "coordinator", "triage", "scoring", "moderation")
    walk("intel", "coordinator", "triage", "scoring", "moderation")
    with session_scope(engine) as session:
        moderate_score(
            session=session, actor=users["analyst2"], case_id=world.ids["intel"],
            expected_version=world.version("intel"), agree=True, note="",
        )  # fmt: skip
    walk("intel", "coordinator", "awaiting_meeting")
    with session_scope(engine) as session:
        set_marking(
            session=session, actor=users["coordinator"], case_id=world.ids["secret_op"],
            expected_version=world.version("secret_op"),
            data={"marking": "SECRET", "reason": "Fictional sensitive source."},
        )  # fmt: skip
    with session_scope(engine) as session:
        # A link whose far end (SECRET) the chair may not see: the op page must not show it.
        link_cases(
            session=session, actor=users["coordinator"], case_id=world.ids["op"],
            data={"reference": world.refs["secret_op"], "link_type": "same_subject",
                  "reason": "Fictional: one nominal in both."},
        )  # fmt: skip
    for username in USERS:
        with session_scope(engine) as session:
            name = f"battery token of {username}"
            new = create_token(
                session=session, actor=None, owner_id=world.user_id(username), name=name
            )
            world.tokens[username] = new.secret
            world.token_ids[username] = pk(new.token)
            world.token_names[username] = name
    with session_scope(engine) as session:
        model = session.exec(select(ModelVersion).where(col(ModelVersion.is_current))).first()
        assert model is not None, "the migrated database has no current scoring model"
        world.model_id = pk(model)
        world.model2_id = pk(
            store_model_text(session=session, content=model_text(model.content, 2))
        )
        # A finished run's summary names cases across the whole board (as runs.py writes
        # it): the movers, the rank moves and the review lists.
        named = sorted(world.ids.items())
        summary = {
            "bands": {"P0": 0, "P1": 0, "P2": 1, "P3": len(named) - 1},
            "movers": [
                {"case_id": i, "reference": world.refs[n], "why": "L 4 to 5"} for n, i in named
            ],
            "rank_moves": [
                {"case_id": i, "from": k + 2, "to": k + 1, "why": "L 4 to 5"}
                for k, (_n, i) in enumerate(named)
            ],
            "overdue_reviews": [i for _n, i in named],
            "retention_due": [],
        }
        run = ScoringRun(
            kind="rescore", status="completed", reason="battery", model_version_id=pk(model),
            summary=json.dumps(summary),
        )  # fmt: skip
        session.add(run)
        session.flush()
        world.run_id = pk(run)
    return world


_COLUMNS: dict[str, list[tuple[str, str]]] = {}


def _tables(engine: Engine, skip: frozenset[str]) -> list[tuple[str, str]]:
    """(table, column list) of the database, read once per database file."""
    key = f"{engine.url}|{sorted(skip)}"
    if key not in _COLUMNS:
        with engine.connect() as conn:
            found = inspect(conn)
            tables = []
            for name in sorted(found.get_table_names()):
                if name in skip or name.startswith(("audit", "alembic")):
                    continue
                columns = [c["name"] for c in found.get_columns(name)]
                kept = [c for c in columns if (name, c) not in IGNORED_COLUMNS]
                tables.append((name, ", ".join(f'"{c}"' for c in kept)))
        _COLUMNS[key] = tables
    return _COLUMNS[key]


def snapshot(engine: Engine, *, skip: frozenset[str] = LOG_TABLES) -> dict[str, str]:
    """A hash of every table's rows (but the audit log's): any insert, update or delete
    changes it."""
    hashes = {}
    with engine.connect() as conn:
        for name, listed in _tables(engine, skip):
            rows = conn.execute(text(f'SELECT {listed} FROM "{name}"')).all()  # noqa: S608 - test SQL over fixed table and column names
            digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
            hashes[name] = f"{len(rows)}:{digest[:16]}"
    return hashes


def changed(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    """The tables whose rows differ between two snapshots."""
    return {
        name: (before.get(name, "-"), after.get(name, "-"))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }
