"""The audit log (docs/reliability.md U1, U2) on SQLite and PostgreSQL.

U1: each s.62 operation writes a row with who, when, what, from where and why.
U2: the database refuses UPDATE and DELETE on the log; the hash chain finds an
edited, deleted, reordered or truncated row (the tests drop the triggers as an
attacker with database access would), also after concurrent appends.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
from collections.abc import Callable
from typing import Any

import click
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from tasking.db import make_engine, session_scope
from tasking.models import AuditEvent, AuditVerification
from tasking.services import audit
from tasking.services.audit import AuditContext, record_event, set_context, verify
from tasking.services.cases import create_case, get_case, submit_asset_request, update_assessment
from tasking.services.markings import set_marking
from tasking.services.requests import export_bcu_requests
from tasking.services.workflow import transition
from tests.tasking.conftest import Org

RequestData = Callable[..., dict[str, Any]]
WEB = AuditContext(
    origin="web", address="192.0.2.10", user_agent="TestBrowser/1.0",
    credential="session:abcd1234", reason_code="investigation", reason="Op WILLOW FERN",
)  # fmt: skip


def _events(engine: Engine, action: str | None = None) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).order_by(col(AuditEvent.seq))
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.exec(query).all())


def _verify(engine: Engine, **kwargs: Any) -> audit.Verdict:
    with engine.connect() as conn:
        return verify(conn, **kwargs)


def _append(engine: Engine, count: int, tag: str = "t") -> None:
    for i in range(count):
        with session_scope(engine) as session:
            record_event(
                session=session, actor=None, category="alteration", action="test.append",
                entity_type="unit", entity_id=i, detail={"tag": tag, "i": i},
            )  # fmt: skip


def _submit(engine: Engine, org: Org, request_data: RequestData, context: AuditContext) -> int:
    with session_scope(engine) as session:
        set_context(session, context)
        case = submit_asset_request(session=session, actor=org.users["bcu_a"], data=request_data())
        return int(case.id or 0)


# --- U1: the six operations, each with its context -----------------------------------


def _has_context(event: AuditEvent, context: AuditContext = WEB) -> None:
    assert (event.origin, event.address, event.user_agent, event.credential) == (
        context.origin, context.address, context.user_agent, context.credential,
    )  # fmt: skip
    assert event.at is not None
    assert len(event.row_hash) == 64


def test_u1_collection_is_logged_with_who_and_from_where(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id = _submit(engine, org, request_data, WEB)
    with session_scope(engine) as session:
        set_context(session, WEB)
        created = create_case(
            session=session, actor=org.users["coordinator"],
            data={**request_data(), "kind": "operation"},
        )  # fmt: skip
        created_id = created.id
    submitted = _events(engine, "request.submit")
    assert [(e.category, e.entity_id, e.actor_id) for e in submitted] == [
        ("collection", case_id, org.users["bcu_a"].id)
    ]
    _has_context(submitted[0])
    made = _events(engine, "case.create")
    assert [(e.category, e.entity_id) for e in made] == [("collection", created_id)]


def test_u1_alteration_edits_transitions_and_markings_are_logged(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id = _submit(engine, org, request_data, WEB)
    coordinator = org.users["coordinator"]
    with session_scope(engine) as session:
        set_context(session, WEB)
        case = update_assessment(
            session=session, actor=coordinator, case_id=case_id, expected_version=1,
            data={**request_data()["assessment"], "L": 5}, reason="New sightings.",
        )  # fmt: skip
        version = case.version
    with session_scope(engine) as session:
        set_context(session, WEB)
        case = transition(
            session=session, actor=coordinator, case_id=case_id, expected_version=version,
            to_state="triage", reason="Taken on.",
        )  # fmt: skip
        version = case.version
    with session_scope(engine) as session:
        set_context(session, WEB)
        set_marking(
            session=session, actor=coordinator, case_id=case_id, expected_version=version,
            data={"marking": "SECRET", "reason": "Covert source."},
        )  # fmt: skip
    for action, reason in (
        ("assessment.update", "New sightings."),
        ("case.transition", "Taken on."),
        ("case.mark", "Covert source."),
    ):
        (event,) = _events(engine, action)
        assert event.category == "alteration"
        assert event.entity_id == case_id
        assert event.actor_id == coordinator.id
        assert event.reason == reason  # the service's own reason wins over the context's
        _has_context(event)


def test_u1_consultation_carries_the_reason_given(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    case_id = _submit(engine, org, request_data, WEB)
    with session_scope(engine) as session:
        set_context(session, WEB)
        get_case(session=session, actor=org.users["coordinator"], case_id=case_id)
    (event,) = _events(engine, "case.view")
    assert (event.category, event.entity_id) == ("consultation", case_id)
    assert (event.reason_code, event.reason) == ("investigation", "Op WILLOW FERN")
    _has_context(event)


def test_u1_disclosure_export_is_logged_with_its_reason(
    engine: Engine, org: Org, request_data: RequestData
) -> None:
    _submit(engine, org, request_data, WEB)
    with session_scope(engine) as session:
        set_context(session, WEB)
        lines = export_bcu_requests(session=session, actor=org.users["bcu_a"])
    (event,) = _events(engine, "requests.export")
    assert event.category == "disclosure"
    assert json.loads(event.detail)["rows"] == len(lines) == 1
    assert event.reason_code == "investigation"
    _has_context(event)


def test_u1_erasure_contract_keeps_field_names_only(engine: Engine, org: Org) -> None:
    """The contract disposal follows: category "erasure", field names, never the text."""
    with session_scope(engine) as session:
        set_context(session, WEB)
        record_event(
            session=session, actor=org.users["auditor"], category="erasure",
            action="case.dispose", entity_type="case", entity_id=7,
            reason="Retention period ended; nothing outstanding.",
            detail={"fields": ["summary", "justification"]},
        )  # fmt: skip
    (event,) = _events(engine, "case.dispose")
    assert event.category == "erasure"
    assert json.loads(event.detail) == {"fields": ["summary", "justification"]}
    assert _verify(engine).ok


def test_u1_cli_and_worker_give_their_own_context(engine: Engine) -> None:
    with click.Context(click.Command("seed-demo"), info_name="tasking") as ctx:
        assert ctx is click.get_current_context()
        _append(engine, 1, "cli")
    (event,) = _events(engine)
    assert event.origin == "cli"
    assert event.credential == "cli:tasking"
    _append(engine, 1, "plain")
    assert _events(engine)[-1].origin == "system"
    from celery import Celery
    from celery._state import _task_stack

    app = Celery("audit-test", set_as_current=False)

    @app.task(name="tasking.nightly")
    def nightly() -> None:
        _append(engine, 1, "worker")

    nightly.push_request(id="task-1")
    _task_stack.push(nightly)
    try:
        nightly.run()
    finally:
        _task_stack.pop()
        nightly.pop_request()
    event = _events(engine)[-1]
    assert (event.origin, event.credential) == ("worker", "task:tasking.nightly")


def test_unknown_category_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="category"), session_scope(engine) as session:
        record_event(
            session=session, actor=None, category="peeking", action="x",
            entity_type="case", entity_id=1,
        )  # fmt: skip


# --- U2: append-only and tamper-evident ------------------------------------------------


def test_u2_chain_is_numbered_and_linked(engine: Engine) -> None:
    _append(engine, 5)
    events = _events(engine)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(events))
    verdict = _verify(engine)
    assert (verdict.ok, verdict.rows, verdict.through_seq) == (True, 5, 5)
    assert verdict.through_hash == events[-1].row_hash


def test_u2_the_database_refuses_update_and_delete(engine: Engine) -> None:
    _append(engine, 2)
    for statement in (
        "UPDATE audit_event SET reason = 'nothing to see' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE audit_event")
    assert [e.seq for e in _events(engine)] == [1, 2]
    assert _events(engine)[0].reason == ""


def _as_attacker(engine: Engine, *statements: str) -> None:
    """Remove the triggers, as someone with the database's owner rights could, and tamper."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_no_delete")
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_u2_verify_finds_an_edited_row(engine: Engine) -> None:
    _append(engine, 6)
    _as_attacker(engine, "UPDATE audit_event SET reason = 'routine check' WHERE seq = 4")
    verdict = _verify(engine)
    assert not verdict.ok
    assert verdict.bad_seq == 4
    assert "row 4 was altered" in verdict.problem
    assert verdict.through_seq == 3


