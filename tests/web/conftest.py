"""Web fixtures: the Flask app over a fresh SQLite database and a real Redis.

Services are proven on both databases in tests/tasking; the web layer is
thin, so its HTTP tests run on SQLite (with CSRF on, as in production).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from config.settings import Settings
from tasking.db import make_engine, session_scope
from tasking.web import create_app
from tests.support.redis import ThrowawayRedis
from tests.tasking.conftest import Org, password_hash, sqlite_template

__all__ = ["password_hash", "sqlite_template"]  # shared fixtures, re-exported for pytest

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated SQLite database for one web test."""
    path = tmp_path / "tasking.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def web_org(web_engine: Engine, password_hash: str) -> Org:
    """The small test organisation (one user per role, two BCUs), committed."""
    with session_scope(web_engine) as session:
        return Org(session, password_hash)


@pytest.fixture
def web_settings(tmp_path: Path, redis_server: ThrowawayRedis) -> Settings:
    """Settings for a test app: its own instance folder, the throwaway Redis, plain cookies."""
    with redis_server.client() as redis_client:
        redis_client.flushdb()
    return Settings(
        instance_path=tmp_path / "instance",
        redis_url=redis_server.url,
        secure_cookies=False,
        secret_key="test-secret-key-" + "x" * 32,
    )


@pytest.fixture
def app(web_settings: Settings, web_engine: Engine, web_org: Org) -> Flask:
    """The application, CSRF on."""
    flask_app = create_app(web_settings, engine=web_engine)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous browser."""
    return app.test_client()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on `path` (fetched as that browser)."""
    page = client.get(path).get_data(as_text=True)
    found = _CSRF.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    """Sign a test browser in through the real form."""
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


@pytest.fixture
def signed_in(app: Flask) -> Callable[[str], FlaskClient]:
    """A browser signed in as the named fixture user (role name, 'bcu_b' or 'analyst2')."""

    def make(username: str) -> FlaskClient:
        browser = app.test_client()
        sign_in(browser, username)
        return browser

    return make
