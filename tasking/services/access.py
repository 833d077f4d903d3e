"""Who may do what, and which cases each user may know of (need-to-know, docs/domain.md).

`case_scope` is the one need-to-know rule and always goes inside the query
(board, counts, case reads, history, lists), never applied after it:
- a BCU requester sees only their own BCU's requests (never operations or
  intelligence cases, even about their area);
- an asset owner sees the cases asking for their asset's type or tasked to
  their asset, not the rest of the board;
- nobody sees a case marked above their clearance (set by an administrator).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, select, true
from sqlalchemy.orm import aliased
from sqlmodel import col

from tasking.models import (
    MARKING_ORDER,
    Asset,
    Case,
    CaseKind,
    CaseScore,
    Decision,
    DecisionAsset,
    Marking,
    Role,
    User,
)
from tasking.services.errors import Forbidden

# Deny by default: an action not listed here is allowed to nobody.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "request.submit": frozenset({Role.BCU_REQUESTER, Role.COORDINATOR}),
    "case.create": frozenset({Role.COORDINATOR, Role.ANALYST}),
    "case.edit": frozenset({Role.COORDINATOR, Role.ANALYST}),
    "case.view": frozenset(
        {Role.BCU_REQUESTER, Role.COORDINATOR, Role.ANALYST, Role.CHAIR, Role.ASSET_OWNER}
    ),
    # Setting or raising a marking; lowering one needs the chair (workflow.set_marking).
    "case.mark": frozenset({Role.COORDINATOR, Role.ANALYST, Role.CHAIR}),
    "assessment.edit": frozenset({Role.COORDINATOR, Role.ANALYST}),
    "intel.log": frozenset({Role.COORDINATOR, Role.ANALYST}),
    # A second analyst, never the assessor (workflow.moderate_score).
    "score.moderate": frozenset({Role.ANALYST}),
    "case.transition": frozenset({Role.COORDINATOR, Role.ANALYST, Role.CHAIR}),
    "info.request": frozenset({Role.COORDINATOR}),
    "info.answer": frozenset({Role.BCU_REQUESTER}),
    "decision.record": frozenset({Role.CHAIR, Role.COORDINATOR}),
    # Threat to life: the chair as duty senior officer, before scoring is complete.
    "decision.immediate": frozenset({Role.CHAIR}),
    "board.view": frozenset(
        {Role.BCU_REQUESTER, Role.COORDINATOR, Role.ANALYST, Role.CHAIR, Role.ASSET_OWNER}
    ),
    "retention.view": frozenset({Role.COORDINATOR, Role.AUDITOR, Role.ADMIN}),
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
    """True for users who may only see their own BCU's requests."""
    return actor.role == Role.BCU_REQUESTER


def clearance_level(actor: User) -> int:
    """The actor's clearance as a marking level (-1, seeing nothing, if unrecognised)."""
    try:
        return Marking(actor.clearance).level
    except ValueError:
        return -1


def visible_markings(actor: User) -> list[str]:
    """The markings the actor's clearance allows them to see."""
    return [m.value for m in MARKING_ORDER if m.level <= clearance_level(actor)]


def may_see_marking(actor: User, marking: str) -> bool:
    """True when the actor's clearance covers this marking."""
    return marking in visible_markings(actor)


def bcu_scope(actor: User, bcu_column: Any) -> ColumnElement[bool]:
    """A WHERE clause limiting rows with a BCU column to the actor's BCU (BCU users only)."""
    if not is_bcu_scoped(actor):
        return true()
    if actor.unit_id is None:
        return false()  # a BCU user without a BCU sees nothing
    condition: ColumnElement[bool] = bcu_column == actor.unit_id
    return condition


def case_scope(actor: User, *, on: str = "case") -> ColumnElement[bool]:
    """The need-to-know WHERE clause for a query over `case_record` or `case_score` rows.

    `on` names the table the query's rows come from: "case" (Case columns) or
    "score" (CaseScore columns; the marking is read from the case by its key).
    """
    if on not in ("case", "score"):
        raise ValueError(f"case_scope on {on!r}: use 'case' or 'score'")
    table: Any = Case if on == "case" else CaseScore
    case_id = col(Case.id) if on == "case" else col(CaseScore.case_id)
    conditions: list[ColumnElement[bool]] = []
    if actor.role == Role.BCU_REQUESTER:
        if actor.unit_id is None:
            return false()
        conditions += [table.kind == int(CaseKind.REQUEST), table.bcu_id == actor.unit_id]
    elif actor.role == Role.ASSET_OWNER:
        if actor.asset_id is None:
            return false()  # an asset owner without an asset sees nothing
        asset_type = select(col(Asset.asset_type)).where(col(Asset.id) == actor.asset_id)
        tasked = exists(
            select(col(DecisionAsset.id))
            .join(Decision, col(Decision.id) == col(DecisionAsset.decision_id))
            .where(col(Decision.case_id) == case_id, col(DecisionAsset.asset_id) == actor.asset_id)
        )
        conditions.append((table.asset_type == asset_type.scalar_subquery()) | tasked)
    markings = visible_markings(actor)
    if not markings:
        return false()
    if len(markings) < len(MARKING_ORDER):
        if on == "case":
            conditions.append(col(Case.marking).in_(markings))
        else:
            marked: Any = aliased(Case)
            conditions.append(
                exists(
                    select(marked.id).where(
                        marked.id == col(CaseScore.case_id), marked.marking.in_(markings)
                    )
                )
            )
    return and_(true(), *conditions) if conditions else true()
