"""API tokens and idempotency keys on both databases: hashed at rest, expiry, revocation, races."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from tasking.cli import main
from tasking.db import make_engine, session_scope, writer
from tasking.models import ApiToken, AuditEvent, IdempotencyKey, User, as_utc, utcnow
from tasking.services.errors import Forbidden, Invalid, NotFound
from tasking.services.idempotency import (
    KEEP,
    Replay,
    body_hash,
    claim_key,
    purge_expired,
    record_answer,
)
from tasking.services.tokens import (
    TOKEN_PREFIX,
    authenticate,
    create_token,
    hash_token,
    list_tokens,
    needs_touch,
    revoke_token,
    touch_token,
)
from tests.tasking.conftest import Org


def _new(engine: Engine, org: Org, username: str = "coordinator", **kwargs: Any) -> str:
    owner = org.users[username]
    with session_scope(engine) as session:
        return create_token(
            session=session, actor=owner, owner_id=owner.id or 0, name="laptop", **kwargs
        ).secret


def test_token_is_stored_only_as_its_sha256(engine: Engine, org: Org) -> None:
    secret = _new(engine, org)
    assert secret.startswith(TOKEN_PREFIX)
    assert len(secret) > 40  # 256 random bits, URL-safe
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_token")).all()
    assert len(rows) == 1
    stored = [str(value) for value in rows[0]]
    assert all(secret not in value for value in stored)
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    assert hash_token(secret) in stored


def test_authenticate_finds_the_owner_and_refuses_everything_else(engine: Engine, org: Org) -> None:
    secret = _new(engine, org, "bcu_a")
    with session_scope(engine, write=False) as session:
        found = authenticate(session=session, secret=secret)
        assert found is not None
        assert found[1].username == "bcu_requester"
        for wrong in ("", "tsk_", secret + "x", secret[:-1], "Bearer " + secret, "x" * 500):
            assert authenticate(session=session, secret=wrong) is None


def test_expired_token_is_refused(engine: Engine, org: Org) -> None:
    secret = _new(engine, org, days=1)
    with session_scope(engine, write=False) as session:
        now = utcnow()
        assert authenticate(session=session, secret=secret, now=now) is not None
        later = now + timedelta(days=1, seconds=1)
        assert authenticate(session=session, secret=secret, now=later) is None


def test_revoked_token_is_refused_and_revocation_is_logged(engine: Engine, org: Org) -> None:
    owner = org.users["analyst"]
    secret = _new(engine, org, "analyst")
    with session_scope(engine) as session:
        token_id = list_tokens(session=session, actor=owner, owner_id=owner.id or 0)[0].id
        assert token_id is not None
        revoke_token(session=session, actor=owner, token_id=token_id)
    with session_scope(engine, write=False) as session:
        assert authenticate(session=session, secret=secret) is None
        actions = session.exec(select(AuditEvent.action)).all()
    assert actions.count("token.create") == 1
    assert actions.count("token.revoke") == 1


def test_disabled_owner_token_is_refused(engine: Engine, org: Org) -> None:
    secret = _new(engine, org, "chair")
    with session_scope(engine) as session:
        session.execute(text("UPDATE app_user SET is_active = false WHERE username = 'chair'"))
    with session_scope(engine, write=False) as session:
        assert authenticate(session=session, secret=secret) is None


def test_only_the_owner_or_an_admin_manages_tokens(engine: Engine, org: Org) -> None:
    owner, other, admin = org.users["analyst"], org.users["analyst2"], org.users["admin"]
    _new(engine, org, "analyst")
    with session_scope(engine) as session:
        with pytest.raises(Forbidden):
            list_tokens(session=session, actor=other, owner_id=owner.id or 0)
        with pytest.raises(Forbidden):
            create_token(session=session, actor=other, owner_id=owner.id or 0, name="x")
        token_id = list_tokens(session=session, actor=admin, owner_id=owner.id or 0)[0].id
        assert token_id is not None
        with pytest.raises(NotFound):  # someone else's token does not exist for them
            revoke_token(session=session, actor=other, token_id=token_id)
        assert revoke_token(session=session, actor=admin, token_id=token_id).revoked_at


@pytest.mark.parametrize(
    ("name", "days", "field"),
    [("", 30, "name"), ("ok", 0, "days"), ("ok", 400, "days"), ("x" * 65, 30, "name")],
)
def test_create_token_names_bad_input(
    engine: Engine, org: Org, name: str, days: int, field: str
) -> None:
    owner = org.users["coordinator"]
    with session_scope(engine) as session, pytest.raises(Invalid) as refused:
        create_token(session=session, actor=owner, owner_id=owner.id or 0, name=name, days=days)
    assert field in refused.value.fields


def test_last_use_is_noted_at_most_once_a_minute(engine: Engine, org: Org) -> None:
    _new(engine, org)
    with session_scope(engine) as session:
        token = session.exec(select(ApiToken)).one()
        now = utcnow()
        assert needs_touch(token, now)
        touch_token(session=session, token_id=token.id or 0, now=now)
        session.refresh(token)
        assert not needs_touch(token, now + timedelta(seconds=30))
        assert needs_touch(token, now + timedelta(seconds=61))


# Idempotency keys


def _claim(session: Session, user_id: int, key: str, body: Any) -> IdempotencyKey | Replay:
    return claim_key(session=session, user_id=user_id, key=key, request_hash=body_hash(body))


def test_a_used_key_replays_the_first_answer(engine: Engine, org: Org) -> None:
    user_id = org.users["bcu_a"].id or 0
    with session_scope(engine) as session:
        claim = _claim(session, user_id, "k1", {"a": 1, "b": [1, 2]})
        assert isinstance(claim, IdempotencyKey)
        record_answer(session=session, claim=claim, case_id=None, status=201, body='{"id":7}')
    with session_scope(engine) as session:
        again = _claim(session, user_id, "k1", {"b": [1, 2], "a": 1})  # same body, other order
        assert again == Replay(status=201, body='{"id":7}')
        with pytest.raises(Invalid) as refused:
            _claim(session, user_id, "k1", {"a": 2})
        assert "Idempotency-Key" in refused.value.fields
        other_user = _claim(session, org.users["bcu_b"].id or 0, "k1", {"a": 2})
        assert isinstance(other_user, IdempotencyKey)  # keys are per user


def test_keys_are_forgotten_after_a_day(engine: Engine, org: Org) -> None:
    user_id = org.users["bcu_a"].id or 0
    then = utcnow() - KEEP - timedelta(minutes=1)
    with session_scope(engine) as session:
        claim = claim_key(session=session, user_id=user_id, key="old", request_hash="h", now=then)
        assert isinstance(claim, IdempotencyKey)
        record_answer(session=session, claim=claim, case_id=None, status=201, body="{}")
    with session_scope(engine) as session:
        fresh = claim_key(session=session, user_id=user_id, key="old", request_hash="other")
        assert isinstance(fresh, IdempotencyKey)


def test_purge_forgets_only_keys_older_than_a_day(engine: Engine, org: Org) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        for user, age in (
            ("bcu_a", KEEP + timedelta(seconds=1)),
            ("bcu_b", KEEP - timedelta(minutes=1)),
        ):
            claim_key(session=session, user_id=org.users[user].id or 0, key="k",
                      request_hash="h", now=now - age)  # fmt: skip
    with session_scope(engine) as session:
        assert purge_expired(session=session, now=now) == 1
        left = session.exec(select(IdempotencyKey)).all()
    assert [row.user_id for row in left] == [org.users["bcu_b"].id]


def test_two_concurrent_claims_of_one_key_give_one_winner(engine: Engine, org: Org) -> None:
    """The loser waits for the winner's commit (no check-then-insert gap) and replays it."""
    user_id = org.users["bcu_a"].id or 0
    outcome: dict[str, Any] = {}
    first_claimed = threading.Event()

    def second() -> None:
        first_claimed.wait(10)
        with Session(writer(engine), expire_on_commit=False) as session:
            outcome["second"] = _claim(session, user_id, "race", {"x": 1})
            session.commit()

    thread = threading.Thread(target=second)
    thread.start()
    with Session(writer(engine), expire_on_commit=False) as session:
        claim = _claim(session, user_id, "race", {"x": 1})
        assert isinstance(claim, IdempotencyKey)
        first_claimed.set()
        thread.join(0.5)  # the second claim cannot finish while this transaction is open
        assert thread.is_alive()
        record_answer(session=session, claim=claim, case_id=None, status=201, body='{"n":1}')
        session.commit()
    thread.join(30)
    assert outcome["second"] == Replay(status=201, body='{"n":1}')
    with session_scope(engine, write=False) as session:
        assert len(session.exec(select(IdempotencyKey)).all()) == 1