def test_u2_verify_finds_a_deleted_row(engine: Engine) -> None:
    _append(engine, 6)
    _as_attacker(engine, "DELETE FROM audit_event WHERE seq = 3")
    verdict = _verify(engine)
    assert (verdict.ok, verdict.bad_seq) == (False, 3)
    assert "row 3 is missing" in verdict.problem


def test_u2_verify_finds_reordered_rows(engine: Engine) -> None:
    """Two rows swap places (their numbers exchanged): the links no longer join."""
    _append(engine, 6)
    _as_attacker(
        engine,
        "UPDATE audit_event SET seq = -1 WHERE seq = 2",
        "UPDATE audit_event SET seq = 2 WHERE seq = 3",
        "UPDATE audit_event SET seq = 3 WHERE seq = -1",
    )
    verdict = _verify(engine)
    assert (verdict.ok, verdict.bad_seq) == (False, 2)
    assert "does not follow row 1" in verdict.problem


def test_u2_verify_finds_a_truncated_end_and_a_rewritten_chain(engine: Engine) -> None:
    _append(engine, 5)
    with engine.connect() as conn:
        checkpoint = audit.chain_head(conn)
    assert checkpoint[0] == 5
    assert _verify(engine, checkpoint=checkpoint).ok
    _as_attacker(engine, "DELETE FROM audit_event WHERE seq = 5")
    verdict = _verify(engine)
    assert not verdict.ok
    assert "head names row 5" in verdict.problem
    # The attacker also moves the head back: the checkpoint kept outside still tells.
    _as_attacker(
        engine,
        "UPDATE audit_chain_head SET seq = 4, row_hash = "
        "(SELECT row_hash FROM audit_event WHERE seq = 4)",
    )
    assert _verify(engine).ok
    verdict = _verify(engine, checkpoint=checkpoint)
    assert not verdict.ok
    assert "no longer reaches the checkpoint 5" in verdict.problem


