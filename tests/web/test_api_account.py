"""The API tokens page (/account/tokens): create (shown once), list, revoke; CSRF on."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import select

from tasking.db import session_scope
from tasking.models import ApiToken
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]
_SECRET = re.compile(r"tsk_[A-Za-z0-9_-]{40,}")


def _create(browser: FlaskClient, name: str, days: str = "30") -> tuple[int, str]:
    page = browser.post(
        "/account/tokens",
        data={"name": name, "days": days, "csrf_token": csrf_token(browser, "/account/tokens")},
    )
    return page.status_code, page.get_data(as_text=True)


def test_a_token_made_on_the_page_works_once_shown_and_stops_when_revoked(
    signed_in: SignedIn, client: FlaskClient, web_engine: Engine
) -> None:
    browser = signed_in("analyst")
    status, page = _create(browser, "Records system")
    assert status == 200
    found = _SECRET.search(page)
    assert found, page
    secret = found.group(0)
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/models", headers=auth).status_code == 200
    listing = browser.get("/account/tokens").get_data(as_text=True)
    assert "Records system" in listing
    assert secret not in listing  # shown once only
    assert secret[:10] in listing  # its start tells it apart
    with session_scope(web_engine, write=False) as session:
        token = session.exec(select(ApiToken)).one()
    revoked = browser.post(
        f"/account/tokens/{token.id}/revoke",
        data={"csrf_token": csrf_token(browser, "/account/tokens")},
    )
    assert revoked.status_code == 302
    assert client.get("/api/v1/models", headers=auth).status_code == 401
    assert "Revoked" in browser.get("/account/tokens").get_data(as_text=True)


def test_the_page_names_problems_and_keeps_the_name(signed_in: SignedIn) -> None:
    browser = signed_in("bcu_requester")
    status, page = _create(browser, "", days="0")
    assert status == 422
    assert "Give the token a name" in page
    assert "Choose how many days" in page
    status, page = _create(browser, "x" * 70)
    assert status == 422
    assert 'value="' + "x" * 70 + '"' in page
    assert not _SECRET.search(page)


def test_someone_elses_token_cannot_be_revoked_and_csrf_is_required(
    signed_in: SignedIn, web_engine: Engine
) -> None:
    owner, other = signed_in("coordinator"), signed_in("chair")
    assert _create(owner, "Board feed")[0] == 200
    with session_scope(web_engine, write=False) as session:
        token = session.exec(select(ApiToken)).one()
    attempt = other.post(
        f"/account/tokens/{token.id}/revoke",
        data={"csrf_token": csrf_token(other, "/account/tokens")},
    )
    assert attempt.status_code == 404
    assert owner.post(f"/account/tokens/{token.id}/revoke").status_code == 400  # no CSRF token
    assert owner.post("/account/tokens", data={"name": "x", "days": "7"}).status_code == 400
    with session_scope(web_engine, write=False) as session:
        assert session.exec(select(ApiToken)).one().revoked_at is None
        assert len(session.exec(select(ApiToken)).all()) == 1


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/account/tokens")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_administrator_manages_another_users_tokens(
    signed_in: SignedIn, client: FlaskClient
) -> None:
    admin, officer = signed_in("admin"), signed_in("bcu_requester")
    page = admin.post(
        "/account/users/bcu_b/tokens",
        data={"name": "BCU B records", "days": "7",
              "csrf_token": csrf_token(admin, "/account/users/bcu_b/tokens")},
    )  # fmt: skip
    assert page.status_code == 200
    found = _SECRET.search(page.get_data(as_text=True))
    assert found
    auth = {"Authorization": f"Bearer {found.group(0)}"}
    assert client.get("/api/v1/requests", headers=auth).status_code == 200  # acts as bcu_b
    listing = admin.get("/account/users/bcu_b/tokens").get_data(as_text=True)
    assert "BCU B records" in listing
    token_id = re.search(r"/account/tokens/(\d+)/revoke", listing)
    assert token_id
    assert officer.get("/account/users/bcu_b/tokens").status_code == 403
    revoked = admin.post(
        f"/account/tokens/{token_id.group(1)}/revoke",
        data={"csrf_token": csrf_token(admin, "/account/tokens")},
    )
    assert revoked.status_code == 302
    assert revoked.headers["Location"].endswith("/account/users/bcu_b/tokens")
    assert client.get("/api/v1/requests", headers=auth).status_code == 401
    assert admin.get("/account/users/nobody/tokens").status_code == 404
