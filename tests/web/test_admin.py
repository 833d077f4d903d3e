"""Administration pages (/admin): administrators only, every change audited, CSRF on.

Users (one-time passwords shown once, never stored in clear), units, assets,
themes, and scoring model versions (upload, what-if, publish through the outbox).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import select

from scoring.model import DEFAULT_MODEL_PATH
from tasking.db import session_scope
from tasking.models import (
    ApiToken,
    Asset,
    AuditEvent,
    ModelVersion,
    Role,
    ScoringRun,
    TaskOutbox,
    Theme,
    Unit,
    User,
    pk,
)
from tasking.services.cases import submit_asset_request
from tasking.services.tokens import create_token
from tasking.services.whatif import run_whatif
from tests.tasking.conftest import Org
from tests.web.conftest import csrf_token, sign_in

SignedIn = Callable[[str], FlaskClient]
DEFAULT_MODEL = DEFAULT_MODEL_PATH
_OTP = re.compile(r'data-testid="one-time-password">([^<]+)</code>')
NOT_ADMIN = [r.value for r in Role if r != Role.ADMIN]

GET_PAGES = [
    "/admin/",
    "/admin/users",
    "/admin/units",
    "/admin/assets",
    "/admin/themes",
    "/admin/models",
    "/admin/runs",
]


def _post(browser: FlaskClient, path: str, data: dict[str, Any], page: str = "/admin/") -> Any:
    return browser.post(path, data={**data, "csrf_token": csrf_token(browser, page)})


def _events(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _user(engine: Engine, username: str) -> User:
    with session_scope(engine, write=False) as session:
        return session.exec(select(User).where(User.username == username)).one()


@pytest.mark.parametrize("path", GET_PAGES)
def test_admin_pages_open_to_administrators(signed_in: SignedIn, path: str) -> None:
    page = signed_in("admin").get(path)
    assert page.status_code == 200, path
    assert "OFFICIAL-SENSITIVE" in page.get_data(as_text=True)  # the marking banner


@pytest.mark.parametrize("role", NOT_ADMIN)
def test_admin_pages_refuse_every_other_role(signed_in: SignedIn, role: str) -> None:
    browser = signed_in(role)
    for path in GET_PAGES:
        assert browser.get(path).status_code == 403, (role, path)
    token = csrf_token(browser, "/account/tokens")
    refused = browser.post("/admin/units", data={"code": "X1", "name": "Xx", "kind": "bcu",
                                                 "csrf_token": token})  # fmt: skip
    assert refused.status_code == 403


def test_the_nav_links_administration_for_administrators_only(signed_in: SignedIn) -> None:
    assert 'href="/admin/"' in signed_in("admin").get("/").get_data(as_text=True)
    assert 'href="/admin/"' not in signed_in("coordinator").get("/").get_data(as_text=True)


def test_posts_without_a_csrf_token_are_refused(signed_in: SignedIn, web_org: Org) -> None:
    browser = signed_in("admin")
    user_id = web_org.users["analyst"].id
    paths = (
        "/admin/users", "/admin/units", "/admin/assets", "/admin/themes", "/admin/models",
        f"/admin/users/{user_id}", f"/admin/users/{user_id}/clearance",
        f"/admin/users/{user_id}/active", f"/admin/users/{user_id}/password",
        f"/admin/users/{user_id}/revoke", "/admin/units/1", "/admin/assets/1", "/admin/themes/1",
        "/admin/models/1/whatif", "/admin/models/1/publish",
    )  # fmt: skip
    for path in paths:
        assert browser.post(path, data={"code": "X", "reason": "x"}).status_code == 400, path
    # A token from another browser's session is foreign here.
    other = signed_in("admin")
    foreign = csrf_token(other, "/admin/")
    refused = browser.post("/admin/units", data={"code": "X-9", "name": "Unit X", "kind": "hub",
                                                 "csrf_token": foreign})  # fmt: skip
    assert refused.status_code == 400


def test_a_new_user_gets_a_one_time_password_shown_once_and_hashed(
    signed_in: SignedIn, app: Flask, web_engine: Engine
) -> None:
    browser = signed_in("admin")
    page = _post(
        browser, "/admin/users",
        {"username": "new.analyst", "display_name": "New Analyst", "role": "analyst",
         "unit_code": "", "clearance": "SECRET", "asset_code": ""},
    )  # fmt: skip
    assert page.status_code == 200
    found = _OTP.search(page.get_data(as_text=True))
    assert found
    password = found.group(1)
    user = _user(web_engine, "new.analyst")
    assert user.clearance == "SECRET"
    assert password not in user.password_hash
    assert user.password_hash.startswith("$argon2")
    # Never shown again, on any admin page.
    for path in ("/admin/users", f"/admin/users/{user.id}"):
        assert password not in browser.get(path).get_data(as_text=True)
    # Not in the database file either (only the argon2 hash is written).
    database = Path(str(web_engine.url.database))
    stored = database.read_bytes() + Path(f"{database}-wal").read_bytes()
    assert password.encode() not in stored
    # It works: the new user signs in with it.
    sign_in(app.test_client(), "new.analyst", password)
    events = _events(web_engine, "user.create")
    assert [e.entity_id for e in events] == [user.id]
    assert password not in events[0].detail


def test_a_bad_new_user_names_each_field_and_keeps_the_input(signed_in: SignedIn) -> None:
    page = _post(
        signed_in("admin"), "/admin/users",
        {"username": "bad name!", "display_name": "Kept Name", "role": "bcu_requester",
         "unit_code": "HUB-1", "clearance": "OFFICIAL", "asset_code": ""},
    )  # fmt: skip
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'href="#f-username"' in text
    assert 'href="#f-unit_code"' in text
    assert "must belong to a BCU" in text
    assert 'value="Kept Name"' in text


def test_a_taken_username_is_a_conflict_on_the_field(signed_in: SignedIn) -> None:
    page = _post(
        signed_in("admin"), "/admin/users",
        {"username": "analyst", "display_name": "Dup", "role": "analyst",
         "clearance": "OFFICIAL-SENSITIVE"},
    )  # fmt: skip
    assert page.status_code == 409
    assert 'href="#f-username"' in page.get_data(as_text=True)


def test_changing_role_unit_and_asset_is_audited(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    browser = signed_in("admin")
    target = web_org.users["analyst2"]
    done = _post(
        browser, f"/admin/users/{target.id}",
        {"display_name": "Asset Owner Two", "role": "asset_owner", "unit_code": "HUB-1",
         "asset_code": "SURV-1"},
    )  # fmt: skip
    assert done.status_code == 302
    user = _user(web_engine, "analyst2")
    assert (user.role, user.asset_id) == ("asset_owner", web_org.surveillance.id)
    [event] = _events(web_engine, "user.update")
    assert json.loads(event.detail)["role"] == {"from": "analyst", "to": "asset_owner"}
    bad = _post(
        browser, f"/admin/users/{target.id}",
        {"display_name": "", "role": "bcu_requester", "unit_code": "", "asset_code": ""},
    )  # fmt: skip
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'href="#f-display_name"' in text
    assert 'href="#f-unit_code"' in text


def test_clearance_needs_a_reason_and_is_audited(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    browser = signed_in("admin")
    user_id = web_org.users["chair"].id
    bad = _post(browser, f"/admin/users/{user_id}/clearance",
                {"clearance": "SECRET", "clearance_reason": ""})  # fmt: skip
    assert bad.status_code == 422
    assert 'href="#f-clearance_reason"' in bad.get_data(as_text=True)
    good = _post(browser, f"/admin/users/{user_id}/clearance",
                 {"clearance": "SECRET", "clearance_reason": "Chairs SECRET meetings"})  # fmt: skip
    assert good.status_code == 302
    assert _user(web_engine, "chair").clearance == "SECRET"
    [event] = _events(web_engine, "user.clearance")
    assert event.reason == "Chairs SECRET meetings"


def test_disabling_ends_the_users_signed_in_browser(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    victim = signed_in("coordinator")
    assert victim.get("/board").status_code == 200
    admin = signed_in("admin")
    user_id = web_org.users["coordinator"].id
    no_reason = _post(admin, f"/admin/users/{user_id}/active", {"active": "no"})
    assert no_reason.status_code == 422
    assert victim.get("/board").status_code == 200
    done = _post(admin, f"/admin/users/{user_id}/active",
                 {"active": "no", "active_reason": "Left the force"})  # fmt: skip
    assert done.status_code == 302
    assert victim.get("/board").status_code == 302  # sent to sign in
    assert [e.reason for e in _events(web_engine, "user.disable")] == ["Left the force"]
    again = _post(admin, f"/admin/users/{user_id}/active",
                  {"active": "yes", "active_reason": "Returned"})  # fmt: skip
    assert again.status_code == 302
    assert _user(web_engine, "coordinator").is_active
    assert len(_events(web_engine, "user.enable")) == 1


def test_an_administrator_cannot_disable_themself(signed_in: SignedIn, web_org: Org) -> None:
    admin = signed_in("admin")
    page = _post(admin, f"/admin/users/{web_org.users['admin'].id}/active",
                 {"active": "no", "active_reason": "Testing"})  # fmt: skip
    assert page.status_code == 409
    assert admin.get("/admin/").status_code == 200


def test_revoking_sessions_ends_a_signed_in_browser_and_tokens(
    signed_in: SignedIn, web_org: Org, web_engine: Engine, client: FlaskClient
) -> None:
    user = web_org.users["analyst"]
    with session_scope(web_engine) as session:
        secret = create_token(session=session, actor=user, owner_id=pk(user), name="t", days=7)
    victim = signed_in("analyst")
    assert victim.get("/board").status_code == 200
    auth = {"Authorization": f"Bearer {secret.secret}"}
    assert client.get("/api/v1/models", headers=auth).status_code == 200
    done = _post(signed_in("admin"), f"/admin/users/{user.id}/revoke", {"tokens": "yes"})
    assert done.status_code == 302
    assert victim.get("/board").status_code == 302
    assert client.get("/api/v1/models", headers=auth).status_code == 401
    with session_scope(web_engine, write=False) as session:
        assert session.exec(select(ApiToken)).one().revoked_at is not None
    assert len(_events(web_engine, "user.revoke_sessions")) == 1
    assert len(_events(web_engine, "token.revoke")) == 1


def test_a_password_reset_is_shown_once_and_ends_sessions(
    signed_in: SignedIn, app: Flask, web_org: Org, web_engine: Engine
) -> None:
    victim = signed_in("chair")
    admin = signed_in("admin")
    user_id = web_org.users["chair"].id
    page = _post(admin, f"/admin/users/{user_id}/password", {})
    found = _OTP.search(page.get_data(as_text=True))
    assert page.status_code == 200
    assert found
    password = found.group(1)
    assert victim.get("/board").status_code == 302
    assert password not in admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    sign_in(app.test_client(), "chair", password)
    [event] = _events(web_engine, "user.password_reset")
    assert password not in event.detail
    assert password not in _user(web_engine, "chair").password_hash


def test_units_assets_and_themes_are_added_changed_and_audited(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    browser = signed_in("admin")
    assert _post(browser, "/admin/units", {"code": "HUB-2", "name": "Second Hub",
                                           "kind": "hub"}).status_code == 302  # fmt: skip
    with session_scope(web_engine, write=False) as session:
        hub2 = session.exec(select(Unit).where(Unit.code == "HUB-2")).one()
    asset = {"code": "DOG-1", "name": "Dog section", "asset_type": "dogs",
             "hub_id": str(hub2.id), "weekly_capacity_hours": "60"}  # fmt: skip
    assert _post(browser, "/admin/assets", asset).status_code == 302
    with session_scope(web_engine, write=False) as session:
        dog = session.exec(select(Asset).where(Asset.code == "DOG-1")).one()
    changed = _post(browser, f"/admin/assets/{dog.id}", {**asset, "weekly_capacity_hours": "80"})
    assert changed.status_code == 302
    theme = {"code": "KNIFE", "name": "Knife crime", "is_local": "yes"}
    assert _post(browser, "/admin/themes", theme).status_code == 302
    with session_scope(web_engine, write=False) as session:
        assert session.get(Asset, dog.id).weekly_capacity_hours == 80  # type: ignore[union-attr]
        assert session.exec(select(Theme).where(Theme.code == "KNIFE")).one().is_local
    for action in ("unit.create", "asset.create", "asset.update", "theme.create"):
        assert len(_events(web_engine, action)) == 1, action
    [update] = _events(web_engine, "asset.update")
    assert json.loads(update.detail) == {"weekly_capacity_hours": {"from": 60, "to": 80}}
    listing = browser.get("/admin/assets").get_data(as_text=True)
    assert "DOG-1" in listing
    assert "80" in listing


def test_org_forms_name_problems_keep_input_and_refuse_duplicates(signed_in: SignedIn) -> None:
    browser = signed_in("admin")
    page = _post(browser, "/admin/assets", {"code": "K9 !", "name": "Kept asset",
                                            "asset_type": "unicorns", "hub_id": "",
                                            "weekly_capacity_hours": "-3"})  # fmt: skip
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    for name in ("code", "asset_type", "hub_id", "weekly_capacity_hours"):
        assert f'href="#f-{name}"' in text, name
    assert 'value="Kept asset"' in text
    dup = _post(browser, "/admin/units", {"code": "BCU-A", "name": "Again", "kind": "bcu"})
    assert dup.status_code == 409
    assert 'href="#f-code"' in dup.get_data(as_text=True)
    bcu_holder = _post(browser, "/admin/assets", {"code": "X-1", "name": "Held by a BCU",
                                                  "asset_type": "dogs", "hub_id": "1",
                                                  "weekly_capacity_hours": "5"})  # fmt: skip
    assert bcu_holder.status_code == 422
    assert 'href="#f-hub_id"' in bcu_holder.get_data(as_text=True)


def _upload(browser: FlaskClient, content: str) -> Any:
    from io import BytesIO

    return browser.post(
        "/admin/models",
        data={
            "csrf_token": csrf_token(browser, "/admin/models"),
            "model_file": (BytesIO(content.encode()), "model.toml"),
        },
        content_type="multipart/form-data",
    )


def _candidate() -> str:
    text = DEFAULT_MODEL.read_text("utf-8").replace("version = 1", "version = 2", 1)
    return text.replace("P = 1.0    # physical harm", "P = 3.0    # physical harm", 1)


def test_a_bad_model_file_is_named_and_nothing_stored(
    signed_in: SignedIn, web_engine: Engine
) -> None:
    browser = signed_in("admin")
    bad = DEFAULT_MODEL.read_text("utf-8").replace("P1 = 90.0", "P1 = -5.0", 1)
    page = _upload(browser, bad.replace("version = 1", "version = 3", 1))
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'href="#f-model_file"' in text
    assert "P1" in text or "bands" in text  # the loader's message names the problem
    assert _upload(browser, "not = [toml").status_code == 422
    with session_scope(web_engine, write=False) as session:
        assert session.exec(select(ModelVersion).where(ModelVersion.version == 3)).first() is None


def test_a_model_is_uploaded_previewed_and_published_through_the_outbox(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    with session_scope(web_engine) as session:
        for i in range(6):
            data = {
                "title": f"Fictional request {i}", "theme_id": web_org.theme.id,
                "strands": ["Pursue"], "asset_type": "surveillance", "requested_hours": 10,
                "justification": "Local options are exhausted.",
                "assessment": {"P": i % 5, "Ps": 1, "F": (5 - i) % 5, "C": 1, "S": 2, "V": 0,
                               "L": 3, "Cf": "M", "Ca": 1, "Cb": 1, "O": 1, "T": 0},
            }  # fmt: skip
            submit_asset_request(session=session, actor=web_org.users["bcu_a"], data=data)
    browser = signed_in("admin")
    stored = _upload(browser, _candidate())
    assert stored.status_code == 302
    with session_scope(web_engine, write=False) as session:
        version = session.exec(select(ModelVersion).where(ModelVersion.version == 2)).one()
    assert not version.is_current
    assert len(_events(web_engine, "model.store")) == 1
    page = browser.get(f"/admin/models/{version.id}").get_data(as_text=True)
    assert "No what-if has been computed" in page
    asked = _post(browser, f"/admin/models/{version.id}/whatif", {}, "/admin/models")
    assert asked.status_code == 302
    with session_scope(web_engine, write=False) as session:
        sent = session.exec(
            select(TaskOutbox).where(TaskOutbox.task_name == "scoring.whatif_preview")
        ).one()
        assert json.loads(sent.args) == [version.id]
    waiting = browser.get(f"/admin/models/{version.id}").get_data(as_text=True)
    assert "data-poll" in waiting  # follows the what-if until it is done
    run_whatif(engine=web_engine, model_version_id=pk(version))  # what the worker does
    page = browser.get(f"/admin/models/{version.id}").get_data(as_text=True)
    assert "Biggest movers" in page
    assert "data-poll" not in page
    assert "<svg" in page
    assert "REQ-" in page
    assert "physical harm" in page
    no_reason = _post(browser, f"/admin/models/{version.id}/publish", {"reason": ""})
    assert no_reason.status_code == 422
    assert 'href="#f-reason"' in no_reason.get_data(as_text=True)
    published = _post(browser, f"/admin/models/{version.id}/publish",
                      {"reason": "Physical harm weighs more"})  # fmt: skip
    assert published.status_code == 302
    with session_scope(web_engine, write=False) as session:
        assert session.get(ModelVersion, version.id).is_current  # type: ignore[union-attr]
        rescore = session.exec(
            select(TaskOutbox).where(TaskOutbox.task_name == "scoring.rescore_queue")
        ).one()
        assert json.loads(rescore.args)[0] == "all"
    [event] = _events(web_engine, "model.publish")
    assert event.reason == "Physical harm weighs more"
    assert "Scoring runs" in browser.get("/admin/runs").get_data(as_text=True)


def test_the_whatif_names_no_case_above_the_administrators_clearance(
    signed_in: SignedIn, web_org: Org, web_engine: Engine
) -> None:
    refs = {}
    with session_scope(web_engine) as session:
        # Under the candidate (physical harm x3) these two swap places.
        for name, p, f in (("secret", 0, 4), ("plain", 2, 0)):
            data = {
                "title": f"{name} request", "theme_id": web_org.theme.id, "strands": ["Pursue"],
                "asset_type": "surveillance", "requested_hours": 10,
                "justification": "Local options are exhausted.",
                "assessment": {"P": p, "Ps": 1, "F": f, "C": 1, "S": 2, "V": 0, "L": 3,
                               "Cf": "M", "Ca": 1, "Cb": 1, "O": 1, "T": 0},
            }  # fmt: skip
            case = submit_asset_request(session=session, actor=web_org.users["bcu_a"], data=data)
            if name == "secret":
                case.marking = "SECRET"
                session.add(case)
            refs[name] = case.reference
    browser = signed_in("admin")
    assert _upload(browser, _candidate()).status_code == 302
    with session_scope(web_engine, write=False) as session:
        version = session.exec(select(ModelVersion).where(ModelVersion.version == 2)).one()
    run = run_whatif(engine=web_engine, model_version_id=pk(version))
    moved = {m["case_id"] for m in json.loads(run.summary)["biggest_moves"]}
    assert len(moved) == 2
    page = browser.get(f"/admin/models/{version.id}").get_data(as_text=True)
    assert refs["plain"] in page
    assert refs["secret"] not in page


def test_the_runs_page_shows_progress_and_follows_a_running_run(
    signed_in: SignedIn, web_engine: Engine
) -> None:
    browser = signed_in("admin")
    assert "data-poll" not in browser.get("/admin/runs").get_data(as_text=True)
    with session_scope(web_engine) as session:
        version = session.exec(select(ModelVersion)).first()
        if version is None:
            from tasking.services.scores import current_model

            version, _ = current_model(session=session)
        session.add(
            ScoringRun(kind="model", status="running", model_version_id=pk(version),
                       chunks_total=8, chunks_done=3, cases_total=800)
        )  # fmt: skip
    page = browser.get("/admin/runs").get_data(as_text=True)
    assert "3 of 8 chunks" in page
    assert "data-poll" in page
