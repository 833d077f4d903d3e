"""The bulk case generator, on SQLite and PostgreSQL: counts, scores, board order, determinism."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlmodel import Session, func, select

import scoring
from config.workflow import load_workflow
from tasking.cli import main
from tasking.db import make_engine, session_scope
from tasking.migrate import upgrade
from tasking.models import (
    NO_DEADLINE,
    OPEN_STATES,
    Assessment,
    Asset,
    Case,
    CaseKind,
    CaseScore,
    Decision,
    DecisionAsset,
    Role,
    ScoreHistory,
    State,
    Theme,
    Unit,
    UnitKind,
    User,
)
from tasking.services.board import BoardFilter, board_page
from tasking.services.errors import Invalid
from tasking.services.generator import generate_cases
from tasking.services.generator.vocab import DECIDED, SUBJECT_THEMES
from tasking.services.scores import age_days, assessment_inputs, score_case
from tests.support.postgres import ThrowawayPostgres

NOW = datetime(2026, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)
FIRST, SECOND = 1500, 500  # two runs: the second must continue after the first's ids
TOTAL = FIRST + SECOND
KINDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
_names = itertools.count(1)


class Databases:
    """Fresh, migrated, empty databases of one kind; all dropped by close()."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp: Path) -> None:
        self.kind, self.request, self.tmp = kind, request, tmp
        self.engines: list[Engine] = []
        self.pg_names: list[str] = []

    def new(self) -> Engine:
        """One more database."""
        name = f"gen_{next(_names)}"
        if self.kind == "sqlite":
            url = f"sqlite:///{self.tmp / f'{name}.db'}"
        else:
            url = self.server().create_database(name, replace=True)
            self.pg_names.append(name)
        engine = make_engine(url)
        self.engines.append(engine)
        upgrade(engine)
        return engine

    def server(self) -> ThrowawayPostgres:
        """The session's PostgreSQL server (only asked for by PostgreSQL tests)."""
        server: ThrowawayPostgres = self.request.getfixturevalue("postgres_server")
        return server

    def close(self) -> None:
        """Dispose of every engine and drop the PostgreSQL databases."""
        for engine in self.engines:
            engine.dispose()
        for name in self.pg_names:
            self.server().drop_database(name)


@pytest.fixture(params=KINDS)
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    """A maker of fresh databases of each kind for one test."""
    made = Databases(request.param, request, tmp_path)
    yield made
    made.close()


@dataclass
class OrgIds:
    """Ids of the small organisation the generated cases point at."""

    bcus: list[int]
    hubs: list[int]
    themes: list[int]
    coordinator: int
    requester: int
    requester_bcu: int


def make_org(engine: Engine) -> OrgIds:
    """Three BCUs, a hub, a central unit, four themes, two assets and a few users."""
    with session_scope(engine) as session:
        bcus = [Unit(code=f"BCU-{c}", name=f"{c} BCU", kind=UnitKind.BCU) for c in "XYZ"]
        hub = Unit(code="HUB-Q", name="Quiet Hub", kind=UnitKind.HUB)
        central = Unit(code="CEN-Q", name="Quiet Central", kind=UnitKind.CENTRAL)
        # One theme the word lists know (DRUGS), so titles and themes can be checked.
        themes = [Theme(code=c, name=f"Theme {c}") for c in ("DRUGS", "T1", "T2", "T3")]
        session.add_all([*bcus, hub, central, *themes])
        session.flush()
        session.add_all(
            [
                Asset(code="S1", name="Surveillance", asset_type="surveillance",
                      hub_id=hub.id, weekly_capacity_hours=100),
                Asset(code="D1", name="Dogs", asset_type="dogs",
                      hub_id=central.id, weekly_capacity_hours=50),
            ]
        )  # fmt: skip
        users = {
            name: User(username=name, display_name=name.title(), role=role,
                       unit_id=unit.id if unit else None, password_hash="not-a-hash")
            for name, role, unit in (
                ("coord", Role.COORDINATOR, None),
                ("analyst", Role.ANALYST, None),
                ("req_x", Role.BCU_REQUESTER, bcus[0]),
                ("req_y", Role.BCU_REQUESTER, bcus[1]),
            )
        }  # fmt: skip
        session.add_all(users.values())
        session.flush()
        return OrgIds(
            bcus=[b.id for b in bcus if b.id],
            hubs=[u.id for u in (hub, central) if u.id],
            themes=[t.id for t in themes if t.id],
            coordinator=users["coord"].id or 0,
            requester=users["req_x"].id or 0,
            requester_bcu=bcus[0].id or 0,
        )