def test_cli_token_create_prints_the_token_alone_on_its_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password_hash: str
) -> None:
    monkeypatch.setenv("TASKING_INSTANCE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'tasking.db'}")
    with session_scope(engine) as session:
        session.add(User(username="officer", display_name="Officer", role="coordinator",
                         password_hash=password_hash))  # fmt: skip
    result = runner.invoke(main, ["token", "create", "officer", "--days", "3"])
    assert result.exit_code == 0, result.output
    secret = result.output.splitlines()[-1]
    assert secret.startswith(TOKEN_PREFIX)
    assert " " not in secret
    with session_scope(engine, write=False) as session:
        found = authenticate(session=session, secret=secret)
        assert found is not None
        token, user = found
        assert user.username == "officer"
        lifetime = as_utc(token.expires_at) - as_utc(token.created_at)
        assert lifetime == timedelta(days=3)
    unknown = runner.invoke(main, ["token", "create", "nobody"])
    assert unknown.exit_code != 0
    assert "no user 'nobody'" in unknown.output
    assert runner.invoke(main, ["token", "create", "officer", "--days", "0"]).exit_code != 0
    listed = runner.invoke(main, ["token", "list", "officer"])
    assert listed.exit_code == 0, listed.output
    assert f"#{token.id} 'command line' {secret[:10]}..." in listed.output
    assert listed.output.strip().endswith("active")
    assert secret not in listed.output
    revoked = runner.invoke(main, ["token", "revoke", str(token.id)])
    assert revoked.exit_code == 0, revoked.output
    assert runner.invoke(main, ["token", "list", "officer"]).output.strip().endswith("revoked")
    assert runner.invoke(main, ["token", "revoke", "999"]).exit_code != 0
    with session_scope(engine, write=False) as session:
        assert authenticate(session=session, secret=secret) is None
    engine.dispose()
