"""Records duties (DPA 2018 s.39): what is due for retention review, and stale drafts.

Reviews and retention are separate dates: `next_review` is operational (set by
decisions, cleared on closing); `retain_until` is set when a case closes, from
the schedule by kind and outcome in config/workflow.toml. Drafts untouched for
longer than `draft_max_age_days` are listed for deletion.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, select

from config.workflow import load_workflow
from tasking.models import Case, State, User, utcnow
from tasking.services.access import case_scope, require

MAX_LIST = 500


def retention_due(
    *, session: Session, actor: User, today: date | None = None, limit: int = MAX_LIST
) -> list[Case]:
    """Closed cases whose retention date has come, oldest date first (need-to-know applies)."""
    require(actor, "retention.view")
    day = today or utcnow().date()
    return list(
        session.exec(
            select(Case)
            .where(col(Case.retain_until) <= day, case_scope(actor))
            .order_by(col(Case.retain_until), col(Case.id))
            .limit(max(1, min(limit, MAX_LIST)))
        ).all()
    )


def drafts_due_for_deletion(
    *, session: Session, actor: User, today: date | None = None, limit: int = MAX_LIST
) -> list[Case]:
    """Drafts not touched for longer than the configured age, oldest first."""
    require(actor, "retention.view")
    day = today or utcnow().date()
    age = timedelta(days=load_workflow().draft_max_age_days)
    cutoff = datetime.combine(day, time.min, tzinfo=UTC) - age
    return list(
        session.exec(
            select(Case)
            .where(
                Case.state == State.DRAFT.value, col(Case.updated_at) < cutoff, case_scope(actor)
            )
            .order_by(col(Case.updated_at), col(Case.id))
            .limit(max(1, min(limit, MAX_LIST)))
        ).all()
    )
