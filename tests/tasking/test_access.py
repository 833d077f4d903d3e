"""Need-to-know in every read service: BCU requesters, asset owners and clearance (both DBs)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from tasking.db import session_scope
from tasking.models import Case, User, pk
from tasking.services.board import band_counts, board_page
from tasking.services.cases import create_case, get_case, submit_asset_request
from tasking.services.errors import Forbidden, NotFound
from tasking.services.history import case_history
from tasking.services.users import set_clearance
from tasking.services.workflow import case_decisions, information_requests
from tests.tasking.conftest import Org
from tests.tasking.flow import RequestData, decide, submit, to_meeting


def _cases(engine: Engine, org: Org, request_data: RequestData) -> dict[str, int]:
    """A request from each BCU, an intelligence case about BCU A asking for drones, a
    SECRET request from A; B's request is adopted with the drone unit."""
    ids = {"req_a": submit(engine, org, request_data)[0]}
    with session_scope(engine) as session:
        ids["req_b"] = pk(
            submit_asset_request(
                session=session, actor=org.users["coordinator"], data=request_data(),
                bcu_id=org.bcu_b.id,
            )
        )  # fmt: skip
        intel = {**request_data(), "kind": "intelligence", "bcu_id": org.bcu_a.id}
        intel.update(asset_type="drones", requested_hours=10)
        ids["int_a"] = pk(create_case(session=session, actor=org.users["analyst"], data=intel))
    ids["secret_a"] = submit(engine, org, request_data)[0]
    with session_scope(engine) as session:
        secret = session.get(Case, ids["secret_a"])
        assert secret is not None
        secret.marking = "SECRET"
        session.add(secret)
    to_meeting(engine, org, ids["req_b"])
    decide(
        engine, org, ids["req_b"], assets=[{"asset_id": org.drones.id, "hours": 6}],
        asset_type_reason="Drone cover replaces static surveillance.",
    )  # fmt: skip
    return ids


Reader = Callable[[Session, User, int], object]
READERS: dict[str, Reader] = {
    "get_case": lambda s, u, i: get_case(session=s, actor=u, case_id=i),
    "case_history": lambda s, u, i: case_history(session=s, actor=u, case_id=i),
    "case_decisions": lambda s, u, i: case_decisions(session=s, actor=u, case_id=i),
    "information_requests": lambda s, u, i: information_requests(session=s, actor=u, case_id=i),
}


def visible(engine: Engine, user: User, ids: dict[str, int]) -> dict[str, set[str]]:
    """What each read service lets the user see, by case label."""
    names = {case_id: name for name, case_id in ids.items()}
    seen: dict[str, set[str]] = {}
    with Session(engine) as session:
        seen["board"] = {names[r.case_id] for r in board_page(session=session, actor=user).rows}
        seen["counts"] = {str(sum(band_counts(session=session, actor=user).values()))}
        for reader, read in READERS.items():
            seen[reader] = set()
            for name, case_id in ids.items():
                try:
                    read(session, user, case_id)
                except NotFound:
                    continue
                seen[reader].add(name)
    return seen


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        # Only their own BCU's requests: not the intelligence case about their area,
        # not the other BCU's, not the SECRET one (above their clearance).
        ("bcu_a", {"req_a"}),
        ("bcu_b", {"req_b"}),
        # Drone owner: the case asking for drones and the one tasked to the drone unit.
        ("asset_owner", {"int_a", "req_b"}),
        # The chair, cleared to OFFICIAL-SENSITIVE, sees all but the SECRET case; the
        # coordinator, cleared to SECRET, sees everything.
        ("chair", {"req_a", "req_b", "int_a"}),
        ("coordinator", {"req_a", "req_b", "int_a", "secret_a"}),
    ],
)
def test_need_to_know_on_every_read_service(
    engine: Engine, org: Org, request_data: RequestData, who: str, expected: set[str]
) -> None:
    ids = _cases(engine, org, request_data)
    seen = visible(engine, org.users[who], ids)
    assert seen["board"] == expected  # every case here is open, so on the board
    assert seen["counts"] == {str(len(expected))}
    for reader in READERS:
        assert seen[reader] == expected, reader


def test_clearance_set_by_admin_reveals_secret_cases(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    ids = _cases(engine, org, request_data)
    assert "secret_a" not in visible(engine, org.users["chair"], ids)["board"]
    with pytest.raises(Forbidden), session_scope(engine) as session:
        set_clearance(
            session=session, actor=org.users["chair"], user_id=org.users["chair"].id,
            clearance="SECRET", reason="Self-promotion",
        )  # fmt: skip
    with session_scope(engine) as session:
        user = set_clearance(
            session=session, actor=org.users["admin"], user_id=org.users["chair"].id,
            clearance="SECRET", reason="Vetted to SC for covert work.",
        )  # fmt: skip
        session.expunge(user)
    seen = visible(engine, user, ids)
    assert seen["board"] == {"req_a", "req_b", "int_a", "secret_a"}
    assert seen["get_case"] == set(ids)


def test_user_without_unit_or_asset_sees_nothing(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    ids = _cases(engine, org, request_data)
    with session_scope(engine) as session:
        orphan = org.add_user(session, "orphan_owner", "asset_owner")
        session.expunge(orphan)
    seen = visible(engine, orphan, ids)
    assert seen["board"] == set()
    assert all(not seen[reader] for reader in READERS)
