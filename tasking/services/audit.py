"""The one way to write the audit log (DPA 2018 s.62)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from tasking.models import AuditEvent, User

CATEGORIES = frozenset(
    {"collection", "alteration", "consultation", "disclosure", "combination", "erasure"}
)


def record_event(
    *,
    session: Session,
    actor: User | None,
    category: str,
    action: str,
    entity_type: str,
    entity_id: int | None,
    reason: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit row in the caller's transaction (it commits or rolls back with the change)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown audit category {category!r}")
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        category=category,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        reason=reason,
        detail=json.dumps(dict(detail or {}), sort_keys=True, default=str),
    )
    session.add(event)
    return event
