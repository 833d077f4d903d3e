"""The real-component test infrastructure works: PostgreSQL and Redis servers; the lock."""

from __future__ import annotations

import os
import signal
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from sqlalchemy.pool import NullPool

from tests.support import ComponentUnavailable, start_or_skip
from tests.support.postgres import ThrowawayPostgres
from tests.support.redis import ThrowawayRedis

# --- PostgreSQL -----------------------------------------------------------------------


@pytest.fixture
def pg_engine(postgres_server: ThrowawayPostgres) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_server.url, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_postgres_round_trip(pg_engine: sa.Engine) -> None:
    table = f"infra_{uuid.uuid4().hex[:8]}"
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (id serial PRIMARY KEY, label text NOT NULL)")
        conn.execute(
            sa.text(f"INSERT INTO {table} (label) VALUES (:a), (:b)"),  # noqa: S608 - test SQL
            {"a": "x", "b": "y"},
        )
    with pg_engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT label FROM {table} ORDER BY id")).scalars().all()  # noqa: S608 - test SQL over fixed table and column names
        version = int(conn.exec_driver_sql("SHOW server_version_num").scalar_one())
        conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.commit()
    assert rows == ["x", "y"]
    assert version >= 130000
    assert pg_engine.dialect.driver == "psycopg"


@pytest.mark.postgres
def test_postgres_create_database(postgres_server: ThrowawayPostgres) -> None:
    name = f"infra_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    assert url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_database()").scalar_one() == name
    finally:
        engine.dispose()
        postgres_server.drop_database(name)


@pytest.mark.postgres
def test_postgres_listens_on_loopback_only(postgres_server: ThrowawayPostgres) -> None:
    if postgres_server.is_external:
        pytest.skip("an external server's settings are not ours to check")
    engine = sa.create_engine(postgres_server.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('listen_addresses', 'fsync', 'unix_socket_directories')"
            ).all()
        settings: dict[str, str] = {name: setting for name, setting in rows}
    finally:
        engine.dispose()
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["fsync"] == "off"
    assert settings["unix_socket_directories"] == str(postgres_server.socket_dir)


# --- Redis ----------------------------------------------------------------------------


def test_redis_set_get(redis_server: ThrowawayRedis) -> None:
    with redis_server.client() as conn:
        conn.set("infra:key", "value")
        assert conn.get("infra:key") == b"value"
        assert conn.config_get("appendonly")["appendonly"] == "yes"


@pytest.fixture
def own_redis() -> Iterator[ThrowawayRedis]:
    """A private server with appendfsync always, so killing it disturbs no one else."""
    server = start_or_skip(ThrowawayRedis(appendfsync="always"))
    yield server
    server.close()


@pytest.mark.parametrize("kill", [True, False], ids=["kill-9", "clean-shutdown"])
def test_redis_restart_keeps_acknowledged_writes(own_redis: ThrowawayRedis, kill: bool) -> None:
    port, pid = own_redis.port, own_redis.pid
    with own_redis.client() as conn:
        conn.set("infra:durable", "kept")
        conn.rpush("infra:queue", "a", "b")
    own_redis.stop(kill=kill)
    assert not own_redis.running
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    own_redis.start()
    assert own_redis.port == port
    assert own_redis.pid != pid
    with own_redis.client() as conn:
        assert conn.get("infra:durable") == b"kept"
        assert conn.lrange("infra:queue", 0, -1) == [b"a", b"b"]


def test_redis_sigkill_from_outside_then_restart(own_redis: ThrowawayRedis) -> None:
    with own_redis.client() as conn:
        conn.set("infra:outside", "1")
    assert own_redis.pid is not None
    os.kill(own_redis.pid, signal.SIGKILL)
    own_redis.stop()  # reaps the dead process
    own_redis.start()
    with own_redis.client() as conn:
        assert conn.get("infra:outside") == b"1"


# --- A missing component skips locally and fails in CI ----------------------------------


def test_missing_postgres_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ComponentUnavailable, match="initdb and pg_ctl not found"):
        ThrowawayPostgres(bin_dir=tmp_path).start()


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [("true", pytest.fail.Exception), ("1", pytest.fail.Exception), ("", pytest.skip.Exception)],
)
def test_missing_component_fails_in_ci_and_skips_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="PostgreSQL unavailable"):
        start_or_skip(ThrowawayPostgres(bin_dir=tmp_path))


# --- Reproducible installs: requirements.lock --------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _locked() -> dict[str, tuple[Version, list[str]]]:
    """The lock's pins: name -> (version, hashes); one entry per name and marker."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    name = ""
    for line in (ROOT / "requirements.lock").read_text("utf-8").splitlines():
        text = line.strip()
        if text and not text.startswith(("#", "--hash")):
            requirement = Requirement(text.rstrip(" \\"))
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            name = canonicalize_name(requirement.name)
            pins.setdefault(name, (Version(spec.version), []))
        elif text.startswith("--hash=sha256:"):
            pins[name][1].append(text.split(":", 1)[1].rstrip(" \\"))
    return pins


def test_the_lock_pins_every_declared_package_within_its_bounds() -> None:
    """pyproject.toml's dependencies and dev extra, each pinned with its hashes (make lock)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = _locked()
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (text, version)
        assert all(spec.operator == ">=" for spec in requirement.specifier), text
        assert hashes, name
        assert all(len(h) == 64 for h in hashes), name


def test_make_install_uses_the_lock_with_hashes_only() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert "$(STAMP): $(LOCK) pyproject.toml" in makefile
    assert "--require-hashes --only-binary :all: -r $(LOCK)" in makefile
    assert "--no-deps -e ." in makefile
