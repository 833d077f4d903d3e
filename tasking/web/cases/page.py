"""What the case page shows, read after the service has let the actor see the case.

`get_case_by_reference` does the access check, the scoping and the
consultation log; everything read here belongs to that one case (its
assessment, score, history, intelligence and decisions), so it needs no
further scoping. The score breakdown comes from the engine (`scoring.explain`)
over the stored vector and the stored model version: nothing is re-derived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

import scoring
from config.workflow import PartnerAgency, load_workflow
from tasking.models import (
    DECISION_STATES,
    REASSESSABLE_STATES,
    Assessment,
    Asset,
    Case,
    CaseKind,
    CaseScore,
    InfoRequest,
    IntelEntry,
    ModelVersion,
    RankSnapshot,
    Role,
    ScoreHistory,
    State,
    Theme,
    Unit,
    User,
    as_utc,
)
from tasking.services.access import require
from tasking.services.decisions import IMMEDIATE_FROM, DecisionView, board_rank, case_decisions
from tasking.services.errors import Forbidden
from tasking.services.links import LinkedCase, case_links, may_link
from tasking.services.moderation import awaits_moderation
from tasking.services.questions import information_requests
from tasking.services.runs import decode_snapshot
from tasking.services.scores import engine_model
from tasking.services.workflow import allowed_transitions, confidence_from_grading
from tasking.web.charts import Chart, time_chart

RANK_SNAPSHOTS = 8  # the newest snapshots a case page reads its rank from (each is the whole board)
HISTORY_ROWS = 200


@dataclass(frozen=True)
class RankPoint:
    """Where the case stood on the whole board in one snapshot."""

    taken_at: datetime
    kind: str
    rank: int
    of: int


@dataclass
class CasePage:
    """Everything the case template shows (read-only)."""

    case: Case
    assessment: Assessment | None
    score: CaseScore | None
    model_version: ModelVersion | None
    explanation: scoring.Explanation | None
    scored_vector: str
    theme: Theme | None
    units: dict[int, Unit]
    names: dict[int, str]
    history: list[ScoreHistory]
    history_models: dict[int, str]
    ranks: list[RankPoint]
    rank_now: int | None
    intel: list[IntelEntry]
    intel_confidence: dict[int, str]  # entry id -> the confidence its grading maps to
    decisions: list[DecisionView]
    questions: list[InfoRequest]
    links: list[LinkedCase]  # linked cases the viewer may see (scoped in the query)
    partners: tuple[PartnerAgency, ...]
    assets: list[Asset]
    chairs: list[User]
    owners: list[User]
    transitions: list[str]
    may: dict[str, bool]
    priority_chart: Chart
    rank_chart: Chart
    thresholds: dict[str, float] = field(default_factory=dict)


def may(actor: User, action: str) -> bool:
    """Whether the service's permission table lets the actor's role do `action`."""
    try:
        require(actor, action)
    except Forbidden:
        return False
    return True


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(User).where(col(User.id).in_(wanted))).all()
    return {row.id: row.display_name for row in rows if row.id is not None}


def _ranks(session: Session, case_id: int) -> list[RankPoint]:
    snapshots = session.exec(
        select(RankSnapshot)
        .order_by(col(RankSnapshot.taken_at).desc(), col(RankSnapshot.id).desc())
        .limit(RANK_SNAPSHOTS)
    ).all()
    points = []
    for snap in snapshots:
        found = np.flatnonzero(decode_snapshot(snap.case_ids) == case_id)
        if found.size:
            points.append(
                RankPoint(as_utc(snap.taken_at), snap.kind, int(found[0]) + 1, snap.cases)
            )
    return sorted(points, key=lambda p: p.taken_at)


def _explain(score: CaseScore, version: ModelVersion) -> scoring.Explanation:
    return scoring.explain(scoring.parse_vector(score.scored_vector), model=engine_model(version))


def build_page(session: Session, *, actor: User, case: Case) -> CasePage:
    """Read what the page shows for a case the actor may see."""
    assert case.id is not None
    assessment = session.get(Assessment, case.id)
    score = session.get(CaseScore, case.id)
    version = session.get(ModelVersion, score.model_version_id) if score else None
    explanation = _explain(score, version) if score and version else None
    history = list(
        session.exec(
            select(ScoreHistory)
            .where(ScoreHistory.case_id == case.id)
            .order_by(col(ScoreHistory.score_version).desc())
            .limit(HISTORY_ROWS)
        ).all()
    )
    history.reverse()
    model_ids = {row.model_version_id for row in history}
    history_models = {
        row.id: row.label
        for row in session.exec(
            select(ModelVersion).where(col(ModelVersion.id).in_(model_ids))
        ).all()
        if row.id is not None
    }
    intel = list(
        session.exec(
            select(IntelEntry)
            .where(IntelEntry.case_id == case.id)
            .order_by(col(IntelEntry.received_at).desc(), col(IntelEntry.id).desc())
        ).all()
    )
    decisions = case_decisions(session=session, actor=actor, case_id=case.id)
    decisions.reverse()  # newest first
    questions = information_requests(session=session, actor=actor, case_id=case.id)
    people = list(
        session.exec(
            select(User)
            .where(
                col(User.role).in_([Role.CHAIR.value, Role.COORDINATOR.value, Role.ANALYST.value]),
                col(User.is_active),
            )
            .order_by(col(User.display_name))
        ).all()
    )
    ids: set[int | None] = {case.lead_id, case.created_by_id}
    if assessment:
        ids |= {assessment.assessed_by_id, assessment.moderated_by_id}
    ids |= {e.logged_by_id for e in intel}
    records = [d.record for d in decisions if d.record is not None]
    ids |= {d.chair_id for d in records} | {d.recorded_by_id for d in records}
    ids |= {d.owner_id for d in records}
    ids |= {q.asked_by_id for q in questions} | {q.answered_by_id for q in questions}
    unit_ids = {u for u in (case.bcu_id, case.hub_id) if u is not None}
    units = {
        u.id: u
        for u in session.exec(select(Unit).where(col(Unit.id).in_(unit_ids))).all()
        if u.id is not None
    }
    legal = allowed_transitions(case, assessment=assessment)
    order = [s.value for s in State]
    transitions = sorted((s.value for s in legal - DECISION_STATES), key=order.index)
    ranks = _ranks(session, case.id)
    model = engine_model(version) if version else None
    thresholds = {"P1": model.p1_threshold, "P2": model.p2_threshold} if model is not None else {}
    return CasePage(
        case=case,
        assessment=assessment,
        score=score,
        model_version=version,
        explanation=explanation,
        scored_vector=score.scored_vector if score else "",
        theme=session.get(Theme, case.theme_id),
        units=units,
        names=_names(session, ids),
        history=history,
        history_models=history_models,
        ranks=ranks,
        rank_now=board_rank(session, score) if score is not None else None,
        intel=intel,
        intel_confidence={
            e.id: scoring.CONFIDENCE_LEVELS[confidence_from_grading(e.source_grade, e.info_grade)]
            for e in intel
            if e.id is not None
        },
        decisions=decisions,
        questions=questions,
        links=case_links(session=session, actor=actor, case_id=case.id),
        partners=load_workflow().partner_agencies,
        assets=list(session.exec(select(Asset).order_by(col(Asset.name))).all()),
        chairs=[p for p in people if p.role == Role.CHAIR],
        owners=people,
        transitions=transitions,
        may=_abilities(session, actor, case, assessment, decided=bool(decisions)),
        priority_chart=_priority_chart(history, score, thresholds),
        rank_chart=time_chart(
            [(r.taken_at, float(r.rank), "") for r in ranks], invert=True, y_floor=1
        ),
        thresholds=thresholds,
    )


def _abilities(
    session: Session, actor: User, case: Case, assessment: Assessment | None, *, decided: bool
) -> dict[str, bool]:
    """Which forms to offer. The services still decide: a form shown is not a promise."""
    state = State(case.state)
    assessor = assessment is not None and assessment.assessed_by_id == actor.id
    provisional = assessment is not None and assessment.provisional
    awaiting = assessment is not None and awaits_moderation(session, case, assessment)
    threat = assessment is not None and assessment.t == 1
    return {
        "assess": may(actor, "assessment.edit")
        and (state in REASSESSABLE_STATES or (provisional and state != State.CLOSED)),
        "intel": may(actor, "intel.log"),
        "moderator": may(actor, "score.moderate"),
        "moderate": may(actor, "score.moderate") and awaiting and not assessor,
        "awaiting_moderation": awaiting,
        "assessor": assessor,
        "transition": may(actor, "case.transition"),
        "decide": may(actor, "decision.record") and state == State.AWAITING_MEETING,
        "immediate": may(actor, "decision.immediate")
        and threat
        and state in IMMEDIATE_FROM
        and not decided,
        "mark": may(actor, "case.mark"),
        "link": may_link(actor),
        "ask": may(actor, "info.request")
        and case.kind == CaseKind.REQUEST
        and state == State.TRIAGE,
    }


def _priority_chart(
    history: list[ScoreHistory], score: CaseScore | None, thresholds: dict[str, float]
) -> Chart:
    """Priority at each stored score version, plus the current score when it is newer."""
    series: list[tuple[datetime, float, str]] = [
        (as_utc(row.scored_at), row.priority, f"chart__point--p{row.band}") for row in history
    ]
    newest = history[-1].score_version if history else 0
    if score is not None and score.score_version > newest:
        series.append((as_utc(score.scored_at), score.priority, f"chart__point--p{score.band}"))
    guides = [(value, f"{name} {value:g}", "chart__guide") for name, value in thresholds.items()]
    return time_chart(series, guides=guides)


def decision_values(page: CasePage, actor: User) -> dict[str, Any]:
    """The decision form's starting values: the score the page shows, the chair signed in."""
    return {
        "score_version": page.score.score_version if page.score else "",
        "assessment_version": page.assessment.version if page.assessment else "",
        "chair_id": actor.id if actor.role == Role.CHAIR else "",
        "strands": [],
    }
