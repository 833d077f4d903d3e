"""Sign-in, sessions and deny-by-default (docs/reliability.md, A1 and A4 to A8)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import select

from tasking.db import session_scope
from tasking.models import AuditEvent, User
from tasking.web.security import PUBLIC_ENDPOINTS, ROLES_ATTR
from tests.web.conftest import PASSWORD, csrf_token, sign_in

SignedIn = Callable[[str], FlaskClient]


def test_login_page_has_the_form_fields(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    for name in ('name="username"', 'name="password"', 'name="csrf_token"'):
        assert name in page
    assert "OFFICIAL-SENSITIVE" in page


def test_a1_every_route_is_public_or_names_its_roles(app: Flask) -> None:
    unguarded = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in PUBLIC_ENDPOINTS
        and getattr(app.view_functions[rule.endpoint], ROLES_ATTR, None) is None
    ]
    assert unguarded == []


def test_a1_anonymous_calls_are_sent_to_sign_in(app: Flask, client: FlaskClient) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", "1").replace(f"<int:{name}>", "1")
            path = path.replace(f"<string:{name}>", "x")
        method = "GET" if "GET" in (rule.methods or ()) else "POST"
        response = client.open(path, method=method)
        assert response.status_code in (302, 400, 401), (rule.rule, response.status_code)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]


def test_a4_unknown_user_and_wrong_password_get_the_same_answer(client: FlaskClient) -> None:
    answers = []
    for username, password in (("nobody", PASSWORD), ("coordinator", "wrong passphrase here")):
        response = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_token(client)},
        )
        answers.append(
            (
                response.status_code,
                "The username or password is not right" in response.get_data(as_text=True),
            )
        )
    assert answers == [(401, True), (401, True)]


def test_a4_empty_fields_are_named_and_the_username_kept(client: FlaskClient) -> None:
    response = client.post(
        "/login", data={"username": "analyst", "password": "", "csrf_token": csrf_token(client)}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter your password" in page
    assert 'value="analyst"' in page


def test_a4_failed_sign_ins_are_rate_limited_per_user(client: FlaskClient) -> None:
    statuses = []
    for _ in range(7):
        response = client.post(
            "/login",
            data={
                "username": "chair",
                "password": "not the password",
                "csrf_token": csrf_token(client),
            },
        )
        statuses.append(response.status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    limited = client.post(
        "/login",
        data={"username": "chair", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert limited.status_code == 429  # even the right password waits
    assert "Retry-After" in limited.headers


def test_a7_sign_in_without_a_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "coordinator", "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_sign_in_then_home_redirects_and_logs(client: FlaskClient, web_engine: Engine) -> None:
    sign_in(client, "auditor")
    page = client.get("/")
    assert page.status_code == 200
    assert "Auditor" in page.get_data(as_text=True)
    with session_scope(web_engine, write=False) as session:
        actions = session.exec(select(AuditEvent.action)).all()
    assert "user.sign_in" in actions


def test_open_redirect_after_sign_in_is_refused(client: FlaskClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            "/login",
            data={
                "username": "admin",
                "password": PASSWORD,
                "next": target,
                "csrf_token": csrf_token(client),
            },
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_a5_a_cookie_captured_before_sign_out_is_rejected(app: Flask) -> None:
    browser = app.test_client()
    sign_in(browser, "admin")
    captured = browser.get_cookie("tasking_session")
    assert captured is not None
    token = csrf_token(browser, "/")
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("tasking_session", captured.value)
    response = replay.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a5_disabling_a_user_ends_their_session(signed_in: SignedIn, web_engine: Engine) -> None:
    browser = signed_in("analyst")
    assert browser.get("/").status_code in (200, 302)
    with session_scope(web_engine) as session:
        user = session.exec(select(User).where(User.username == "analyst")).one()
        user.is_active = False
        session.add(user)
    response = browser.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a5_idle_sessions_end(signed_in: SignedIn, app: Flask) -> None:
    browser = signed_in("auditor")
    store = app.extensions["tasking_sessions"]
    keys = list(store.client.scan_iter("tasking:web-session:*"))
    assert len(keys) == 1
    store.client.delete(*keys)  # what the idle expiry does after 30 minutes
    response = browser.get("/")
    assert response.status_code == 302


def test_a6_cookie_flags(app: Flask, client: FlaskClient) -> None:
    app.config["SESSION_COOKIE_SECURE"] = True
    response = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


@pytest.mark.parametrize("path", ["/login", "/healthz", "/static/tasking.css", "/no-such-page"])
def test_a8_security_headers_on_every_response(client: FlaskClient, path: str) -> None:
    with client.get(path) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    if not path.startswith("/static"):
        assert headers["Cache-Control"] == "no-store"


def test_a10_a_crash_shows_no_traceback(app: Flask, signed_in: SignedIn) -> None:
    def boom() -> str:
        raise RuntimeError("secret detail: SELECT * FROM app_user")

    boom.tasking_roles = frozenset({"admin"})  # type: ignore[attr-defined]
    app.add_url_rule("/boom", "boom", boom)
    response = signed_in("admin").get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret detail" not in page
    assert "Traceback" not in page


def test_healthz_reports_each_part(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_names_a_broker_that_is_down(app: Flask) -> None:
    app.config["TASKING_BROKER_URL"] = "redis://127.0.0.1:9/0"
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["broker"] == "down"
    assert response.get_json()["database"] == "ok"


def test_d4_a_busy_database_is_a_503_with_retry_after(app: Flask, signed_in: SignedIn) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    def busy() -> str:
        raise PoolTimeout("QueuePool limit of size 5 overflow 0 reached")

    busy.tasking_roles = frozenset({"admin"})  # type: ignore[attr-defined]
    app.add_url_rule("/busy", "busy", busy)
    response = signed_in("admin").get("/busy")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "QueuePool" not in response.get_data(as_text=True)
