"""Logging a list handed out by the API (a disclosure under s.62): what, to whom, which rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tasking.models import User
from tasking.services.audit import record_event
from tasking.web.db import db

MAX_REFERENCES = 1000


def disclosed(
    user: User, action: str, references: Sequence[str], filters: Mapping[str, Any]
) -> None:
    """One disclosure row naming the records listed (the reads so far end; a writer logs it).

    On SQLite the writer may wait for a rescore's write lock; if it cannot be had the
    call fails (503) rather than hand out an unlogged list.
    """
    record_event(
        session=db(write=True),
        actor=user,
        category="disclosure",
        action=action,
        entity_type="case",
        entity_id=None,
        detail={
            "rows": len(references),
            "references": list(references[:MAX_REFERENCES]),
            "filters": {name: str(value)[:64] for name, value in filters.items()},
        },
    )