@dataclass
class Generated:
    """A generated database and its organisation."""

    engine: Engine
    org: OrgIds
    made: Databases


@pytest.fixture(scope="module", params=KINDS)
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Generated]:
    """One database per kind with TOTAL generated cases, shared by the read-only tests."""
    made = Databases(request.param, request, tmp_path_factory.mktemp("generated"))
    engine = made.new()
    org = make_org(engine)
    progress: list[int] = []
    assert generate_cases(engine=engine, count=0, now=NOW) == 0
    assert (
        generate_cases(
            engine=engine, count=FIRST, seed=11, now=NOW, batch=400, progress=progress.append
        )
        == FIRST
    )
    assert progress == [400, 400, 400, 300]
    assert generate_cases(engine=engine, count=SECOND, seed=12, now=NOW) == SECOND
    yield Generated(engine=engine, org=org, made=made)
    made.close()


def load(engine: Engine) -> list[tuple[Case, Assessment, CaseScore]]:
    """Every case with its assessment and score row, by id."""
    with Session(engine) as session:
        rows = session.exec(
            select(Case, Assessment, CaseScore)
            .join(Assessment, Assessment.case_id == Case.id)  # type: ignore[arg-type]
            .join(CaseScore, CaseScore.case_id == Case.id)  # type: ignore[arg-type]
            .order_by(Case.id)  # type: ignore[arg-type]
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_generate_cases_counts_ids_and_references(generated: Generated) -> None:
    with Session(generated.engine) as session:
        for table in (Case, Assessment, CaseScore):
            assert session.exec(select(func.count()).select_from(table)).one() == TOTAL
        assert session.exec(select(func.count()).select_from(ScoreHistory)).one() == 0
        refs = session.exec(select(Case.id, Case.reference).order_by(Case.id)).all()  # type: ignore[arg-type]
    # The second run continued after the first's ids; references come from the ids.
    assert [case_id for case_id, _ in refs] == list(range(1, TOTAL + 1))
    assert len({ref for _, ref in refs}) == TOTAL
    assert all(ref == f"GEN-{case_id:07d}" for case_id, ref in refs)


def test_generate_cases_open_cases_are_on_the_board_with_their_facts(
    generated: Generated,
) -> None:
    rows = load(generated.engine)
    assert len(rows) == TOTAL
    open_count = 0
    for case, _, score in rows:
        is_open = case.state in OPEN_STATES
        open_count += is_open
        assert score.on_board is is_open, case.reference
        assert (score.state, score.kind, score.bcu_id, score.hub_id, score.theme_id) == (
            case.state, case.kind, case.bcu_id, case.hub_id, case.theme_id,
        )  # fmt: skip
        assert score.asset_type == case.asset_type
        assert score.bk_deadline == (case.opportunity_deadline or NO_DEADLINE)
        assert score.bk_submitted == (case.submitted_at or case.created_at)
        assert score.score_version == 1
        assert score.scored_at == NOW
    assert 0.7 * TOTAL < open_count < TOTAL  # mostly open, some closed, declined or draft


def test_generate_cases_scores_equal_the_engine_on_stored_inputs(generated: Generated) -> None:
    rows = load(generated.engine)
    assessments = [a for _, a, _ in rows]
    # Recomputed from the stored assessment rows alone, with the inline scorer's age rule.
    ages = np.array([age_days(a.intel_at, NOW) for a in assessments])
    columns = {
        key: np.array([assessment_inputs(a)[key] for a in assessments], dtype=np.int8)
        for key in scoring.INTEGER_KEYS
    }
    expected = scoring.score_arrays({**columns, "A": ages})
    for i, (_, assessment, score) in enumerate(rows):
        assert score.age_days == ages[i]
        for key in ("harm_base", "total_harm", "risk", "freshness", "priority"):
            assert getattr(score, key) == expected[key][i], (key, assessment.case_id)
        assert (score.band, score.position, score.position_grade) == (
            expected["band"][i], expected["position"][i], expected["position_grade"][i],
        )  # fmt: skip
        assert score.threat == assessment.t
        assert score.vector == assessment.vector
        assert assessment.vector == scoring.format_vector(assessment_inputs(assessment))
        assert (score.bk_threat, score.bk_priority, score.bk_position) == (
            1 - assessment.t, -score.priority, -score.position,
        )  # fmt: skip


def test_generate_cases_stores_what_score_case_would(generated: Generated) -> None:
    ids = [row[0].id for row in load(generated.engine)[:: TOTAL // 40]]
    with Session(generated.engine) as session:
        for case_id in ids:
            case = session.get(Case, case_id)
            assessment = session.get(Assessment, case_id)
            before = session.get(CaseScore, case_id)
            assert case is not None
            assert assessment is not None
            assert before is not None
            snapshot = before.model_dump()
            after = score_case(
                session=session, case=case, assessment=assessment, reason="edit", now=NOW
            )
            # Unchanged numbers: no new score version and no history row.
            assert after.model_dump() == snapshot
        history = session.exec(select(func.count()).select_from(ScoreHistory)).one()
        session.rollback()
    assert history == 0


def test_generate_cases_distributions_are_skewed(generated: Generated) -> None:
    rows = load(generated.engine)
    bands = Counter(score.band for _, _, score in rows)
    assert bands[3] > TOTAL / 2  # P3 is the majority
    assert bands[3] > bands[2] > bands[1] > 0
    assert bands[0] == sum(a.t for _, a, _ in rows) > 0  # some threat to life
    harms = Counter(getattr(a, key) for _, a, _ in rows for key in ("p", "ps", "f", "c"))
    assert harms[0] + harms[1] + harms[2] > 0.7 * sum(harms.values())
    assert 0 < harms[4] < 0.1 * sum(harms.values())
    kinds = Counter(case.kind for case, _, _ in rows)
    assert kinds[1] < kinds[2]
    assert kinds[1] < kinds[3]
    deadlines = sum(case.opportunity_deadline is not None for case, _, _ in rows)
    assert 0.2 * TOTAL < deadlines < 0.4 * TOTAL
    ages = [score.age_days for _, _, score in rows]
    assert min(ages) >= 0
    assert max(ages) <= 400
    assert max(ages) > 300
    submitted = [case.submitted_at for case, _, _ in rows if case.submitted_at]
    assert NOW - timedelta(days=366) < min(submitted)
    assert max(submitted) <= NOW
    assert {case.bcu_id for case, _, _ in rows} == {None, *generated.org.bcus}
    assert {case.hub_id for case, _, _ in rows} == set(generated.org.hubs)
    assert {case.theme_id for case, _, _ in rows} == set(generated.org.themes)
    assert {case.asset_type for case, _, _ in rows} == {None, "surveillance", "dogs"}
    codenames = [case.codename for case, _, _ in rows if case.kind == 1]
    assert all(name and name.startswith("Op ") for name in codenames)


def board_key(case: Case, score: CaseScore) -> tuple[Any, ...]:
    """The ranking of docs/scoring.md, from the case facts and the stored numbers."""
    deadline = case.opportunity_deadline or date.max
    return (-score.threat, -score.priority, -score.position, deadline,
            case.submitted_at or case.created_at, case.id)  # fmt: skip


def test_generate_cases_themes_follow_titles_and_moderation_is_by_another(
    generated: Generated,
) -> None:
    rows = load(generated.engine)
    drugs = generated.org.themes[0]
    drug_subjects = [s for s, code in SUBJECT_THEMES.items() if code == "DRUGS"]
    titled = [c for c, _, _ in rows if c.kind != CaseKind.OPERATION]
    for case in titled:
        if any(subject in case.title for subject in drug_subjects):
            assert case.theme_id == drugs, case.title
    assert any(c.theme_id == drugs for c in titled)
    moderated = [a for _, a, _ in rows if a.moderation != "pending"]
    assert moderated
    for assessment in moderated:
        assert assessment.moderated_by_id != assessment.assessed_by_id
        assert assessment.moderated_version == assessment.version  # decidable at the meeting
        assert (assessment.moderation == "varied") == bool(assessment.moderation_note)


def test_generate_cases_decided_cases_have_their_decision(generated: Generated) -> None:
    rows = {case.id: (case, score) for case, _, score in load(generated.engine)}
    with Session(generated.engine) as session:
        decisions = session.exec(select(Decision)).all()
        granted = session.exec(select(DecisionAsset)).all()
    by_case = {d.case_id: d for d in decisions}
    assert len(by_case) == len(decisions)  # one each
    decided = {i for i, (case, _) in rows.items() if case.state in DECIDED}
    assert set(by_case) == decided
    partners = {p.code for p in load_workflow().partner_agencies}
    hours = {d.id: 0 for d in decisions}
    first: dict[int | None, int] = {}
    for asset in granted:
        hours[asset.decision_id] += asset.hours
        first.setdefault(asset.decision_id, asset.asset_id)
    for case_id, decision in by_case.items():
        case, score = rows[case_id]
        assert decision.outcome == DECIDED[State(case.state)]
        assert decision.vector_shown == score.scored_vector
        again = scoring.score_vectors([decision.vector_shown])[0]  # the default model
        assert again["priority"] == decision.priority_shown
        assert again["grading"] == decision.grading_shown
        assert (decision.next_review is not None) == (decision.outcome in ("adopted", "deferred"))
        assert (decision.referral_destination in partners) == (decision.outcome == "referred")
        assert bool(decision.decline_reason) == (decision.outcome == "declined")
        assert hours[decision.id] == decision.hours_granted
        assert decision.asset_id == first.get(decision.id)
        assert (decision.hours_granted > 0) == (decision.outcome == "adopted")


def walk(engine: Engine, actor_id: int, filters: BoardFilter | None = None) -> list[Any]:
    """Every row of a board, page by page through the cursors."""
    rows: list[Any] = []
    cursor = None
    with Session(engine) as session:
        actor = session.get(User, actor_id)
        assert actor is not None
        while True:
            page = board_page(session=session, actor=actor, filters=filters, cursor=cursor,
                              limit=150)  # fmt: skip
            rows.extend(page.rows)
            if page.next_cursor is None:
                return rows
            cursor = page.next_cursor


def test_generate_cases_board_pages_are_in_ranking_order(generated: Generated) -> None:
    rows = load(generated.engine)
    expected = sorted(
        ((case, score) for case, _, score in rows if case.state in OPEN_STATES),
        key=lambda pair: board_key(*pair),
    )
    board = walk(generated.engine, generated.org.coordinator)
    assert [r.case_id for r in board] == [case.id for case, _ in expected]
    assert [r.rank for r in board] == list(range(1, len(expected) + 1))
    assert board[0].threat == 1

    theme = generated.org.themes[0]
    filtered = walk(
        generated.engine, generated.org.coordinator, BoardFilter(theme_id=theme, band=3)
    )
    wanted = [c.id for c, s in expected if c.theme_id == theme and s.band == 3]
    assert [r.case_id for r in filtered] == wanted
    assert wanted

    own = walk(generated.engine, generated.org.requester)
    mine = [
        c.id
        for c, _ in expected
        if c.bcu_id == generated.org.requester_bcu and c.kind == CaseKind.REQUEST
    ]  # their own BCU's requests only, never operations or intelligence cases
    assert [r.case_id for r in own] == mine
    assert len(mine) < len(expected)


def dump(engine: Engine) -> dict[str, list[Any]]:
    """Every row of the generated tables, in id order."""
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]  # noqa: S608 - test SQL over fixed table and column names
            for table in ("case_record", "assessment", "case_score")
        }


def test_generate_cases_is_deterministic_and_leaves_ids_usable(generated: Generated) -> None:
    engine = generated.made.new()
    make_org(engine)
    generate_cases(engine=engine, count=FIRST, seed=11, now=NOW, batch=400)
    generate_cases(engine=engine, count=SECOND, seed=12, now=NOW)
    assert dump(engine) == dump(generated.engine)
    # A case added the ordinary way after a bulk run gets the next id (PostgreSQL: sequence).
    with session_scope(engine) as session:
        org = generated.org
        case = Case(reference="ORM-1", kind=3, title="after the bulk run",
                    theme_id=org.themes[0], created_by_id=org.coordinator)  # fmt: skip
        session.add(case)
        session.flush()
        assert case.id == TOTAL + 1
    other = generated.made.new()
    make_org(other)
    generate_cases(engine=other, count=FIRST, seed=99, now=NOW, batch=400)
    assert dump(other)["assessment"] != dump(engine)["assessment"][:FIRST]


def test_generate_cases_refuses_without_an_organisation(databases: Databases) -> None:
    engine = databases.new()
    with pytest.raises(Invalid, match="run `tasking seed-demo` first") as caught:
        generate_cases(engine=engine, count=10, now=NOW)
    assert set(caught.value.fields) == {"BCUs", "hubs", "themes", "users"}
    with pytest.raises(Invalid, match="count"):
        generate_cases(engine=engine, count=-1, now=NOW)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Case)).one() == 0


def test_generate_command_reports_count_and_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    monkeypatch.setenv("DATABASE_URL", url)
    refused = CliRunner().invoke(main, ["generate", "--cases", "10"])
    assert refused.exit_code == 1
    assert "run `tasking seed-demo` first" in refused.stderr
    make_org(engine)
    result = CliRunner().invoke(
        main, ["generate", "--cases", "120", "--seed", "3", "--batch", "50"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("generated 120 fictional cases in ")
    assert "cases/s" in result.stdout
    assert url not in result.output  # the database address is never printed
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(CaseScore)).one() == 120
    engine.dispose()
