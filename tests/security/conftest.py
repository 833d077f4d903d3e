"""Fixtures of the security battery: one world and one app per test module.

Most battery tests expect a refusal and prove that nothing changed, so they
share one database per module (built once through the real services); a
test whose requests succeed works on a copy (`fresh_app`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from config.settings import Settings
from tasking.db import make_engine
from tasking.web import create_app
from tests.security.routes import Route
from tests.security.world import World, build_world, changed, snapshot
from tests.support.redis import ThrowawayRedis
from tests.tasking.conftest import password_hash, sqlite_template
from tests.web.conftest import PASSWORD

__all__ = ["password_hash", "sqlite_template"]  # shared fixtures, re-exported for pytest

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN_PAGE = "/account/tokens"  # a page with a form for every role
COOKIE = "tasking_session"


def settings_for(tmp: Path, redis_server: ThrowawayRedis, *, flush: bool = True) -> Settings:
    """Settings of a battery app: its own instance folder, the throwaway Redis, plain cookies."""
    if flush:
        with redis_server.client() as redis_client:
            redis_client.flushdb()  # sessions and sign-in limits of earlier modules
    return Settings(
        instance_path=tmp / "instance",
        redis_url=redis_server.url,
        secure_cookies=False,
        secret_key="battery-secret-key-" + "x" * 32,
    )


def make_app(settings: Settings, engine: Engine) -> Flask:
    """The application over `engine`, CSRF on."""
    app = create_app(settings, engine=engine)
    app.config["TESTING"] = True
    return app


def page_token(client: FlaskClient, path: str = TOKEN_PAGE) -> str:
    """The CSRF token of a form on `path`, as this browser."""
    page = client.get(path).get_data(as_text=True)
    found = _CSRF.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


@dataclass
class Caller:
    """Signed-in browsers (and their CSRF tokens) and API tokens of the world's users."""

    app: Flask
    world: World
    browsers: dict[str, FlaskClient] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    # Sessions to reuse across apps over copies of one world (same users, same Redis, same
    # secret key): a sign-in costs an argon2 verification, a copy needs many.
    pool: dict[str, tuple[str, str]] | None = None

    def browser(self, username: str) -> FlaskClient:
        """A browser signed in as `username` through the real form ('' is anonymous)."""
        if username not in self.browsers and self.pool is not None and username in self.pool:
            browser = self.app.test_client()
            cookie, token = self.pool[username]
            browser.set_cookie(COOKIE, cookie)
            self.tokens[username] = token
            self.browsers[username] = browser
        if username not in self.browsers:
            browser = self.app.test_client()
            if username:
                response = browser.post(
                    "/login",
                    data={
                        "username": username,
                        "password": PASSWORD,
                        "csrf_token": page_token(browser, "/login"),
                    },
                )
                assert response.status_code == 302, f"{username} could not sign in"
                self.tokens[username] = page_token(browser)
                signed = browser.get_cookie(COOKIE)
                if self.pool is not None and signed is not None:
                    self.pool[username] = (signed.value, self.tokens[username])
            self.browsers[username] = browser
        return self.browsers[username]

    def csrf(self, username: str) -> str:
        """`username`'s CSRF token ('' has the sign-in form's)."""
        browser = self.browser(username)
        if username not in self.tokens:
            self.tokens[username] = page_token(browser, "/login")
        return self.tokens[username]

    def attempt(
        self,
        route: Route,
        username: str,
        path: str,
        body: dict[str, Any] | None = None,
        **options: Any,
    ) -> tuple[TestResponse, dict[str, tuple[str, str]]]:
        """Call a route (signed in beforehand) and say which tables it changed."""
        if username and not route.api:
            self.csrf(username)  # signing in writes its own audit row: before the snapshot
        before = snapshot(self.world.engine)
        response = self.call(route, username, path, body, **options)
        return response, changed(before, snapshot(self.world.engine))

    def call(self, *args: Any, **options: Any) -> TestResponse:
        """`_call`, its body read and the response closed (static files hold a file open)."""
        response = self._call(*args, **options)
        if self.pool is not None and len(args) > 2 and args[2] == "/logout":
            self.pool.pop(args[1], None)  # signing out ended the pooled session
        response.get_data()
        response.close()
        return response

    def _call(
        self,
        route: Route,
        username: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        csrf: str | None = "own",
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> TestResponse:
        """Call a route as `username`: pages with the browser, /api/ with the bearer token."""
        body = dict(body or {})
        if route.api:
            headers = {}
            if username:
                headers["Authorization"] = f"Bearer {self.world.tokens[username]}"
            client = self.app.test_client()
            if route.method == "GET":
                return client.get(path, headers=headers, query_string=query)
            data = raw if raw is not None else json.dumps(body).encode()
            return client.open(
                path, method=route.method, headers=headers, data=data,
                content_type="application/json", query_string=query,
            )  # fmt: skip
        browser = self.browser(username)
        if route.method == "GET":
            return browser.get(path, query_string=query)
        if csrf == "own":
            body["csrf_token"] = self.csrf(username)
        elif csrf is not None:
            body["csrf_token"] = csrf
        if raw is not None:
            return browser.open(
                path, method=route.method, data=raw,
                content_type="application/x-www-form-urlencoded", query_string=query,
            )  # fmt: skip
        return browser.open(path, method=route.method, data=body, query_string=query)


@pytest.fixture(scope="module")
def world_path(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, password_hash: str
) -> Iterator[tuple[World, Path]]:
    """The module's world in its own database file (and a pristine copy of it)."""
    folder = tmp_path_factory.mktemp("security")
    path = folder / "world.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    world = build_world(engine, path, password_hash)
    engine.dispose()
    pristine = folder / "pristine.db"
    shutil.copyfile(path, pristine)
    yield world, pristine
    engine.dispose()


@pytest.fixture(scope="module")
def world(world_path: tuple[World, Path]) -> World:
    """The module's shared world."""
    return world_path[0]


@pytest.fixture(scope="module")
def app(
    world: World, tmp_path_factory: pytest.TempPathFactory, redis_server: ThrowawayRedis
) -> Flask:
    """The module's app over the shared world."""
    return make_app(settings_for(tmp_path_factory.mktemp("app"), redis_server), world.engine)


@pytest.fixture(scope="module")
def caller(app: Flask, world: World) -> Caller:
    """Signed-in browsers and API tokens over the shared world."""
    return Caller(app, world)


FreshApp = Callable[[], tuple[Caller, Engine]]


@pytest.fixture(scope="module")
def session_pool() -> dict[str, tuple[str, str]]:
    """Signed-in sessions shared by the module's copies of the world."""
    return {}


@pytest.fixture
def fresh_app(
    world_path: tuple[World, Path],
    tmp_path: Path,
    redis_server: ThrowawayRedis,
    session_pool: dict[str, tuple[str, str]],
) -> Iterator[FreshApp]:
    """A factory of apps over copies of the pristine world (for requests that succeed)."""
    engines: list[Engine] = []
    world, pristine = world_path

    def make() -> tuple[Caller, Engine]:
        path = tmp_path / f"copy{len(engines)}.db"
        shutil.copyfile(pristine, path)
        engine = make_engine(f"sqlite:///{path}")
        engines.append(engine)
        copy = World(**{**world.__dict__, "engine": engine, "path": path})
        app = make_app(
            settings_for(tmp_path / f"app{len(engines)}", redis_server, flush=False), engine
        )
        return Caller(app, copy, pool=session_pool), engine

    yield make
    for engine in engines:
        engine.dispose()
