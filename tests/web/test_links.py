"""Linked cases on the case page: the table, the link and unlink forms, who may use them.

All data is fictional.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import col, select

from tasking.db import session_scope
from tasking.models import AuditEvent, CaseLink, pk
from tasking.services.cases import create_case, submit_asset_request
from tasking.services.links import link_cases
from tasking.services.markings import set_marking
from tests.tasking.conftest import Org
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]
REASON = "Fictional: the same address appears in both."


@dataclass
class Cases:
    """References and ids of the fixture cases."""

    refs: dict[str, str]
    ids: dict[str, int]


def _assessment() -> dict[str, Any]:
    return {
        "P": 2, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 4, "Cf": "H",
        "Ca": 1, "Cb": 2, "O": 2, "T": 0,
    }  # fmt: skip


@pytest.fixture
def cases(web_engine: Engine, web_org: Org) -> Cases:
    """An operation, an intelligence case, a SECRET operation and BCU B's drones request."""
    users = web_org.users
    refs: dict[str, str] = {}
    ids: dict[str, int] = {}
    with session_scope(web_engine) as session:
        for name, kind, title in (
            ("op", "operation", "Op fictional harbour"),
            ("intel", "intelligence", "Fictional network of couriers"),
            ("secret", "operation", "Op fictional hidden source"),
        ):
            case = create_case(
                session=session,
                actor=users["analyst"],
                data={
                    "kind": kind, "title": title, "codename": f"{name.upper()} WILLOW",
                    "theme_id": web_org.theme.id, "strands": ["Pursue"],
                    "assessment": _assessment(),
                },
            )  # fmt: skip
            refs[name], ids[name] = case.reference, pk(case)
        request_b = submit_asset_request(
            session=session,
            actor=users["bcu_b"],
            data={
                "title": "Drones over a fictional yard", "theme_id": web_org.theme.id,
                "strands": ["Pursue"], "asset_type": "drones", "requested_hours": 40,
                "justification": "Local options are exhausted here.",
                "assessment": _assessment(),
            },
        )  # fmt: skip
        refs["request_b"], ids["request_b"] = request_b.reference, pk(request_b)
    with session_scope(web_engine) as session:
        secret = set_marking(
            session=session, actor=users["coordinator"], case_id=ids["secret"],
            expected_version=1, data={"marking": "SECRET", "reason": "Fictional source"},
        )  # fmt: skip
        assert secret.marking == "SECRET"
    return Cases(refs, ids)


def _link(engine: Engine, org: Org, cases: Cases, frm: str, to: str) -> int:
    with session_scope(engine) as session:
        link = link_cases(
            session=session, actor=org.users["coordinator"], case_id=cases.ids[frm],
            data={"reference": cases.refs[to], "link_type": "same_ocg", "reason": REASON},
        )  # fmt: skip
        return pk(link)


def _links(engine: Engine) -> list[CaseLink]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(CaseLink).order_by(col(CaseLink.id))).all())


