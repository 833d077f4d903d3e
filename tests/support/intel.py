"""Test shortcut: move a case's intelligence date without going through the services."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from tasking.db import session_scope
from tasking.models import Assessment, CaseScore
from tasking.services.scores import epoch_seconds


def set_intel_at(engine: Engine, case_id: int, moment: datetime) -> None:
    """Date the case's intelligence `moment`, on the assessment and on the stored score.

    The services keep both in step when intelligence is logged; a rescore reads the
    copy on the score, so a test that backdates intelligence must set both.
    """
    with session_scope(engine) as session:
        assessment = session.get(Assessment, case_id)
        score = session.get(CaseScore, case_id)
        assert assessment is not None
        assert score is not None
        assessment.intel_at = moment
        score.intel_epoch = epoch_seconds(moment)
        session.add(assessment)
        session.add(score)
