"""The one history rule: human changes and model publishes keep the previous score, nightly
ageing only band changes; every kept score reproduces exactly (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from config.settings import DEFAULT_MODEL_FILE
from scoring import score_vectors
from scoring.vector import format_age
from tasking.db import make_engine, session_scope
from tasking.models import CaseScore, ModelVersion, ScoreHistory, utcnow
from tasking.services.cases import update_assessment
from tasking.services.history import AGE_TEXT, case_history
from tasking.services.rescore import rescore_all
from tasking.services.scores import engine_model, publish_model_text
from tests.support.intel import set_intel_at
from tests.tasking.conftest import Org
from tests.tasking.flow import RequestData, submit, version_of

MODEL_V2 = (
    DEFAULT_MODEL_FILE.read_text("utf-8")
    .replace("version = 1", "version = 2")
    .replace("P = 1.0 ", "P = 2.0 ")
)


def rows(engine: Engine, case_id: int) -> list[ScoreHistory]:
    """The case's history rows, by version."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(ScoreHistory)
                .where(ScoreHistory.case_id == case_id)
                .order_by(ScoreHistory.score_version)  # type: ignore[arg-type]
            ).all()
        )


def assert_reproducible(engine: Engine, kept: list[ScoreHistory]) -> None:
    """Every kept score comes back exactly from its vector and model."""
    with Session(engine) as session:
        for row in kept:
            model = session.get(ModelVersion, row.model_version_id)
            assert model is not None
            again = score_vectors([row.vector], model=engine_model(model))[0]
            assert (again["priority"], again["band"]) == (row.priority, f"P{row.band}")


def test_human_change_keeps_the_aged_score_it_replaces(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data)
    set_intel_at(engine, case_id, utcnow() - timedelta(days=3.25))
    rescore_all(engine=engine, reason="nightly")  # aged within P3: no row
    assert [r.score_version for r in rows(engine, case_id)] == [1]
    with Session(engine) as session:
        aged = session.get(CaseScore, case_id)
        assert aged is not None
        assert aged.score_version == 2
    with session_scope(engine) as session:
        update_assessment(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id),
            data={**request_data()["assessment"], "L": 5}, reason="Escalation",
        )  # fmt: skip
    kept = rows(engine, case_id)
    assert [(r.score_version, r.reason) for r in kept] == [(1, "submit"), (2, "kept"), (3, "edit")]
    assert kept[1].vector == aged.scored_vector
    assert kept[1].priority == aged.priority
    assert kept[1].scored_at == aged.scored_at
    assert_reproducible(engine, kept)


def test_score_version_rises_when_the_vector_changes_at_equal_priority(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id, _ = submit(engine, org, request_data, P=3, Ps=2)
    with session_scope(engine) as session:
        update_assessment(
            session=session, actor=org.users["analyst"], case_id=case_id,
            expected_version=version_of(engine, case_id),
            data={**request_data()["assessment"], "P": 2, "Ps": 3},
        )  # fmt: skip
    kept = rows(engine, case_id)
    assert [r.score_version for r in kept] == [1, 2]
    assert kept[0].priority == kept[1].priority
    assert "P:3/Ps:2" in kept[0].vector
    assert "P:2/Ps:3" in kept[1].vector


def test_model_publish_keeps_every_replaced_score(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    ids = [submit(engine, org, request_data, P=p)[0] for p in range(3)]
    set_intel_at(engine, ids[0], utcnow() - timedelta(days=12.3456))
    rescore_all(engine=engine, reason="nightly")
    with Session(engine) as session:
        before = {i: session.get(CaseScore, i) for i in ids}
    with session_scope(engine) as session:
        publish_model_text(session=session, content=MODEL_V2)
    rescore_all(engine=engine, reason="model")
    rescore_all(engine=engine, reason="model")  # again: nothing more kept
    for case_id in ids:
        old = before[case_id]
        assert old is not None
        kept = {r.score_version: r for r in rows(engine, case_id)}
        assert kept[old.score_version].vector == old.scored_vector  # the age as Python writes it
        assert kept[old.score_version].priority == old.priority
        assert kept[old.score_version].model_version_id == old.model_version_id
        # Aged scores had no row and are kept now; submitted ones were kept on submission.
        assert kept[old.score_version].reason == ("kept" if case_id == ids[0] else "submit")
        assert_reproducible(engine, list(kept.values()))
    aged = before[ids[0]]
    assert aged is not None
    assert aged.scored_vector.endswith("/A:12.3456")


def test_nightly_ageing_keeps_a_row_only_on_band_change(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    # 4+3+3+3 = 13 x 1.4 x 1.2 x 4 x 0.85 = 74.3: P2, falls to P3 as it ages.
    case_id, _ = submit(engine, org, request_data, P=4, Ps=3, F=3, C=3, S=3, V=1, L=4, Cf="M")
    set_intel_at(engine, case_id, utcnow() - timedelta(days=1))
    rescore_all(engine=engine, reason="nightly")
    assert len(rows(engine, case_id)) == 1
    set_intel_at(engine, case_id, utcnow() - timedelta(days=170))
    rescore_all(engine=engine, reason="nightly")
    kept = rows(engine, case_id)
    assert [(r.band, r.reason) for r in kept] == [(2, "submit"), (3, "nightly")]
    with Session(engine) as session:
        seen = case_history(session=session, actor=org.users["analyst"], case_id=case_id)
        assert [r.score_version for r in seen] == [r.score_version for r in kept]
    assert_reproducible(engine, kept)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_sql_age_text_matches_format_age(dialect: str, request: pytest.FixtureRequest) -> None:
    if dialect == "sqlite":
        eng = make_engine("sqlite://")
    else:
        eng = make_engine(request.getfixturevalue("postgres_server").create_database("agetext"))
    name = eng.dialect.name
    sql = f"SELECT {AGE_TEXT[name]} FROM (SELECT CAST(:a AS DOUBLE PRECISION) AS age_days) s"  # noqa: S608 - test SQL over fixed table and column names
    if name == "sqlite":
        sql = sql.replace("CAST(:a AS DOUBLE PRECISION)", ":a")

    @settings(max_examples=200, deadline=None)
    @given(st.floats(0, 5000, allow_nan=False))
    def check(raw: float) -> None:
        age = round(raw, 4)
        if age == 0:
            return
        with eng.connect() as conn:
            assert conn.execute(text(sql), {"a": age}).scalar_one() == format_age(age)

    check()
    eng.dispose()
