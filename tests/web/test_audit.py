"""The audit log on the web (docs/reliability.md U1, U3).

U1: each page and API call that collects, shows or hands out records writes a
row carrying where it came from (origin, address, browser, session or token)
and, for a SECRET case or an export, the reason asked for first.
U3: the auditor's pages answer who consulted a case and why, what one user saw,
and every disclosure, as pages and as CSV; nobody else gets them, and their use
is logged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import col, select

from tasking.db import session_scope
from tasking.models import AuditEvent, Case, pk
from tasking.services.audit import record_event
from tasking.services.cases import create_case, submit_asset_request
from tasking.services.markings import set_marking
from tasking.services.tokens import create_token
from tests.tasking.conftest import Org
from tests.web.conftest import csrf_token

SignedIn = Callable[[str], FlaskClient]
BROWSER = "FictionalBrowser/2.0 (test)"


def _assessment() -> dict[str, Any]:
    return {
        "P": 2, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 4, "Cf": "M",
        "Ca": 1, "Cb": 1, "O": 1, "T": 0, "rationale": "Fictional rationale.",
    }  # fmt: skip


@pytest.fixture
def refs(web_engine: Engine, web_org: Org) -> dict[str, str]:
    """An operation marked SECRET, one left OFFICIAL-SENSITIVE, and a BCU A request."""
    users = web_org.users
    made: dict[str, str] = {}
    with session_scope(web_engine) as session:
        for name in ("secret", "plain"):
            case = create_case(
                session=session, actor=users["coordinator"],
                data={
                    "kind": "operation", "title": f"Op {name.upper()} HERON (fictional)",
                    "theme_id": web_org.theme.id, "strands": ["Pursue"],
                    "summary": "Fictional covert tactics.", "assessment": _assessment(),
                },
            )  # fmt: skip
            made[name] = case.reference
            if name == "secret":
                set_marking(
                    session=session, actor=users["coordinator"], case_id=pk(case),
                    expected_version=case.version,
                    data={"marking": "SECRET", "reason": "Covert tactics."},
                )  # fmt: skip
        request = submit_asset_request(
            session=session, actor=users["bcu_a"],
            data={
                "title": "Drone over the fictional allotments", "theme_id": web_org.theme.id,
                "strands": ["Pursue"], "asset_type": "drones", "requested_hours": 10,
                "justification": "Local options are exhausted here.",
                "assessment": _assessment(),
            },
        )  # fmt: skip
        made["request"] = request.reference
    return made


def _rows(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine, write=False) as session:
        query = select(AuditEvent).where(AuditEvent.action == action)
        return list(session.exec(query.order_by(col(AuditEvent.seq))).all())


def _case_id(engine: Engine, reference: str) -> int:
    with session_scope(engine, write=False) as session:
        return pk(session.exec(select(Case).where(Case.reference == reference)).one())


def _from_the_browser(event: AuditEvent) -> None:
    assert event.origin == "web"
    assert event.address == "127.0.0.1"
    assert event.user_agent == BROWSER
    assert event.credential.startswith("session:")
    assert len(event.credential) == len("session:") + 8


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# --- U1: reasons and context on the pages ---------------------------------------------


def test_u1_a_secret_case_asks_why_before_it_is_shown(
    signed_in: SignedIn, web_engine: Engine, refs: dict[str, str]
) -> None:
    browser = signed_in("coordinator")
    browser.environ_base["HTTP_USER_AGENT"] = BROWSER
    reference = refs["secret"]
    asked = browser.get(f"/cases/{reference}")
    page = _text(asked)
    assert asked.status_code == 200
    assert f"Why do you need {reference}?" in page
    assert "Fictional covert tactics." not in page  # nothing of the case yet
    assert "SECRET" in page  # the banner
    assert _rows(web_engine, "case.view") == []
    token = csrf_token(browser, f"/cases/{reference}")
    vague = browser.post(
        f"/cases/{reference}/reason", data={"csrf_token": token, "reason_code": "other"}
    )
    assert vague.status_code == 422
    assert "Say why, in at least 5 characters" in _text(vague)
    assert (
        browser.post(f"/cases/{reference}/reason", data={"reason_code": "audit"}).status_code == 400
    )
    given = browser.post(
        f"/cases/{reference}/reason",
        data={
            "csrf_token": token,
            "reason_code": "tasking_meeting",
            "reason": "Papers for Thursday",
        },
    )
    assert given.status_code == 303
    shown = browser.get(given.headers["Location"])
    assert "Fictional covert tactics." in _text(shown)
    (event,) = _rows(web_engine, "case.view")
    assert (event.category, event.entity_id) == ("consultation", _case_id(web_engine, reference))
    assert (event.reason_code, event.reason) == ("tasking_meeting", "Papers for Thursday")
    _from_the_browser(event)
    # Within the grant the page (and its forms' returns) does not ask again; each view logged.
    assert "Fictional covert tactics." in _text(browser.get(f"/cases/{reference}"))
    assert len(_rows(web_engine, "case.view")) == 2
    # Another browser of the same user has given no reason.
    assert "Why do you need" in _text(signed_in("coordinator").get(f"/cases/{reference}"))


def test_u1_an_official_sensitive_case_is_shown_and_logged_without_asking(
    signed_in: SignedIn, web_engine: Engine, refs: dict[str, str]
) -> None:
    browser = signed_in("coordinator")
    browser.environ_base["HTTP_USER_AGENT"] = BROWSER
    response = browser.get(f"/cases/{refs['plain']}")
    assert "Fictional covert tactics." in _text(response)
    (event,) = _rows(web_engine, "case.view")
    assert (event.reason_code, event.reason) == ("", "")
    _from_the_browser(event)


def test_u1_the_csv_export_asks_why_and_logs_the_reason(
    signed_in: SignedIn, web_engine: Engine, refs: dict[str, str]
) -> None:
    browser = signed_in("bcu_requester")
    browser.environ_base["HTTP_USER_AGENT"] = BROWSER
    asked = browser.get("/requests/export.csv")
    assert asked.mimetype == "text/html"
    assert "Why do you need this export?" in _text(asked)
    token = csrf_token(browser, "/requests/export.csv")
    refused = browser.post("/requests/export.csv", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "Choose why you need this record" in _text(refused)
    assert _rows(web_engine, "requests.export") == []
    done = browser.post(
        "/requests/export.csv",
        data={"csrf_token": token, "reason_code": "supervision", "reason": "Monthly BCU review"},
    )
    assert done.mimetype == "text/csv"
    assert refs["request"] in _text(done)
    (event,) = _rows(web_engine, "requests.export")
    assert event.category == "disclosure"
    assert (event.reason_code, event.reason) == ("supervision", "Monthly BCU review")
    _from_the_browser(event)


def test_u1_a_request_page_view_is_a_consultation(
    signed_in: SignedIn, web_engine: Engine, refs: dict[str, str]
) -> None:
    browser = signed_in("bcu_requester")
    browser.environ_base["HTTP_USER_AGENT"] = BROWSER
    assert browser.get(f"/requests/{refs['request']}").status_code == 200
    (event,) = [e for e in _rows(web_engine, "request.view") if e.category == "consultation"]
    assert event.entity_id == _case_id(web_engine, refs["request"])
    _from_the_browser(event)


def test_u1_api_reads_and_lists_carry_the_token(
    client: FlaskClient, web_engine: Engine, web_org: Org, refs: dict[str, str]
) -> None:
    tokens = {}
    with session_scope(web_engine) as session:
        for name in ("coordinator", "bcu_requester"):
            user = web_org.users[name]
            made = create_token(session=session, actor=user, owner_id=pk(user), name="audit")
            tokens[name] = (made.secret, pk(made.token))

    def call(name: str, path: str) -> Any:
        secret = tokens[name][0]
        headers = {"Authorization": f"Bearer {secret}", "User-Agent": BROWSER}
        return client.get("/api/v1" + path, headers=headers)

    case_id = _case_id(web_engine, refs["plain"])
    assert call("coordinator", f"/cases/{case_id}").status_code == 200
    read = [e for e in _rows(web_engine, "case.view") if e.entity_id == case_id]
    assert len(read) == 1
    assert (read[0].origin, read[0].credential) == ("api", f"token:{tokens['coordinator'][1]}")
    assert read[0].user_agent == BROWSER
    assert call("coordinator", "/board").status_code == 200
    (listed,) = _rows(web_engine, "api.board")
    assert listed.category == "disclosure"
    assert refs["plain"] in json.loads(listed.detail)["references"]
    assert listed.credential == f"token:{tokens['coordinator'][1]}"
    assert call("bcu_requester", "/requests").status_code == 200
    (mine,) = _rows(web_engine, "api.requests")
    assert json.loads(mine.detail)["references"] == [refs["request"]]
    assert mine.origin == "api"


# --- U3: the auditor's pages ------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "analyst", "chair", "admin", "bcu_requester"])
def test_u3_only_the_auditor_reads_the_log(signed_in: SignedIn, role: str) -> None:
    browser = signed_in(role)
    for path in ("/audit", "/audit/case?reference=OP-001", "/audit/user?username=chair",
                 "/audit/disclosures"):  # fmt: skip
        assert browser.get(path).status_code == 403, path


def _view_secret(signed_in: SignedIn, reference: str) -> None:
    browser = signed_in("coordinator")
    browser.environ_base["HTTP_USER_AGENT"] = BROWSER
    token = csrf_token(browser, f"/cases/{reference}")
    browser.post(
        f"/cases/{reference}/reason",
        data={"csrf_token": token, "reason_code": "other", "reason": '=HYPERLINK("x") check'},
    )
    assert browser.get(f"/cases/{reference}").status_code == 200


def test_u3_who_consulted_a_case_and_why_as_page_and_csv(
    signed_in: SignedIn, web_engine: Engine, refs: dict[str, str]
) -> None:
    reference = refs["secret"]
    _view_secret(signed_in, reference)
    auditor = signed_in("auditor")
    landing = auditor.get("/audit")
    assert landing.status_code == 200
    assert "Is the log whole?" in _text(landing)
    page = auditor.get(f"/audit/case?reference={reference}")
    text = _text(page)
    assert page.status_code == 200
    assert "Coordinator (coordinator)" in text
    assert "Another reason (say what)" in text
    assert "=HYPERLINK(&#34;x&#34;) check" in text or "=HYPERLINK(&quot;x&quot;) check" in text
    assert BROWSER in text
    assert "SECRET" in text  # the banner: a SECRET case's trail
    (logged,) = _rows(web_engine, "audit.case")
    assert logged.category == "consultation"
    assert logged.entity_id == _case_id(web_engine, reference)
    token = csrf_token(auditor, f"/audit/case?reference={reference}")
    no_reason = auditor.post("/audit/case", data={"csrf_token": token, "reference": reference})
    assert no_reason.status_code == 422
    assert _rows(web_engine, "audit.case.csv") == []
    export = auditor.post(
        "/audit/case",
        data={"csrf_token": token, "reference": reference, "reason_code": "subject_access",
              "reason": "SAR 2026/041 (fictional)"},
    )  # fmt: skip
    assert export.mimetype == "text/csv"
    assert export.headers["X-Handling-Marking"] == "SECRET"
    rows = list(csv.reader(io.StringIO(_text(export))))
    assert rows[0] == ["SECRET"]
    assert rows[2][0] == "seq"
    views = [r for r in rows[3:] if r[5] == "case.view"]
    assert len(views) == 1
    assert views[0][9].startswith("'=HYPERLINK")  # inert in a spreadsheet
    assert views[0][2] == "Coordinator (coordinator)"
    (disclosed,) = _rows(web_engine, "audit.case.csv")
    assert disclosed.category == "disclosure"
    assert (disclosed.reason_code, disclosed.reason) == (
        "subject_access",
        "SAR 2026/041 (fictional)",
    )


def test_u3_a_case_trail_lists_the_boards_and_lists_that_showed_the_case(
    signed_in: SignedIn, web_engine: Engine, refs: dict[str, str]
) -> None:
    reference = refs["plain"]
    assert reference in _text(signed_in("chair").get("/board"))
    (view,) = _rows(web_engine, "board.view")
    assert view.entity_id is None  # a list: the case is named in its detail only
    # An exact match: a list naming only a reference that starts the same way is another
    # case's business.
    with session_scope(web_engine) as session:
        record_event(
            session=session, actor=None, category="disclosure", action="test.other_list",
            entity_type="case", entity_id=None, detail={"references": [reference + "1"]},
        )  # fmt: skip
    trail = _text(signed_in("auditor").get(f"/audit/case?reference={reference}"))
    assert "board.view" in trail
    assert "Chair (chair)" in trail
    assert "test.other_list" not in trail


def test_u3_what_one_user_saw_and_every_disclosure(
    signed_in: SignedIn, web_engine: Engine, refs: dict[str, str]
) -> None:
    _view_secret(signed_in, refs["secret"])
    bcu = signed_in("bcu_requester")
    token = csrf_token(bcu, "/requests/export.csv")
    bcu.post("/requests/export.csv", data={"csrf_token": token, "reason_code": "audit"})
    auditor = signed_in("auditor")
    seen = _text(auditor.get("/audit/user?username=coordinator"))
    assert f"case {refs['secret']}" in seen
    assert "case.view" in seen
    assert "requests.export" not in seen  # someone else's act
    bad = auditor.get("/audit/user?username=coordinator&start=2026-13-01")
    assert bad.status_code == 422
    assert "Enter a real date" in _text(bad)
    assert auditor.get("/audit/user?username=nobody-here").status_code == 404
    disclosures = _text(auditor.get("/audit/disclosures"))
    assert "requests.export" in disclosures
    assert "Bcu_Requester (bcu_requester)" in disclosures
    assert "case.view" not in disclosures
    # The answered question is logged; the refused ones showed nothing.
    assert [e.category for e in _rows(web_engine, "audit.user")] == ["consultation"]
    assert len(_rows(web_engine, "audit.disclosures")) == 1
