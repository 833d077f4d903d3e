"""Organisation and user administration services (both databases): validation, audit, scope."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from tasking.db import session_scope
from tasking.models import AuditEvent, Unit, User
from tasking.services import org as org_service
from tasking.services import users
from tasking.services.errors import Conflict, Forbidden, Invalid
from tests.tasking.conftest import Org


def _actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent.action)).all())


def test_units_assets_and_themes_are_validated_audited_and_unique(engine: Engine, org: Org) -> None:
    admin = org.users["admin"]
    with session_scope(engine) as session:
        hub = org_service.save_unit(
            session=session, actor=admin, data={"code": "HUB-9", "name": "Ninth Hub", "kind": "hub"}
        )
        asset = org_service.save_asset(
            session=session, actor=admin,
            data={"code": "FIN-1", "name": "Financial team", "asset_type": "financial",
                  "hub_id": hub.id, "weekly_capacity_hours": 35},
        )  # fmt: skip
        org_service.save_theme(
            session=session, actor=admin, data={"code": "ARSON", "name": "Arson", "is_local": True}
        )
        asset_id = asset.id
    with session_scope(engine) as session:
        org_service.save_asset(
            session=session, actor=admin, asset_id=asset_id,
            data={"code": "FIN-1", "name": "Financial team", "asset_type": "financial",
                  "hub_id": org.hub.id, "weekly_capacity_hours": 50},
        )  # fmt: skip
    assert _actions(engine) == ["unit.create", "asset.create", "theme.create", "asset.update"]
    with Session(engine) as session:
        update = session.exec(select(AuditEvent).where(AuditEvent.action == "asset.update")).one()
        assert json.loads(update.detail) == {
            "hub_id": {"from": hub.id, "to": org.hub.id},
            "weekly_capacity_hours": {"from": 35, "to": 50},
        }
    with session_scope(engine) as session, pytest.raises(Conflict) as dup:
        org_service.save_theme(
            session=session, actor=admin, data={"code": "ARSON", "name": "Again"}
        )
    assert dup.value.fields == {"code": "already used"}
    with session_scope(engine) as session, pytest.raises(Invalid) as bad:
        org_service.save_asset(
            session=session, actor=admin,
            data={"code": "", "name": "x", "asset_type": "tanks", "hub_id": 0,
                  "weekly_capacity_hours": 99999, "colour": "red"},
        )  # fmt: skip
    assert set(bad.value.fields) >= {
        "code", "name", "asset_type", "hub_id", "weekly_capacity_hours", "colour"
    }  # fmt: skip


def test_a_bcu_with_requesters_keeps_its_kind_and_only_admins_manage(
    engine: Engine, org: Org
) -> None:
    with session_scope(engine) as session, pytest.raises(Conflict) as refused:
        org_service.save_unit(
            session=session, actor=org.users["admin"], unit_id=org.bcu_a.id,
            data={"code": "BCU-A", "name": "Alpha BCU", "kind": "hub"},
        )  # fmt: skip
    assert "kind" in refused.value.fields
    for who in ("coordinator", "auditor", "bcu_a"):
        with session_scope(engine) as session, pytest.raises(Forbidden):
            org_service.save_unit(
                session=session, actor=org.users[who],
                data={"code": "X-1", "name": "Unit X", "kind": "bcu"},
            )  # fmt: skip
        with session_scope(engine) as session, pytest.raises(Forbidden):
            users.add_user(session=session, actor=org.users[who], data={})
    with Session(engine) as session:
        assert session.exec(select(Unit).where(Unit.code == "X-1")).first() is None


def test_add_user_stores_only_a_hash_and_names_every_problem(engine: Engine, org: Org) -> None:
    admin = org.users["admin"]
    with session_scope(engine) as session:
        user, password = users.add_user(
            session=session, actor=admin,
            data={"username": "owner.two", "display_name": "Owner Two", "role": "asset_owner",
                  "asset_code": "SURV-1", "clearance": "OFFICIAL"},
        )  # fmt: skip
        user_id = user.id
    assert len(password) >= 30
    with Session(engine) as session:
        stored = session.get(User, user_id)
        assert stored is not None
        assert stored.asset_id == org.surveillance.id
        assert password not in stored.password_hash
        assert users.verify_password(stored, password)
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.create")).one()
        assert password not in event.detail
    with session_scope(engine) as session, pytest.raises(Invalid) as bad:
        users.add_user(
            session=session, actor=admin,
            data={"username": "", "display_name": "X", "role": "bcu_requester",
                  "unit_code": "NOPE", "asset_code": "NOPE"},
        )  # fmt: skip
    assert set(bad.value.fields) == {"username", "unit_code", "asset_code"}
    with session_scope(engine) as session, pytest.raises(Conflict):
        users.add_user(
            session=session,
            actor=admin,
            data={"username": "owner.two", "display_name": "Again", "role": "analyst"},
        )


def test_disable_reset_and_revoke_raise_the_session_epoch(engine: Engine, org: Org) -> None:
    admin = org.users["admin"]
    target = org.users["analyst"]

    def epoch() -> int:
        with Session(engine) as session:
            row = session.get(User, target.id)
            assert row is not None
            return row.session_epoch

    start = epoch()
    with session_scope(engine) as session:
        users.set_active(session=session, actor=admin, user_id=target.id or 0, active=False,
                         reason="On leave")  # fmt: skip
    with session_scope(engine) as session:
        users.set_active(session=session, actor=admin, user_id=target.id or 0, active=True,
                         reason="Back")  # fmt: skip
    with session_scope(engine) as session:
        _, password = users.reset_password(session=session, actor=admin, user_id=target.id or 0)
    with session_scope(engine) as session:
        users.revoke_access(session=session, actor=admin, user_id=target.id or 0, tokens=True)
    assert epoch() == start + 4
    assert _actions(engine) == [
        "user.disable", "user.enable", "user.password_reset", "user.revoke_sessions"
    ]  # fmt: skip
    with Session(engine) as session:
        row = session.get(User, target.id)
        assert row is not None
        assert users.verify_password(row, password)
    with session_scope(engine) as session, pytest.raises(Conflict):
        users.set_active(session=session, actor=admin, user_id=admin.id or 0, active=False,
                         reason="Oops")  # fmt: skip
