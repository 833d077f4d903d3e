"""Who may do what: role checks and BCU scoping used inside service queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, true

from tasking.models import Role, User
from tasking.services.errors import Forbidden

# Deny by default: an action not listed here is allowed to nobody.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "request.submit": frozenset({Role.BCU_REQUESTER, Role.COORDINATOR}),
    "case.create": frozenset({Role.COORDINATOR, Role.ANALYST}),
    "case.edit": frozenset({Role.COORDINATOR, Role.ANALYST}),
    "case.view": frozenset(
        {Role.BCU_REQUESTER, Role.COORDINATOR, Role.ANALYST, Role.CHAIR, Role.ASSET_OWNER}
    ),
    "assessment.edit": frozenset({Role.COORDINATOR, Role.ANALYST}),
    "intel.log": frozenset({Role.COORDINATOR, Role.ANALYST}),
    "score.moderate": frozenset({Role.ANALYST, Role.COORDINATOR}),
    "case.transition": frozenset({Role.COORDINATOR, Role.ANALYST, Role.CHAIR}),
    "decision.record": frozenset({Role.CHAIR, Role.COORDINATOR}),
    "board.view": frozenset(
        {Role.BCU_REQUESTER, Role.COORDINATOR, Role.ANALYST, Role.CHAIR, Role.ASSET_OWNER}
    ),
    "rescore.run": frozenset({Role.COORDINATOR, Role.ADMIN}),
    "model.publish": frozenset({Role.ADMIN}),
    "user.manage": frozenset({Role.ADMIN}),
}


def require(actor: User | None, action: str) -> User:
    """Return the actor if their role allows `action`; raise Forbidden otherwise."""
    if actor is None or not actor.is_active:
        raise Forbidden("sign in to do this")
    allowed = PERMISSIONS.get(action, frozenset())
    if actor.role not in allowed:
        raise Forbidden(f"your role may not {action.replace('.', ' ')}")
    return actor


def is_bcu_scoped(actor: User) -> bool:
    """True for users who may only see their own BCU's work."""
    return actor.role == Role.BCU_REQUESTER


def bcu_scope(actor: User, bcu_column: Any) -> ColumnElement[bool]:
    """A WHERE clause limiting rows to what the actor may see (always put it in the query)."""
    if not is_bcu_scoped(actor):
        return true()
    if actor.unit_id is None:
        return false()  # a BCU user without a BCU sees nothing
    condition: ColumnElement[bool] = bcu_column == actor.unit_id
    return condition