def test_u2_checkpoint_mismatch_is_found(engine: Engine) -> None:
    _append(engine, 3)
    with engine.connect() as conn:
        seq, digest = audit.chain_head(conn)
    forged = (seq, "f" * 64)
    verdict = _verify(engine, checkpoint=forged)
    assert not verdict.ok
    assert "does not match the checkpoint" in verdict.problem
    assert audit.parse_checkpoint(f"{seq}:{digest}") == (seq, digest)
    with pytest.raises(ValueError, match="SEQ:HASH"):
        audit.parse_checkpoint("3:nothex")


# The walk split across processes: stretches of 2 rows over a 12-row chain, so every
# tampering below touches a boundary (rows 2, 4, 6, 8, 10 end a stretch).
STRETCHES = {"workers": 2, "part_rows": 2}


def _both_walks(engine: Engine, **kwargs: Any) -> audit.Verdict:
    """The split walk's verdict, after checking it is the one walk's, word for word."""
    one = _verify(engine, **kwargs)
    split = _verify(engine, **kwargs, **STRETCHES)
    assert split == one
    return split


def test_u2_split_walk_stretches() -> None:
    assert audit._split(0, 12, 2, 2) == [0, 2, 4, 6, 8, 10, 12]
    assert audit._split(3, 12, 2, 2) == [3, 5, 7, 10, 12]  # from where the last walk ended
    assert audit._split(0, 3, 2, 2) == [0, 3]  # too few rows to split
    assert audit._split(0, 12, 1, 2) == [0, 12]
    assert audit._split(0, None, 2, 2) == [0, 0]  # no chain head: one walk


