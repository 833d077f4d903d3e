"""Session fixation and open redirects after sign-in (A5, ASVS V3.2 and V5.1.5)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.security.conftest import page_token
from tests.web.conftest import PASSWORD

COOKIE = "tasking_session"
# Where an attacker would like the sign-in to send the user next.
TRICKY_NEXT = (
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/",
    "///evil.example/",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "http://localhost@evil.example",
    "/@evil.example",
    "https://localhost.evil.example/",
    "evil.example",
    "..//evil.example",
    "/.//evil.example",
)


def _host(location: str) -> str:
    """The host a browser would go to for this Location (browsers drop tabs and newlines
    and read a backslash as a slash)."""
    cleaned = "".join(c for c in location if c not in "\t\n\r").replace("\\", "/")
    split = urlsplit(urljoin("http://localhost/login", cleaned))
    return split.hostname or "" if split.scheme in ("http", "https") else split.scheme


def _sign_in(
    app: Flask, next_page: str | None = None, cookie: str | None = None
) -> tuple[FlaskClient, TestResponse]:
    browser = app.test_client()
    if cookie is not None:
        browser.set_cookie(COOKIE, cookie)
    form = {
        "username": "analyst",
        "password": PASSWORD,
        "csrf_token": page_token(browser, "/login"),
    }
    if next_page is not None:
        form["next"] = next_page
    return browser, browser.post("/login", data=form)


def test_a5_the_session_cookie_changes_at_sign_in(app: Flask) -> None:
    browser = app.test_client()
    token = page_token(browser, "/login")  # an anonymous session with a CSRF token
    before = browser.get_cookie(COOKIE)
    assert before is not None
    response = browser.post(
        "/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    after = browser.get_cookie(COOKIE)
    assert after is not None
    assert after.value != before.value


def test_a5_a_cookie_planted_before_sign_in_is_not_adopted(app: Flask) -> None:
    """An attacker plants their anonymous session cookie (or a made-up one) in the victim's
    browser: signing in gives the victim a new session, and the planted one stays anonymous."""
    attacker = app.test_client()
    page_token(attacker, "/login")
    planted = attacker.get_cookie(COOKIE)
    assert planted is not None
    for value in (planted.value, "attacker-chosen-session-value"):
        victim, response = _sign_in(app, cookie=value)
        assert response.status_code == 302
        given = victim.get_cookie(COOKIE)
        assert given is not None
        assert given.value != value
        assert victim.get("/board").status_code == 200
        holder = app.test_client()
        holder.set_cookie(COOKIE, value)
        refused = holder.get("/board")
        assert refused.status_code == 302
        assert refused.headers["Location"].startswith("/login")


@pytest.mark.parametrize("target", TRICKY_NEXT)
def test_a5_no_open_redirect_after_sign_in(app: Flask, target: str) -> None:
    browser, response = _sign_in(app, target)
    assert response.status_code == 302
    assert _host(response.headers["Location"]) == "localhost", target
    # Once signed in, the sign-in page's own redirect (GET /login?next=...) is as careful.
    again = browser.get("/login", query_string={"next": target})
    assert again.status_code == 302
    assert _host(again.headers["Location"]) == "localhost", target


def test_a5_a_local_next_page_is_kept(app: Flask) -> None:
    """The control: a local page is where the user goes after signing in."""
    _browser, response = _sign_in(app, "/board?band=P1")
    assert response.headers["Location"] == "/board?band=P1"
