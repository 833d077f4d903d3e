"""Changing your own password, and the one-time password an administrator gives (docs/web.md)."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from tasking.models import AuditEvent, User
from tests.web.conftest import PASSWORD, csrf_token, sign_in

SignedIn = Callable[[str], FlaskClient]
NEW = "amber lantern quietly folding maps"
_OTP = re.compile(r'data-testid="one-time-password">([^<]+)</code>')


def _change(browser: FlaskClient, current: str, new: str, confirm: str | None = None) -> object:
    return browser.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
            "csrf_token": csrf_token(browser, "/account/password"),
        },
    )


def _user(engine: Engine, username: str) -> User:
    with Session(engine) as session:
        return session.exec(select(User).where(User.username == username)).one()


def test_a_user_changes_their_password_and_other_sessions_end(
    signed_in: SignedIn, app: Flask, web_engine: Engine
) -> None:
    browser, elsewhere = signed_in("analyst"), signed_in("analyst")
    response = _change(browser, PASSWORD, NEW)
    assert response.status_code == 302  # type: ignore[attr-defined]
    # This browser stays signed in; the other session is over.
    assert browser.get("/board").status_code == 200
    assert elsewhere.get("/board").status_code == 302
    refused = app.test_client()
    page = refused.post(
        "/login",
        data={"username": "analyst", "password": PASSWORD, "csrf_token": csrf_token(refused)},
    )
    assert page.status_code == 401
    sign_in(app.test_client(), "analyst", NEW)
    with Session(web_engine) as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "user.password_change")
        ).one()
    assert event.entity_id == _user(web_engine, "analyst").id
    assert NEW not in event.detail


def test_each_wrong_field_is_named_and_no_password_is_sent_back(
    signed_in: SignedIn, web_engine: Engine
) -> None:
    browser = signed_in("analyst")
    before = _user(web_engine, "analyst").password_hash
    cases = [
        ("not my password at all", NEW, None, "current_password", "current password is not right"),
        (PASSWORD, "short", None, "new_password", "at least 12 characters"),
        (PASSWORD, "analyst and more words", None, "new_password", "must not contain the username"),
        (PASSWORD, PASSWORD, None, "new_password", "must differ from the current one"),
        (PASSWORD, NEW, NEW + " typo", "confirm_password", "do not match"),
    ]
    for current, new, confirm, field, message in cases:
        response = _change(browser, current, new, confirm)
        page = response.get_data(as_text=True)  # type: ignore[attr-defined]
        assert response.status_code == 422, (field, message)  # type: ignore[attr-defined]
        assert message in page, (field, message)
        assert f'href="#f-{field}"' in page  # the error summary links to the field
        assert f'id="f-{field}-error"' in page
        assert new not in page  # passwords are never sent back
        assert current not in page
    assert _user(web_engine, "analyst").password_hash == before


def test_a_change_without_the_csrf_token_is_refused(
    signed_in: SignedIn, web_engine: Engine
) -> None:
    browser = signed_in("analyst")
    before = _user(web_engine, "analyst").password_hash
    response = browser.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW},
    )
    assert response.status_code == 400
    assert _user(web_engine, "analyst").password_hash == before


def test_a_one_time_password_must_be_replaced_before_any_other_page(
    signed_in: SignedIn, app: Flask, web_engine: Engine
) -> None:
    admin = signed_in("admin")
    user_id = _user(web_engine, "analyst").id
    page = admin.post(
        f"/admin/users/{user_id}/password",
        data={"csrf_token": csrf_token(admin, f"/admin/users/{user_id}")},
    )
    found = _OTP.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    one_time = found.group(1)
    assert _user(web_engine, "analyst").password_expired
    browser = app.test_client()
    sign_in(browser, "analyst", one_time)
    for path in ("/board", "/", "/account/tokens"):
        response = browser.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].endswith("/account/password"), path
    notice = browser.get("/account/password").get_data(as_text=True)
    assert "You signed in with a one-time password" in notice
    assert _change(browser, one_time, NEW).status_code == 302  # type: ignore[attr-defined]
    assert not _user(web_engine, "analyst").password_expired
    assert browser.get("/board").status_code == 200


def test_signing_out_stays_open_with_an_expired_password(app: Flask, web_engine: Engine) -> None:
    with Session(web_engine) as session:
        user = session.exec(select(User).where(User.username == "analyst")).one()
        user.password_expired = True
        session.add(user)
        session.commit()
    browser = app.test_client()
    sign_in(browser, "analyst")
    token = csrf_token(browser, "/account/password")
    response = browser.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
