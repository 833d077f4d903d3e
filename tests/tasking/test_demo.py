"""The fictional demo: every state, the threat-to-life path, overdue reviews (both databases)."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from scoring import score_vectors
from tasking.db import session_scope
from tasking.models import (
    DECISION_STATES,
    OPEN_STATES,
    Assessment,
    AuditEvent,
    Case,
    CaseLink,
    Decision,
    DecisionAsset,
    InfoRequest,
    IntelEntry,
    ModelVersion,
    State,
    User,
    utcnow,
)
from tasking.services.demo import CASES, LINKS, PEOPLE, seed_demo
from tasking.services.scores import engine_model


def test_demo_shows_every_state_and_defensible_decisions(engine: Engine) -> None:
    with session_scope(engine) as session:
        logins = seed_demo(session=session)
    assert len(logins) == len(PEOPLE) == 9
    today = utcnow().date()
    with Session(engine) as session:
        users = session.exec(select(User)).all()
        assert len({u.role for u in users}) == 7
        cases = {c.reference: c for c in session.exec(select(Case)).all()}
        assert {c.state for c in cases.values()} == {s.value for s in State}
        assert {ref: cases[ref].state for ref in cases} == {d.ref: d.state for d in CASES}
        overdue = [
            c.reference
            for c in cases.values()
            if c.state in OPEN_STATES and c.next_review and c.next_review < today
        ]
        assert sorted(overdue) == ["OP-004", "OP-005"]
        gradings = {
            f"{e.source_grade}{e.info_grade}{e.handling}" for e in session.exec(select(IntelEntry))
        }
        assert gradings == {"1BP", "2BP", "3CP"}
        decisions = {d.case_id: d for d in session.exec(select(Decision)).all()}
        ran = {State.ACTIVE, State.UNDER_REVIEW, State.CLOSED} | DECISION_STATES
        assert {c.id for c in cases.values() if c.state in ran} == set(decisions)
        for decision in decisions.values():
            model = session.get(ModelVersion, decision.model_version_id)
            assert model is not None
            again = score_vectors([decision.vector_shown], model=engine_model(model))[0]
            assert again["priority"] == decision.priority_shown
        adopted = [d for d in decisions.values() if d.outcome == "adopted"]
        for decision in adopted:
            hours = session.exec(
                select(func.sum(DecisionAsset.hours)).where(
                    DecisionAsset.decision_id == decision.id
                )
            ).one()
            assert hours == decision.hours_granted > 0
        threat = cases["REQ-014"]
        assert decisions[threat.id].immediate  # type: ignore[index]
        assert decisions[threat.id].band_shown == 0  # type: ignore[index]
        completed = session.get(Assessment, threat.id)
        assert completed is not None
        assert not completed.provisional
        assert (completed.moderation, completed.moderated_version) == ("agreed", completed.version)
        assert cases["REQ-013"].retain_until is not None
        assert cases["REQ-013"].outcome_grades == '{"Prevent": "moderate"}'
        asked = session.exec(select(InfoRequest)).all()
        assert sorted(a.answer is not None for a in asked) == [False, True]


def test_demo_links_related_cases_and_logs_each_as_a_combination(engine: Engine) -> None:
    with session_scope(engine) as session:
        seed_demo(session=session)
    with Session(engine) as session:
        refs = {c.id: c.reference for c in session.exec(select(Case)).all()}
        pairs = {
            frozenset((refs[link.low_case_id], refs[link.high_case_id])): link.link_type
            for link in session.exec(select(CaseLink)).all()
        }
        assert pairs == {frozenset((a, b)): kind for a, b, kind, _ in LINKS}
        logged = session.exec(select(AuditEvent).where(AuditEvent.action == "case.link")).all()
        assert sorted(e.category for e in logged) == ["combination"] * len(LINKS)
        assert sorted(e.reason for e in logged) == sorted(reason for *_, reason in LINKS)
