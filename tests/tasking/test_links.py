"""Linked cases: who links, need-to-know on both ends, one link per pair, the audit rows.

Every test runs on SQLite and on PostgreSQL (the `engine` fixture). All data is fictional.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from tasking.db import session_scope
from tasking.models import AuditEvent, Case, CaseLink, State, pk
from tasking.services.cases import create_case, submit_asset_request
from tasking.services.disposal import dispose
from tasking.services.errors import Forbidden, Invalid, NotFound
from tasking.services.links import case_links, erase_link_reasons, link_cases, unlink_cases
from tasking.services.markings import set_marking
from tests.tasking.conftest import Org
from tests.tasking.flow import RequestData, submit, version_of

REASON = "Fictional: the same nominal appears in both cases."


@dataclass
class Cases:
    """The cases of these tests, by name: ids and references."""

    ids: dict[str, int]
    refs: dict[str, str]


def _assessment() -> dict[str, Any]:
    return {
        "P": 2, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 4, "Cf": "H",
        "Ca": 1, "Cb": 2, "O": 2, "T": 0,
    }  # fmt: skip


@pytest.fixture
def cases(engine: Engine, org: Org, request_data: RequestData) -> Cases:
    """Two operations (one SECRET), an intelligence case and three BCU requests (two BCUs)."""
    ids: dict[str, int] = {}
    for name, kind in (("op", "operation"), ("intel", "intelligence"), ("secret", "operation")):
        with session_scope(engine) as session:
            case = create_case(
                session=session,
                actor=org.users["analyst"],
                data={
                    "kind": kind, "title": f"Fictional {name} case", "theme_id": org.theme.id,
                    "strands": ["Pursue"], "assessment": _assessment(),
                },
            )  # fmt: skip
            ids[name] = pk(case)
    with session_scope(engine) as session:
        set_marking(
            session=session, actor=org.users["coordinator"], case_id=ids["secret"],
            expected_version=version_of(engine, ids["secret"]),
            data={"marking": "SECRET", "reason": "Fictional sensitive source"},
        )  # fmt: skip
    ids["req_a"], _ = submit(engine, org, request_data)
    ids["req_a2"], _ = submit(engine, org, request_data)
    with session_scope(engine) as session:
        ids["req_b"] = pk(
            submit_asset_request(session=session, actor=org.users["bcu_b"], data=request_data())
        )
    with Session(engine) as session:
        refs = {name: session.get(Case, i).reference for name, i in ids.items()}  # type: ignore[union-attr]
    return Cases(ids, refs)


def _link(
    engine: Engine, org: Org, cases: Cases, who: str, frm: str, to: str, **extra: Any
) -> CaseLink:
    data = {"reference": cases.refs[to], "link_type": "same_subject", "reason": REASON, **extra}
    with session_scope(engine) as session:
        return link_cases(session=session, actor=org.users[who], case_id=cases.ids[frm], data=data)


def _unlink(
    engine: Engine, org: Org, cases: Cases, who: str, frm: str, link_id: int, reason: str
) -> CaseLink:
    with session_scope(engine) as session:
        return unlink_cases(
            session=session, actor=org.users[who], case_id=cases.ids[frm],
            data={"link_id": link_id, "reason": reason},
        )  # fmt: skip


def _rows(engine: Engine) -> list[CaseLink]:
    with Session(engine) as session:
        return list(session.exec(select(CaseLink).order_by(col(CaseLink.id))).all())


def _events(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.seq))
            ).all()
        )


def _audit_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(AuditEvent)).one())


def _listed(engine: Engine, org: Org, cases: Cases, who: str, name: str) -> list[str]:
    with Session(engine) as session:
        found = case_links(session=session, actor=org.users[who], case_id=cases.ids[name])
        return [linked.case.reference for linked in found]


def test_linking_stores_the_pair_once_in_order_and_logs_one_combination_row(
    engine: Engine, org: Org, cases: Cases
) -> None:
    # Linked from the case with the larger id: stored low, high all the same.
    link = _link(engine, org, cases, "coordinator", "req_a", "op", link_type="same_location")
    (row,) = _rows(engine)
    assert (row.low_case_id, row.high_case_id) == (cases.ids["op"], cases.ids["req_a"])
    assert (row.link_type, row.reason) == ("same_location", REASON)
    assert row.linked_by_id == org.users["coordinator"].id
    (event,) = _events(engine, "case.link")
    assert event.category == "combination"
    assert event.actor_id == org.users["coordinator"].id
    assert (event.entity_type, event.entity_id) == ("case", cases.ids["req_a"])
    assert event.reason == REASON
    assert json.loads(event.detail) == {
        "link_id": link.id,
        "link_type": "same_location",
        "cases": [cases.refs["req_a"], cases.refs["op"]],
        "case_ids": [cases.ids["req_a"], cases.ids["op"]],
    }


@pytest.mark.parametrize("who", ["analyst", "chair"])
def test_analysts_and_the_chair_link_too(engine: Engine, org: Org, cases: Cases, who: str) -> None:
    _link(engine, org, cases, who, "op", "intel", link_type="same_ocg")
    assert [(r.low_case_id, r.high_case_id) for r in _rows(engine)] == [
        (cases.ids["op"], cases.ids["intel"])
    ]


@pytest.mark.parametrize("who", ["bcu_a", "asset_owner", "auditor", "admin"])
def test_other_roles_neither_link_nor_unlink(
    engine: Engine, org: Org, cases: Cases, who: str
) -> None:
    frm, to = ("req_a", "req_a2") if who == "bcu_a" else ("op", "intel")
    before = _audit_count(engine)
    with pytest.raises(Forbidden):
        _link(engine, org, cases, who, frm, to)
    assert _rows(engine) == []
    assert _audit_count(engine) == before
    link = _link(engine, org, cases, "coordinator", frm, to)
    with pytest.raises(Forbidden):
        _unlink(engine, org, cases, who, frm, pk(link), "Fictional: not needed")
    assert len(_rows(engine)) == 1


def test_a_case_out_of_scope_is_answered_as_one_that_does_not_exist(
    engine: Engine, org: Org, cases: Cases
) -> None:
    """The chair is cleared to OFFICIAL-SENSITIVE: the SECRET operation is not found."""
    with pytest.raises(NotFound) as hidden:
        _link(engine, org, cases, "chair", "op", "secret")
    data = {"reference": "OP-99999", "link_type": "other", "reason": REASON}
    with session_scope(engine) as session, pytest.raises(NotFound) as missing:
        link_cases(session=session, actor=org.users["chair"], case_id=cases.ids["op"], data=data)
    assert (
        hidden.value.fields
        == missing.value.fields
        == {"reference": "No case found with this reference"}
    )
    assert _rows(engine) == []
    # The SECRET case's own page: not found either (the case the link is made from).
    with pytest.raises(NotFound):
        _link(engine, org, cases, "chair", "secret", "op")
    # Cleared to SECRET, the coordinator links them.
    _link(engine, org, cases, "coordinator", "op", "secret")
    assert len(_rows(engine)) == 1


def test_reference_is_matched_without_regard_to_case_and_spaces(
    engine: Engine, org: Org, cases: Cases
) -> None:
    with session_scope(engine) as session:
        link_cases(
            session=session, actor=org.users["analyst"], case_id=cases.ids["op"],
            data={"reference": f"  {cases.refs['intel'].lower()} ", "link_type": "other",
                  "reason": REASON},
        )  # fmt: skip
    assert len(_rows(engine)) == 1


def test_no_link_to_itself_and_none_twice_from_either_side(
    engine: Engine, org: Org, cases: Cases
) -> None:
    with pytest.raises(Invalid) as itself:
        _link(engine, org, cases, "coordinator", "op", "op")
    assert set(itself.value.fields) == {"reference"}
    _link(engine, org, cases, "coordinator", "op", "intel")
    for frm, to in (("op", "intel"), ("intel", "op")):
        with pytest.raises(Invalid) as twice:
            _link(engine, org, cases, "analyst", frm, to, link_type="duplicate")
        assert "already linked" in twice.value.fields["reference"]
    assert len(_rows(engine)) == 1
    assert len(_events(engine, "case.link")) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("link_type", "same_planet"),
        ("link_type", ""),
        ("reason", ""),
        ("reason", "why"),
        ("reason", "x" * 501),
        ("reference", ""),
        ("reference", "R" * 33),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    engine: Engine, org: Org, cases: Cases, field: str, value: str
) -> None:
    data = {"reference": cases.refs["intel"], "link_type": "other", "reason": REASON, field: value}
    with session_scope(engine) as session, pytest.raises(Invalid) as refused:
        link_cases(
            session=session, actor=org.users["coordinator"], case_id=cases.ids["op"], data=data
        )
    assert set(refused.value.fields) == {field}
    assert _rows(engine) == []


def test_a_closed_case_may_be_linked(engine: Engine, org: Org, cases: Cases) -> None:
    """Deconfliction against finished work: a closed case is linked like any other."""
    with session_scope(engine) as session:
        closed = session.get(Case, cases.ids["intel"])
        assert closed is not None
        closed.state = State.CLOSED.value
        session.add(closed)
    _link(engine, org, cases, "coordinator", "op", "intel")
    assert _listed(engine, org, cases, "coordinator", "op") == [cases.refs["intel"]]


def test_a_cases_links_list_only_the_cases_the_viewer_may_see(
    engine: Engine, org: Org, cases: Cases
) -> None:
    _link(engine, org, cases, "coordinator", "op", "secret")
    _link(engine, org, cases, "coordinator", "op", "intel")
    _link(engine, org, cases, "coordinator", "req_a", "op")
    _link(engine, org, cases, "coordinator", "req_a", "req_a2")
    # Newest first, from either end of the pair.
    assert _listed(engine, org, cases, "coordinator", "op") == [
        cases.refs["req_a"], cases.refs["intel"], cases.refs["secret"],
    ]  # fmt: skip
    # The chair is not cleared for the SECRET operation: it is not listed.
    assert _listed(engine, org, cases, "chair", "op") == [cases.refs["req_a"], cases.refs["intel"]]
    # BCU A sees its own requests only: never the operation its request is linked to.
    assert _listed(engine, org, cases, "bcu_a", "req_a") == [cases.refs["req_a2"]]
    assert _listed(engine, org, cases, "bcu_a", "req_a2") == [cases.refs["req_a"]]
    # BCU B may not see BCU A's request at all: not found, not an empty list.
    with pytest.raises(NotFound):
        _listed(engine, org, cases, "bcu_b", "req_a")
    # The asset owner (drones) sees no surveillance request and no operation.
    with pytest.raises(NotFound):
        _listed(engine, org, cases, "asset_owner", "op")
    with pytest.raises(Forbidden):
        _listed(engine, org, cases, "auditor", "op")


def test_unlinking_deletes_the_row_and_logs_an_alteration_with_what_it_said(
    engine: Engine, org: Org, cases: Cases
) -> None:
    link = _link(engine, org, cases, "coordinator", "op", "intel", link_type="same_ocg")
    removed = _unlink(engine, org, cases, "analyst", "intel", pk(link), "Fictional: two groups")
    assert removed.id == link.id
    assert _rows(engine) == []
    (event,) = _events(engine, "case.unlink")
    assert event.category == "alteration"
    assert event.actor_id == org.users["analyst"].id
    assert (event.entity_type, event.entity_id) == ("case", cases.ids["intel"])
    assert event.reason == "Fictional: two groups"
    detail = json.loads(event.detail)
    assert detail["link_id"] == link.id
    assert detail["cases"] == [cases.refs["intel"], cases.refs["op"]]
    assert detail["case_ids"] == [cases.ids["intel"], cases.ids["op"]]
    assert (detail["link_type"], detail["linked_reason"]) == ("same_ocg", REASON)
    assert detail["linked_by_id"] == org.users["coordinator"].id
    assert detail["linked_at"].startswith(str(link.linked_at.date()))
    # The pair may be linked again afterwards.
    _link(engine, org, cases, "coordinator", "op", "intel")
    assert len(_rows(engine)) == 1


def test_unlinking_needs_a_reason_and_a_link_of_this_case_the_actor_may_see(
    engine: Engine, org: Org, cases: Cases
) -> None:
    secret = _link(engine, org, cases, "coordinator", "op", "secret")
    other = _link(engine, org, cases, "coordinator", "intel", "req_a")
    with pytest.raises(Invalid) as short:
        _unlink(engine, org, cases, "coordinator", "op", pk(secret), "no")
    assert set(short.value.fields) == {"reason"}
    with pytest.raises(Invalid) as bad_id:
        _unlink(engine, org, cases, "coordinator", "op", 0, "Fictional: reason")
    assert set(bad_id.value.fields) == {"link_id"}
    # Another case's link, through this case's page: not found.
    with pytest.raises(NotFound):
        _unlink(engine, org, cases, "coordinator", "op", pk(other), "Fictional: reason")
    # The chair may not see the SECRET end of the link: not found, and kept.
    with pytest.raises(NotFound):
        _unlink(engine, org, cases, "chair", "op", pk(secret), "Fictional: reason")
    assert len(_rows(engine)) == 2
    assert _events(engine, "case.unlink") == []


def test_erasing_a_cases_link_reasons_blanks_only_its_own(
    engine: Engine, org: Org, cases: Cases
) -> None:
    """What disposal needs: the links stay, their free text about the case goes."""
    _link(engine, org, cases, "coordinator", "op", "intel")
    _link(engine, org, cases, "coordinator", "req_a", "intel")
    _link(engine, org, cases, "coordinator", "req_a", "req_a2")
    with session_scope(engine) as session:
        assert erase_link_reasons(session, cases.ids["intel"]) == 2
    reasons = {frozenset((row.low_case_id, row.high_case_id)): row.reason for row in _rows(engine)}
    assert reasons == {
        frozenset((cases.ids["op"], cases.ids["intel"])): "",
        frozenset((cases.ids["req_a"], cases.ids["intel"])): "",
        frozenset((cases.ids["req_a"], cases.ids["req_a2"])): REASON,
    }


def test_disposing_of_a_case_blanks_its_link_reasons_and_keeps_the_links(
    engine: Engine, org: Org, cases: Cases
) -> None:
    _link(engine, org, cases, "coordinator", "op", "intel")
    with session_scope(engine) as session:
        dispose(
            session=session, actor=org.users["coordinator"], case_id=cases.ids["intel"],
            data={"reason": "Retention period over"},
        )  # fmt: skip
    (row,) = _rows(engine)
    assert row.reason == ""
    assert _listed(engine, org, cases, "coordinator", "op") == [cases.refs["intel"]]
    (event,) = _events(engine, "record.dispose")
    assert json.loads(event.detail)["erased"]["link_reasons"] == 1