def _audit(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def _post(
    browser: FlaskClient, reference: str, action: str, data: dict[str, Any], *, token: bool = True
) -> Any:
    body = dict(data)
    if token:
        body["csrf_token"] = csrf_token(browser, f"/cases/{reference}")
    return browser.post(f"/cases/{reference}/{action}", data=body)


def _form(**overrides: str) -> dict[str, str]:
    return {"reference": "", "link_type": "same_subject", "reason": REASON, **overrides}


# --- the table --------------------------------------------------------------------------


def test_the_linked_cases_table_shows_each_link_from_either_side(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    _link(web_engine, web_org, cases, "intel", "op")
    for here, there in (("op", "intel"), ("intel", "op")):
        page = _text(signed_in("analyst").get(f"/cases/{cases.refs[here]}"))
        section = page[page.index('id="links"') :]
        section = section[: section.index("</section>")]
        assert f'href="/cases/{cases.refs[there]}">{cases.refs[there]}</a>' in section
        assert f"{there.upper()} WILLOW" in section  # the codename
        assert "Same organised crime group" in section
        assert html.escape(REASON) in section
        assert "Coordinator" in section  # who linked (display name)
        assert 'href="#links">Linked cases (1)</a>' in page


def test_a_linked_case_the_viewer_may_not_see_is_not_listed(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    """The chair is cleared to OFFICIAL-SENSITIVE: the SECRET end of a link is not shown,
    and the page stays OFFICIAL-SENSITIVE; the coordinator, cleared, sees it and the page is
    marked SECRET because it shows a SECRET case."""
    _link(web_engine, web_org, cases, "op", "secret")
    chair = _text(signed_in("chair").get(f"/cases/{cases.refs['op']}"))
    assert cases.refs["secret"] not in chair
    assert "hidden source" not in chair
    assert 'href="#links">Linked cases (0)</a>' in chair
    assert 'aria-label="Handling marking">SECRET<' not in chair
    coordinator = _text(signed_in("coordinator").get(f"/cases/{cases.refs['op']}"))
    assert f">{cases.refs['secret']}</a>" in coordinator
    assert coordinator.count('aria-label="Handling marking">SECRET<') == 2


def test_the_forms_are_offered_only_to_roles_that_link(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    _link(web_engine, web_org, cases, "request_b", "op")
    for role in ("coordinator", "analyst", "chair"):
        page = _text(signed_in(role).get(f"/cases/{cases.refs['op']}"))
        assert f'action="/cases/{cases.refs["op"]}/links"' in page, role
        assert f'action="/cases/{cases.refs["op"]}/unlink"' in page, role
    # The asset owner sees their drones request, not the operation: no link, no forms.
    page = _text(signed_in("asset_owner").get(f"/cases/{cases.refs['request_b']}"))
    assert 'id="links"' in page
    assert cases.refs["op"] not in page
    assert "/links" not in page
    assert "/unlink" not in page


# --- linking ----------------------------------------------------------------------------


def test_linking_redirects_to_the_section_and_is_logged_as_a_combination(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    browser = signed_in("analyst")
    reference = cases.refs["intel"].lower()  # typed in lower case
    response = _post(browser, cases.refs["op"], "links", _form(reference=reference))
    assert response.status_code == 303, _text(response)[:500]
    assert response.headers["Location"].endswith(f"/cases/{cases.refs['op']}#links")
    (link,) = _links(web_engine)
    assert {link.low_case_id, link.high_case_id} == {cases.ids["op"], cases.ids["intel"]}
    (event,) = _audit(web_engine, "case.link")
    assert event.category == "combination"
    assert event.origin == "web"
    assert event.actor_id == web_org.users["analyst"].id
    page = _text(browser.get(f"/cases/{cases.refs['op']}"))
    assert f"{cases.refs['op']} linked to {cases.refs['intel']}." in page  # the flash


def test_link_errors_name_each_field_beside_it_and_keep_the_input(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    form = _form(reference="", link_type="same_planet", reason="<i>")
    response = _post(signed_in("coordinator"), cases.refs["op"], "links", form)
    page = _text(response)
    assert response.status_code == 422
    summary = page[page.index('class="error-summary"') :]
    summary = summary[: summary.index("</div>")]
    assert 'href="#lk-reference">Reference of the case to link:' in summary
    assert 'href="#lk-link-type">How the cases are linked:' in summary
    assert 'href="#lk-reason">Reason:' in summary
    for field in ("reference", "link-type", "reason"):
        assert f'id="lk-{field}-error"' in page
    assert ">&lt;i&gt;</textarea>" in page  # the reason typed, kept and escaped
    assert re.search(r'<details class="case-form" open>\s*<summary[^>]*>Link another case', page)
    assert _links(web_engine) == []


def test_a_reference_out_of_scope_reads_exactly_like_an_unknown_one(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    browser = signed_in("chair")
    hidden = _post(browser, cases.refs["op"], "links", _form(reference=cases.refs["secret"]))
    unknown = _post(browser, cases.refs["op"], "links", _form(reference="OP-99999"))
    assert hidden.status_code == unknown.status_code == 422
    message = 'id="lk-reference-error"><span class="visually-hidden">Error:</span> No case found'
    for response in (hidden, unknown):
        assert message in _text(response)
        assert "hidden source" not in _text(response)
    # What the chair typed is kept: that is all the page says of it.
    assert f'value="{cases.refs["secret"]}"' in _text(hidden)
    assert _links(web_engine) == []


def test_a_duplicate_or_a_link_to_itself_is_refused_beside_the_reference(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    _link(web_engine, web_org, cases, "op", "intel")
    browser = signed_in("coordinator")
    twice = _post(browser, cases.refs["intel"], "links", _form(reference=cases.refs["op"]))
    assert twice.status_code == 422
    assert "are already linked" in _text(twice)
    itself = _post(browser, cases.refs["op"], "links", _form(reference=cases.refs["op"]))
    assert itself.status_code == 422
    assert 'id="lk-reference-error"' in _text(itself)
    assert len(_links(web_engine)) == 1


@pytest.mark.parametrize("role", ["asset_owner", "auditor", "admin", "bcu_requester"])
def test_other_roles_are_refused_and_nothing_is_stored(
    signed_in: SignedIn, web_engine: Engine, cases: Cases, role: str
) -> None:
    browser = signed_in(role)
    token = csrf_token(browser, "/account/tokens")
    reference = cases.refs["request_b"]
    response = browser.post(
        f"/cases/{reference}/links",
        data={**_form(reference=cases.refs["op"]), "csrf_token": token},
    )
    assert response.status_code == 403
    assert _links(web_engine) == []
    assert _audit(web_engine, "case.link") == []


def test_linking_without_the_csrf_token_is_refused(
    signed_in: SignedIn, web_engine: Engine, cases: Cases
) -> None:
    form = _form(reference=cases.refs["intel"])
    response = _post(signed_in("coordinator"), cases.refs["op"], "links", form, token=False)
    assert response.status_code == 400
    assert _links(web_engine) == []


# --- unlinking --------------------------------------------------------------------------


def test_unlinking_removes_the_link_and_logs_an_alteration(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    link_id = _link(web_engine, web_org, cases, "op", "intel")
    browser = signed_in("chair")
    form = {"link_id": str(link_id), "reason": "Fictional: two separate groups after all."}
    response = _post(browser, cases.refs["intel"], "unlink", form)
    assert response.status_code == 303, _text(response)[:500]
    assert response.headers["Location"].endswith("#links")
    assert _links(web_engine) == []
    (event,) = _audit(web_engine, "case.unlink")
    assert (event.category, event.reason) == ("alteration", form["reason"])
    assert event.actor_id == web_org.users["chair"].id


def test_unlinking_needs_a_reason_named_beside_its_row(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    link_id = _link(web_engine, web_org, cases, "op", "intel")
    browser = signed_in("coordinator")
    response = _post(browser, cases.refs["op"], "unlink", {"link_id": str(link_id), "reason": ""})
    page = _text(response)
    assert response.status_code == 422
    assert f'href="#ul{link_id}-reason">Reason:' in page
    assert f'id="ul{link_id}-reason-error"' in page
    assert re.search(r'<details class="case-form case-form--plain" open>', page)
    assert len(_links(web_engine)) == 1


def test_unlinking_a_link_of_another_case_or_unseen_is_not_found(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    secret = _link(web_engine, web_org, cases, "op", "secret")
    other = _link(web_engine, web_org, cases, "intel", "request_b")
    reason = "Fictional: not needed."
    chair = signed_in("chair")
    response = _post(chair, cases.refs["op"], "unlink", {"link_id": str(secret), "reason": reason})
    assert response.status_code == 404
    coordinator = signed_in("coordinator")
    response = _post(
        coordinator, cases.refs["op"], "unlink", {"link_id": str(other), "reason": reason}
    )
    assert response.status_code == 404
    assert len(_links(web_engine)) == 2
    assert _audit(web_engine, "case.unlink") == []


def test_unlinking_without_the_csrf_token_is_refused(
    signed_in: SignedIn, web_engine: Engine, web_org: Org, cases: Cases
) -> None:
    link_id = _link(web_engine, web_org, cases, "op", "intel")
    form = {"link_id": str(link_id), "reason": "Fictional: not needed."}
    response = _post(signed_in("coordinator"), cases.refs["op"], "unlink", form, token=False)
    assert response.status_code == 400
    assert len(_links(web_engine)) == 1