def test_u2_split_walk_of_a_whole_chain(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _append(engine, 12)
    walked: list[int] = []
    split = audit._walk_parts

    def counted(*args: Any) -> list[Any]:
        parts = split(*args)
        walked.append(len(parts))
        return parts

    monkeypatch.setattr(audit, "_walk_parts", counted)
    verdict = _both_walks(engine)
    assert walked == [6]  # six stretches, in worker processes
    assert (verdict.ok, verdict.rows, verdict.through_seq) == (True, 12, 12)
    with engine.connect() as conn:
        head = audit.chain_head(conn)
        middle = conn.exec_driver_sql("SELECT row_hash FROM audit_event WHERE seq = 5").scalar()
    assert verdict.through_hash == head[1]
    later = _both_walks(engine, after_seq=5, after_hash=str(middle), checkpoint=head)
    assert (later.ok, later.from_seq, later.rows) == (True, 6, 7)


@pytest.mark.parametrize(
    ("statements", "bad_seq", "words"),
    [
        (["UPDATE audit_event SET reason = 'x' WHERE seq = 4"], 4, "row 4 was altered"),
        (["UPDATE audit_event SET reason = 'x' WHERE seq = 5"], 5, "row 5 was altered"),
        (["DELETE FROM audit_event WHERE seq = 4"], 4, "row 4 is missing: after row 3"),
        (["DELETE FROM audit_event WHERE seq = 5"], 5, "row 5 is missing: after row 4"),
        (["DELETE FROM audit_event WHERE seq IN (5, 6)"], 5, "after row 4 the next row is 7"),
        (["DELETE FROM audit_event WHERE seq = 12"], 12, "head names row 12"),
        (
            [  # rows 4 and 5 swap places across a boundary
                "UPDATE audit_event SET seq = -1 WHERE seq = 4",
                "UPDATE audit_event SET seq = 4 WHERE seq = 5",
                "UPDATE audit_event SET seq = 5 WHERE seq = -1",
            ],
            4,
            "row 4 does not follow row 3",
        ),
        (  # two problems in two stretches: the first one is named
            [
                "UPDATE audit_event SET reason = 'x' WHERE seq = 10",
                "DELETE FROM audit_event WHERE seq = 7",
            ],
            7,
            "row 7 is missing",
        ),
    ],
)
def test_u2_split_walk_names_the_same_first_problem_at_a_boundary(
    engine: Engine, statements: list[str], bad_seq: int, words: str
) -> None:
    _append(engine, 12)
    _as_attacker(engine, *statements)
    verdict = _both_walks(engine)
    assert not verdict.ok
    assert verdict.bad_seq == bad_seq
    assert words in verdict.problem


def test_u2_split_walk_checks_the_checkpoint_in_any_stretch(engine: Engine) -> None:
    _append(engine, 12)
    with engine.connect() as conn:
        row_7 = conn.exec_driver_sql("SELECT row_hash FROM audit_event WHERE seq = 7").scalar()
    assert _both_walks(engine, checkpoint=(7, str(row_7))).ok
    forged = _both_walks(engine, checkpoint=(7, "e" * 64))
    assert (forged.ok, forged.bad_seq, forged.rows) == (False, 7, 6)
    assert "does not match the checkpoint" in forged.problem
    beyond = _both_walks(engine, checkpoint=(13, "e" * 64))
    assert "no longer reaches the checkpoint 13" in beyond.problem


def test_u2_nightly_verifies_only_what_was_added_and_records_it(engine: Engine) -> None:
    _append(engine, 4)
    first = audit.verify_since_last(engine)
    assert (first.ok, first.from_seq, first.through_seq, first.rows) == (True, 1, 4, 4)
    _append(engine, 2)
    second = audit.verify_since_last(engine)
    assert (second.ok, second.from_seq, second.through_seq, second.rows) == (True, 5, 6, 2)
    _append(engine, 2)
    _as_attacker(engine, "UPDATE audit_event SET action = 'x' WHERE seq = 7")
    third = audit.verify_since_last(engine)
    assert (third.ok, third.from_seq, third.bad_seq) == (False, 7, 7)
    with Session(engine) as session:
        rows = session.exec(select(AuditVerification).order_by(col(AuditVerification.id))).all()
    assert [(r.ok, r.through_seq) for r in rows] == [(True, 4), (True, 6), (False, 6)]
    assert "row 7 was altered" in rows[-1].problem
    # The next night starts again from the last good walk, so the problem stays reported.
    assert audit.verify_since_last(engine).bad_seq == 7


def _appender(url: str, worker: int, count: int, errors: Any) -> None:
    engine = make_engine(url, busy_ms=30_000)
    failures = 0
    for i in range(count):
        try:
            with session_scope(engine) as session:
                record_event(
                    session=session, actor=None, category="alteration", action="test.race",
                    entity_type="unit", entity_id=worker, detail={"i": i},
                )  # fmt: skip
        except Exception as exc:  # every failure counts
            failures += 1
            errors.put(f"{worker}: {exc}")
    errors.put(failures)
    engine.dispose()


def test_u2_concurrent_appends_from_two_processes_keep_one_chain(engine: Engine) -> None:
    count = 60
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    url = engine.url.render_as_string(hide_password=False)
    workers = [context.Process(target=_appender, args=(url, w, count, errors)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert [w.exitcode for w in workers] == [0, 0]
    reports = [errors.get(timeout=5) for _ in range(2)]
    assert reports == [0, 0]
    events = _events(engine)
    assert [e.seq for e in events] == list(range(1, 2 * count + 1))
    assert {e.entity_id for e in events} == {0, 1}
    verdict = _verify(engine)
    assert (verdict.ok, verdict.rows) == (True, 2 * count)


def test_u2_cli_verify_checkpoint_and_exit_status(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tasking.cli import main

    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    _append(engine, 4)
    printed = runner.invoke(main, ["audit", "checkpoint"])
    assert printed.exit_code == 0, printed.output
    checkpoint = printed.output.strip()
    with engine.connect() as conn:
        assert audit.parse_checkpoint(checkpoint) == audit.chain_head(conn)
    good = runner.invoke(main, ["audit", "verify", "--checkpoint", checkpoint, "--record"])
    assert good.exit_code == 0, good.output
    assert "audit chain good: rows 1 to 4" in good.output
    assert _events(engine)[-1].origin == "system"  # verifying writes no audit row of its own
    _as_attacker(engine, "UPDATE audit_event SET entity_id = 99 WHERE seq = 2")
    bad = runner.invoke(main, ["audit", "verify", "--checkpoint", checkpoint])
    assert bad.exit_code == 1
    assert "AUDIT CHAIN BROKEN: row 2 was altered" in bad.output
    refused = runner.invoke(main, ["audit", "verify", "--checkpoint", "4:xyz"])
    assert refused.exit_code == 2
    with Session(engine) as session:
        kept = session.exec(select(AuditVerification)).one()
    assert (kept.origin, kept.ok, kept.through_seq) == ("cli", True, 4)


def test_u2_the_nightly_run_verifies_the_new_rows_and_says_so(engine: Engine, org: Org) -> None:
    from datetime import date

    from tests.support.runs import completed_run

    _append(engine, 3)
    first = completed_run(engine, kind="nightly", run_date=date(2026, 12, 1))
    assert json.loads(first.summary)["audit_chain"] == {
        "ok": True, "from_seq": 1, "through_seq": 3, "rows": 3, "problem": "",
    }  # fmt: skip
    _append(engine, 2)
    _as_attacker(engine, "UPDATE audit_event SET reason = 'x' WHERE seq = 5")
    second = completed_run(engine, kind="nightly", run_date=date(2026, 12, 2))
    found = json.loads(second.summary)["audit_chain"]
    assert (found["ok"], found["from_seq"], found["through_seq"]) == (False, 4, 4)
    assert "row 5 was altered" in found["problem"]


def test_u2_migration_0008_chains_the_rows_already_there(tmp_path: Any) -> None:
    """A database with audit rows from before the chain: numbered and hashed in id order."""
    from tasking.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0007")
    with engine.begin() as conn:
        for i in range(3):
            conn.exec_driver_sql(
                "INSERT INTO audit_event (at, category, action, entity_type, entity_id, reason,"  # noqa: S608 - test SQL over fixed table and column names
                f" detail) VALUES ('2026-11-0{i + 1} 10:00:00.000000', 'consultation',"
                f" 'case.view', 'case', {i + 1}, 'old reason {i}', '{{}}')"
            )
    upgrade(engine)
    events = _events(engine)
    assert [(e.seq, e.entity_id, e.origin) for e in events] == [
        (1, 1, "system"), (2, 2, "system"), (3, 3, "system"),
    ]  # fmt: skip
    verdict = _verify(engine)
    assert (verdict.ok, verdict.rows) == (True, 3)
    _append(engine, 1)  # new rows follow on from the old ones
    assert _verify(engine).rows == 4
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_event WHERE seq = 1")
    engine.dispose()
