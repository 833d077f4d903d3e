"""The JSON API /api/v1 by test client: tokens, roles, BCU isolation, errors, idempotency."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlmodel import select
from werkzeug.test import TestResponse

import scoring
from tasking.db import session_scope
from tasking.models import ApiToken, AuditEvent, Case, IdempotencyKey, Role, utcnow
from tasking.services.tokens import create_token
from tests.tasking.conftest import Org

VECTOR = "MoRiLE:1/P:3/Ps:3/F:2/C:3/S:4/V:2/L:5/Cf:H/Ca:2/Cb:2/O:2/T:0"
USERS = ("bcu_requester", "bcu_b", "coordinator", "analyst", "analyst2", "chair",
         "asset_owner", "auditor", "admin")  # fmt: skip
BOARD = {"coordinator", "analyst", "analyst2", "chair", "asset_owner"}


@pytest.fixture
def tokens(app: Flask, web_engine: Engine, web_org: Org) -> dict[str, str]:
    """One live API token per fixture user."""
    found = {}
    with session_scope(web_engine) as session:
        for name in USERS:
            user = web_org.users[name]
            found[name] = create_token(
                session=session, actor=user, owner_id=user.id or 0, name="tests"
            ).secret
    return found


@dataclass
class Api:
    """Calls /api/v1 as a named fixture user (by token), or with the headers given."""

    client: FlaskClient
    tokens: dict[str, str]

    def __call__(
        self,
        method: str,
        path: str,
        user: str | None = None,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        sent = dict(headers or {})
        if user is not None:
            sent["Authorization"] = f"Bearer {self.tokens[user]}"
        return self.client.open("/api/v1" + path, method=method, json=json, headers=sent, **kwargs)


@pytest.fixture
def api(client: FlaskClient, tokens: dict[str, str]) -> Api:
    """The API caller."""
    return Api(client, tokens)


def request_body(org: Org, **changes: Any) -> dict[str, Any]:
    """A valid asset request body."""
    body: dict[str, Any] = {
        "title": "Surveillance on prolific burglar",
        "theme_id": org.theme.id,
        "strands": ["Pursue"],
        "asset_type": "surveillance",
        "requested_hours": 40,
        "justification": "Local options are exhausted for this offender.",
        "assessment": {"P": 0, "Ps": 2, "F": 2, "C": 2, "S": 2, "V": 0, "L": 4, "Cf": "H",
                       "Ca": 1, "Cb": 2, "O": 2, "T": 0},
    }  # fmt: skip
    body.update(changes)
    return body


def envelope(response: TestResponse, status: int) -> dict[str, Any]:
    """The error envelope of a response, after checking its status and shape."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"error", "message", "fields"}
    assert body["message"]
    return body


def submit(api: Api, org: Org, user: str = "bcu_requester", **changes: Any) -> dict[str, Any]:
    """Submit a request through the API; its answer."""
    response = api("POST", "/requests", user, json=request_body(org, **changes))
    assert response.status_code == 201, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


# Authentication


def test_a_session_cookie_alone_gets_401(signed_in: Callable[[str], FlaskClient]) -> None:
    browser = signed_in("coordinator")
    assert browser.get("/").status_code in (200, 302)  # the cookie works on the pages
    response = browser.get("/api/v1/board")
    body = envelope(response, 401)
    assert body["error"] == "unauthorised"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert envelope(browser.post("/api/v1/score-preview", json={"vectors": [VECTOR]}), 401)


def test_a_token_works_without_any_cookie_or_csrf_token(api: Api) -> None:
    response = api("POST", "/score-preview", "auditor", json={"vectors": [VECTOR]})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # nothing of a browser session is started


def test_a_token_never_signs_anyone_in_to_the_pages(api: Api) -> None:
    auth = {"Authorization": f"Bearer {api.tokens['coordinator']}"}
    response = api.client.get("/", headers=auth)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Bearer tsk_nottherealtoken", "Basic dXNlcjpwYXNz", "tsk_x"],
)
def test_missing_or_unknown_tokens_get_401(api: Api, header: str) -> None:
    response = api("GET", "/models", headers={"Authorization": header} if header else {})
    envelope(response, 401)


def test_expired_revoked_and_disabled_tokens_get_401(
    api: Api, web_engine: Engine, tokens: dict[str, str]
) -> None:
    for user in ("analyst", "chair", "auditor"):
        assert api("GET", "/models", user).status_code == 200
    with session_scope(web_engine) as session:
        session.execute(
            text("UPDATE api_token SET expires_at = :t WHERE user_id ="
                 " (SELECT id FROM app_user WHERE username = 'analyst')"),
            {"t": utcnow() - timedelta(seconds=1)},
        )  # fmt: skip
        session.execute(
            text("UPDATE api_token SET revoked_at = :t WHERE user_id ="
                 " (SELECT id FROM app_user WHERE username = 'chair')"),
            {"t": utcnow()},
        )  # fmt: skip
        session.execute(text("UPDATE app_user SET is_active = false WHERE username = 'auditor'"))
    for user in ("analyst", "chair", "auditor"):
        envelope(api("GET", "/models", user), 401)
    assert api("GET", "/models", "coordinator").status_code == 200


def test_tokens_are_hashed_at_rest_and_last_use_is_noted(
    api: Api, web_engine: Engine, tokens: dict[str, str]
) -> None:
    assert api("GET", "/models", "admin").status_code == 200
    with session_scope(web_engine, write=False) as session:
        rows = session.exec(select(ApiToken)).all()
    stored = " ".join(str(value) for row in rows for value in row.model_dump().values())
    assert all(secret not in stored for secret in tokens.values())
    used = [row for row in rows if row.last_used_at is not None]
    assert len(used) == 1


# Score preview


def test_score_preview_matches_score_vectors_for_every_role(api: Api) -> None:
    vectors = [VECTOR, "MoRiLE:1/P:0/Ps:1/F:1/C:0/S:1/V:0/L:2/Cf:L/Ca:0/Cb:0/O:0/T:0/A:30",
               "MoRiLE:1/P:1/Ps:1/F:1/C:1/S:1/V:0/L:1/Cf:M/Ca:1/Cb:1/O:1/T:1"]  # fmt: skip
    expected = scoring.score_vectors(vectors)
    for user in USERS:
        response = api("POST", "/score-preview", user, json={"vectors": vectors})
        assert response.status_code == 200, (user, response.get_data(as_text=True))
        body = response.get_json()
        assert body["model"]["name"] == "sctac-default"
        assert body["model"]["version"] == 1
        assert len(body["model"]["hash"]) == 64
        for got, want in zip(body["results"], expected, strict=True):
            for key in ("vector", "harm_base", "total_harm", "risk", "freshness", "priority",
                        "band", "position", "position_grade", "grading", "model"):  # fmt: skip
                assert got[key] == want[key], key
    assert body["results"][2]["band"] == "P0"
    assert body["results"][2]["moves"] == []  # threat to life: P0 by fact


@pytest.mark.parametrize(
    "vector",
    [VECTOR, "MoRiLE:1/P:0/Ps:1/F:1/C:0/S:1/V:0/L:2/Cf:L/Ca:0/Cb:0/O:0/T:0",
     "MoRiLE:1/P:2/Ps:3/F:1/C:2/S:3/V:1/L:4/Cf:M/Ca:1/Cb:2/O:0/T:0",
     "MoRiLE:1/P:4/Ps:4/F:4/C:4/S:5/V:2/L:5/Cf:H/Ca:2/Cb:2/O:2/T:0"],
)  # fmt: skip
def test_score_preview_moves_are_the_nearest_of_explain(api: Api, vector: str) -> None:
    """The batch band moves agree with the engine's own per-case explanation."""
    body = api("POST", "/score-preview", "bcu_requester", json={"vectors": [vector]}).get_json()
    moves = body["results"][0]["moves"]
    explained = [m for m in scoring.explain(scoring.parse_vector(vector)).moves if m.factor != "A"]
    band = body["results"][0]["band"]
    for upward in (True, False):
        candidates = [m for m in explained if (m.band_after < band) is upward]
        got = [m for m in moves if (m["band_after"] < band) is upward]
        if not candidates:
            assert got == []
            continue
        assert len(got) == 1
        nearest = min(abs(_level(m.after) - _level(m.before)) for m in candidates)
        assert abs(_level(got[0]["after"]) - _level(got[0]["before"])) == nearest
        match = [m for m in candidates if m.factor == got[0]["factor"]]
        assert match, got
        assert match[0].after == got[0]["after"]
        assert match[0].priority_after == pytest.approx(got[0]["priority_after"])


def _level(text: str) -> int:
    return "LMH".index(text) if text in "LMH" else int(text)


def test_score_preview_names_each_bad_vector(api: Api) -> None:
    vectors = [VECTOR, VECTOR.replace("P:3", "P:9"), VECTOR, VECTOR.replace("/T:0", "")]
    body = envelope(api("POST", "/score-preview", "analyst", json={"vectors": vectors}), 422)
    assert set(body["fields"]) == {"vectors.1.P", "vectors.3.T"}
    assert body["fields"]["vectors.3.T"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"vectors": []}, "vectors"), ({"vectors": [VECTOR] * 10_001}, "vectors"),
     ({"vectors": [VECTOR], "store": True}, "store"), ({}, "vectors"),
     ({"vectors": [3]}, "vectors.0"), ({"vectors": ["x" * 300]}, "vectors.0")],
)  # fmt: skip
def test_score_preview_refuses_bad_bodies(api: Api, payload: Any, field: str) -> None:
    body = envelope(api("POST", "/score-preview", "chair", json=payload), 422)
    assert field in body["fields"]
    if field == "store":
        assert body["fields"]["store"] == "unknown field"


def test_score_preview_never_waits_for_the_write_lock(api: Api, web_engine: Engine) -> None:
    """A preview stores nothing: it answers while another writer holds SQLite's write lock."""
    assert api("POST", "/score-preview", "analyst", json={"vectors": [VECTOR]}).status_code == 200
    other = sqlite3.connect(str(web_engine.url.database), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # a rescore or a submission mid-write
        response = api("POST", "/score-preview", "analyst", json={"vectors": [VECTOR]})
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert response.status_code == 200, response.get_data(as_text=True)


def test_score_preview_takes_ten_thousand_vectors(api: Api) -> None:
    response = api("POST", "/score-preview", "coordinator", json={"vectors": [VECTOR] * 10_000})
    assert response.status_code == 200
    assert len(response.get_json()["results"]) == 10_000


def test_non_json_bodies_are_a_clear_400(api: Api) -> None:
    auth = {"Authorization": f"Bearer {api.tokens['analyst']}"}
    cases = [
        ({"data": "vectors=x", "content_type": "application/x-www-form-urlencoded"}, "not JSON"),
        ({"data": "{not json", "content_type": "application/json"}, "not valid JSON"),
        ({"data": "[1, 2]", "content_type": "application/json"}, "not an object"),
        ({"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}, "not valid"),
    ]
    for kwargs, reason in cases:
        response = api.client.post("/api/v1/score-preview", headers=auth, **kwargs)
        body = envelope(response, 400)
        assert reason in body["fields"]["body"]


def test_bodies_over_one_megabyte_get_413_in_the_envelope(api: Api) -> None:
    big = '{"vectors": ["' + "x" * (1024 * 1024) + '"]}'
    response = api("POST", "/score-preview", "analyst", data=big, content_type="application/json")
    assert envelope(response, 413)["error"] == "too_large"


def test_unknown_api_paths_and_methods_answer_in_the_envelope(api: Api) -> None:
    assert envelope(api("GET", "/nothing-here", "coordinator"), 404)["error"] == "not_found"
    envelope(api("DELETE", "/board", "coordinator"), 405)
    envelope(api("GET", "/cases/99999999999", "coordinator"), 404)


# Asset requests and BCU isolation (A2, A3)


def test_bcu_submits_and_sees_only_its_own_requests(
    api: Api, web_org: Org, web_engine: Engine
) -> None:
    mine = submit(api, web_org)
    theirs = submit(api, web_org, user="bcu_b", title="Drone over the arson hotspot")
    assert mine["reference"].startswith("REQ-")
    assert mine["state"] == "submitted"
    assert mine["band"] in {"P0", "P1", "P2", "P3"}
    listed = api("GET", "/requests", "bcu_requester").get_json()
    assert [r["reference"] for r in listed["requests"]] == [mine["reference"]]
    assert listed["total"] == 1  # the other BCU's request is not even counted
    read = api("GET", f"/requests/{mine['reference']}", "bcu_requester")
    assert read.status_code == 200
    assert read.get_json()["history"][0]["score_version"] == 1
    other = api("GET", f"/requests/{theirs['reference']}", "bcu_requester")
    assert envelope(other, 404)["error"] == "not_found"
    unknown = api("GET", "/requests/REQ-999", "bcu_requester")
    assert envelope(unknown, 404)["message"].replace("999", "") == envelope(other, 404)[
        "message"
    ].replace(theirs["reference"].split("-")[1], "")
    with session_scope(web_engine, write=False) as session:
        case = session.exec(select(Case).where(Case.reference == mine["reference"])).one()
    assert case.bcu_id == web_org.bcu_a.id


@pytest.mark.parametrize("field", ["bcu_id", "state", "version", "score", "priority", "id"])
def test_a_request_body_cannot_set_what_it_may_not(api: Api, web_org: Org, field: str) -> None:
    body = envelope(
        api("POST", "/requests", "bcu_requester", json=request_body(web_org, **{field: 1})), 422
    )
    assert body["fields"] == {field: "unknown field"}


def test_request_input_problems_are_named(api: Api, web_org: Org) -> None:
    bad = request_body(web_org, requested_hours=0, theme_id=999)
    bad["assessment"]["P"] = 7
    body = envelope(api("POST", "/requests", "bcu_requester", json=bad), 422)
    assert {"requested_hours", "assessment.P"} <= set(body["fields"])
    unknown_theme = envelope(
        api("POST", "/requests", "bcu_requester", json=request_body(web_org, theme_id=999)), 422
    )
    assert "theme_id" in unknown_theme["fields"]


def test_request_paging(api: Api, web_org: Org) -> None:
    refs = [submit(api, web_org, title=f"Request number {i}")["reference"] for i in range(3)]
    first = api("GET", "/requests?per_page=2", "bcu_requester").get_json()
    second = api("GET", "/requests?per_page=2&page=2", "bcu_requester").get_json()
    assert (first["pages"], first["total"]) == (2, 3)
    seen = [r["reference"] for r in first["requests"] + second["requests"]]
    assert seen == list(reversed(refs))  # newest first
    envelope(api("GET", "/requests?per_page=0", "bcu_requester"), 422)
    envelope(api("GET", "/requests?colour=red", "bcu_requester"), 422)


# Idempotency


def test_a_retried_submission_returns_the_first_answer(api: Api, web_org: Org) -> None:
    headers = {"Idempotency-Key": "5f1c7a2e-retry"}
    body = request_body(web_org)
    first = api("POST", "/requests", "bcu_requester", json=body, headers=headers)
    again = api("POST", "/requests", "bcu_requester", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api("GET", "/requests", "bcu_requester").get_json()["total"] == 1
    other = api(
        "POST", "/requests", "bcu_requester", json=request_body(web_org, title="Another one"),
        headers=headers,
    )  # fmt: skip
    assert "Idempotency-Key" in envelope(other, 422)["fields"]
    # Keys are per user: the other BCU's officer may use the same key for their own request.
    theirs = api("POST", "/requests", "bcu_b", json=body, headers=headers)
    assert theirs.status_code == 201
    assert theirs.get_json()["reference"] != first.get_json()["reference"]


def test_a_failed_submission_does_not_use_up_its_key(api: Api, web_org: Org) -> None:
    headers = {"Idempotency-Key": "try-again"}
    bad = request_body(web_org, theme_id=999)
    envelope(api("POST", "/requests", "bcu_requester", json=bad, headers=headers), 422)
    good = api("POST", "/requests", "bcu_requester", json=request_body(web_org), headers=headers)
    assert good.status_code == 201


def test_two_concurrent_identical_submissions_make_one_request(
    app: Flask, api: Api, web_org: Org, web_engine: Engine
) -> None:
    body = request_body(web_org)
    headers = {
        "Idempotency-Key": "concurrent-1",
        "Authorization": f"Bearer {api.tokens['bcu_requester']}",
    }
    answers: list[TestResponse] = []
    start = threading.Barrier(2)

    def send() -> None:
        client = app.test_client()
        start.wait(10)
        answers.append(client.post("/api/v1/requests", json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a.status_code for a in answers) == [201, 201]
    assert answers[0].get_json() == answers[1].get_json()
    with session_scope(web_engine, write=False) as session:
        assert len(session.exec(select(Case)).all()) == 1
        assert len(session.exec(select(IdempotencyKey)).all()) == 1


def test_bad_idempotency_keys_are_refused(api: Api, web_org: Org) -> None:
    for key in ("x" * 256, "has space"):
        response = api(
            "POST", "/requests", "bcu_requester", json=request_body(web_org),
            headers={"Idempotency-Key": key},
        )  # fmt: skip
        assert "Idempotency-Key" in envelope(response, 422)["fields"]


# Boards


def test_board_pages_with_cursor_and_filters(api: Api, web_org: Org) -> None:
    refs = {submit(api, web_org, assessment={**request_body(web_org)["assessment"], "L": level})
            ["reference"] for level in (1, 3, 5)}  # fmt: skip
    first = api("GET", "/board?limit=2", "coordinator").get_json()
    assert [row["rank"] for row in first["rows"]] == [1, 2]
    assert first["next_cursor"]
    rest = api("GET", f"/board?limit=2&cursor={first['next_cursor']}", "coordinator").get_json()
    assert [row["rank"] for row in rest["rows"]] == [3]
    assert rest["next_cursor"] is None
    assert rest["prev_cursor"]
    back = api("GET", f"/board?limit=2&before={rest['prev_cursor']}", "coordinator").get_json()
    assert back["rows"] == first["rows"]
    assert back["prev_cursor"] is None
    rows = first["rows"] + rest["rows"]
    assert {row["reference"] for row in rows} == refs
    priorities = [row["priority"] for row in rows]
    assert priorities == sorted(priorities, reverse=True)
    assert sum(first["band_counts"].values()) == 3
    band = rows[0]["band"]
    only = api("GET", f"/board?band={band}", "analyst").get_json()
    assert {row["band"] for row in only["rows"]} == {band}
    likely = api("GET", "/board?likelihood=5", "analyst").get_json()
    assert len(likely["rows"]) == 1
    assert "/L:5/" in likely["rows"][0]["vector"]
    assert envelope(api("GET", "/board?band=P7", "chair"), 422)["fields"]
    assert envelope(api("GET", "/board?asset_type=boats", "chair"), 422)["fields"]
    assert envelope(api("GET", "/board?cursor=garbage", "chair"), 422)["fields"]
    assert envelope(api("GET", "/board?hub_id=99999999999", "chair"), 422)["fields"]


# Cases


def _walk(api: Api, case_id: int, states: list[str], user: str = "coordinator") -> int:
    version = api("GET", f"/cases/{case_id}", user).get_json()["version"]
    for state in states:
        response = api(
            "POST", f"/cases/{case_id}/transitions", user,
            json={"version": version, "to_state": state, "reason": "next step"},
        )  # fmt: skip
        assert response.status_code == 200, response.get_data(as_text=True)
        version = response.get_json()["version"]
    return int(version)


def test_case_read_edit_conflict_intel_moderation_and_decision(
    api: Api, web_org: Org, web_engine: Engine
) -> None:
    case_id = submit(api, web_org)["id"]
    case = api("GET", f"/cases/{case_id}", "analyst").get_json()
    assert case["assessment"]["vector"].startswith("MoRiLE:1/")
    score = case["score"]
    assert sum(score["harm_contributions"].values()) == pytest.approx(score["harm_base"])
    assert case["history"][0]["score_version"] == 1
    assert "triage" in case["allowed_transitions"]
    version = case["version"]
    new = {**request_body(web_org)["assessment"], "L": 5}
    edited = api("POST", f"/cases/{case_id}/assessment", "analyst",
                 json={"version": version, "assessment": new})  # fmt: skip
    assert edited.status_code == 200
    assert edited.get_json()["version"] == version + 1
    assert edited.get_json()["score_version"] == 2
    stale = api("POST", f"/cases/{case_id}/assessment", "coordinator",
                json={"version": version, "assessment": new})  # fmt: skip
    assert envelope(stale, 409)["fields"] == {"version": "stale"}
    intel = api("POST", f"/cases/{case_id}/intelligence", "coordinator", json={
        "version": version + 1,
        "intelligence": {"source_grade": 1, "info_grade": "A", "handling": "P",
                         "summary": "Seen at the address twice",
                         "received_at": "2026-01-02T10:00:00Z"},
    })  # fmt: skip
    assert intel.status_code == 201, intel.get_data(as_text=True)
    version = _walk(api, case_id, ["triage", "scoring", "moderation"])
    moderated = api("POST", f"/cases/{case_id}/moderation", "analyst2",
                    json={"version": version, "agree": True})  # fmt: skip
    assert moderated.get_json()["moderation"] == "agreed", moderated.get_data(as_text=True)
    version = moderated.get_json()["version"]
    illegal = api("POST", f"/cases/{case_id}/transitions", "coordinator",
                  json={"version": version, "to_state": "closed", "reason": "x",
                        "outcome": None, "bcu_id": 2})  # fmt: skip
    assert envelope(illegal, 422)["fields"] == {"bcu_id": "unknown field"}
    version = _walk(api, case_id, ["awaiting_meeting"])
    wrong = api("POST", f"/cases/{case_id}/transitions", "coordinator",
                json={"version": version, "to_state": "active", "reason": "go"})  # fmt: skip
    assert envelope(wrong, 409)["fields"]["to_state"]
    papers = api("GET", f"/cases/{case_id}", "chair").get_json()
    decided = api("POST", f"/cases/{case_id}/decisions", "chair", json={
        "version": version,
        "decision": {"outcome": "adopted", "assessment_version": papers["assessment"]["version"],
                     "score_version": papers["score"]["score_version"],
                     "information": "Intelligence is fresh", "threat_risk": "Ongoing harm",
                     "action": "Task surveillance for two weeks",
                     "assets": [{"asset_id": web_org.surveillance.id, "hours": 40}],
                     "next_review": (utcnow() + timedelta(days=28)).date().isoformat()},
    })  # fmt: skip
    assert decided.status_code == 201, decided.get_data(as_text=True)
    record = decided.get_json()
    assert record["state"] == "adopted"
    assert record["decision"]["assets"][0]["hours"] == 40
    assert record["decision"]["vector_shown"].startswith(papers["assessment"]["vector"])
    seen = api("GET", f"/requests/{case['reference']}", "bcu_requester").get_json()
    assert seen["outcome"] == "adopted"
    assert "Task surveillance" in seen["reason"]
    with session_scope(web_engine, write=False) as session:
        views = session.exec(select(AuditEvent).where(AuditEvent.action == "case.view")).all()
    assert len(views) == 4  # each of the four reads above is logged as a consultation


def test_questions_to_the_bcu_and_its_answer(api: Api, web_org: Org) -> None:
    submitted = submit(api, web_org)
    case_id, reference = submitted["id"], submitted["reference"]
    version = _walk(api, case_id, ["triage"])
    asked = api("POST", f"/cases/{case_id}/questions", "coordinator",
                json={"version": version, "question": "Which addresses are involved?"})  # fmt: skip
    assert asked.status_code == 201, asked.get_data(as_text=True)
    assert asked.get_json()["state"] == "information_requested"
    request = api("GET", f"/requests/{reference}", "bcu_requester").get_json()
    assert request["state"] == "information_requested"
    assert [q["question"] for q in request["questions"]] == ["Which addresses are involved?"]
    assert request["questions"][0]["answer"] is None
    body = {"version": request["version"], "answer": "Two flats on the same street."}
    envelope(api("POST", f"/requests/{reference}/answer", "bcu_b", json=body), 404)
    answered = api("POST", f"/requests/{reference}/answer", "bcu_requester", json=body)
    assert answered.status_code == 201, answered.get_data(as_text=True)
    assert answered.get_json()["state"] == "triage"
    again = api("POST", f"/requests/{reference}/answer", "bcu_requester",
                json={**body, "version": answered.get_json()["version"]})  # fmt: skip
    assert envelope(again, 409)["fields"]["state"] == "triage"  # no open question now
    case = api("GET", f"/cases/{case_id}", "coordinator").get_json()
    assert case["questions"][0]["answer"] == "Two flats on the same street."


def test_cases_of_another_bcu_or_unknown_are_404(api: Api, web_org: Org) -> None:
    envelope(api("GET", "/cases/424242", "coordinator"), 404)
    case_id = submit(api, web_org, user="bcu_b")["id"]
    assert api("GET", f"/cases/{case_id}", "coordinator").status_code == 200
    # BCU officers never read cases through /cases, only their requests through /requests.
    envelope(api("GET", f"/cases/{case_id}", "bcu_requester"), 403)


# Runs and models


def test_models_and_runs_read(api: Api, web_org: Org) -> None:
    submit(api, web_org)  # publishes the default model
    models = api("GET", "/models", "bcu_requester").get_json()["models"]
    assert [m["is_current"] for m in models] == [True]
    detail = api("GET", f"/models/{models[0]['id']}", "auditor").get_json()
    assert "sctac-default" in detail["content"]
    envelope(api("GET", "/models/777", "auditor"), 404)
    assert api("GET", "/runs", "admin").get_json() == {"runs": []}
    envelope(api("GET", "/runs/5", "coordinator"), 404)


# Every endpoint for every role (A1, A3)

ALLOWED: dict[tuple[str, str], set[str]] = {
    ("POST", "/score-preview"): set(USERS),
    ("POST", "/requests"): {"bcu_requester", "bcu_b"},
    ("GET", "/requests"): {"bcu_requester", "bcu_b"},
    ("GET", "/requests/REQ-001"): {"bcu_requester", "bcu_b"},
    ("GET", "/board"): BOARD,
    ("GET", "/cases/1"): BOARD,
    ("POST", "/cases/1/assessment"): {"coordinator", "analyst", "analyst2"},
    ("POST", "/cases/1/intelligence"): {"coordinator", "analyst", "analyst2"},
    ("POST", "/cases/1/transitions"): {"coordinator", "analyst", "analyst2", "chair"},
    ("POST", "/cases/1/moderation"): {"coordinator", "analyst", "analyst2"},
    ("POST", "/cases/1/decisions"): {"coordinator", "chair"},
    ("POST", "/cases/1/questions"): {"coordinator"},
    ("POST", "/requests/REQ-001/answer"): {"bcu_requester", "bcu_b"},
    ("POST", "/requests/REQ-001/withdraw"): {"bcu_requester", "bcu_b"},
    ("GET", "/runs"): BOARD | {"admin"},
    ("GET", "/runs/1"): BOARD | {"admin"},
    ("GET", "/models"): set(USERS),
    ("GET", "/models/1"): set(USERS),
    ("GET", "/openapi.json"): set(USERS),
    ("GET", "/docs"): set(USERS),
}


def test_every_endpoint_for_every_role(app: Flask, api: Api, web_org: Org) -> None:
    rules = {
        (method, rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert len(rules) == len(ALLOWED)  # a new route must be added to this table
    assert {m for m, _ in rules} == {m for m, _ in ALLOWED}
    submit(api, web_org)  # REQ-001, case 1, in BCU A
    for (method, path), allowed in ALLOWED.items():
        for user in USERS:
            response = api(method, path, user, json={} if method in ("POST", "PUT") else None)
            if user in allowed:
                assert response.status_code != 403, (method, path, user)
                assert response.status_code < 500
            else:
                assert envelope(response, 403)["error"] == "forbidden", (method, path, user)
    envelope(api("GET", "/requests/REQ-001", "bcu_b"), 404)  # allowed role, other BCU


# Rate limits


def test_calls_are_rate_limited_per_token(app: Flask, api: Api) -> None:
    app.config["TASKING_API_RATE_LIMIT"] = "3 per minute"
    statuses = [api("GET", "/models", "coordinator").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api("GET", "/models", "coordinator")
    assert envelope(limited, 429)["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert api("GET", "/models", "analyst").status_code == 200  # another token, its own count


def test_writes_are_audited_once(api: Api, web_org: Org, web_engine: Engine) -> None:
    submit(api, web_org)
    with session_scope(web_engine, write=False) as session:
        actions = session.exec(select(AuditEvent.action)).all()
    assert actions.count("request.submit") == 1


def test_every_role_is_among_the_callers() -> None:
    assert {r.value for r in Role} <= set(USERS)


def test_a2_each_bcu_sees_only_its_own_requests_everywhere(api: Api, web_org: Org) -> None:
    mine = {submit(api, web_org, title=f"Alpha request {i}")["reference"] for i in range(2)}
    theirs = {submit(api, web_org, user="bcu_b", title="Bravo request")["reference"]}
    for user, own, other in (("bcu_requester", mine, theirs), ("bcu_b", theirs, mine)):
        listed = api("GET", "/requests?per_page=200", user).get_json()
        assert {r["reference"] for r in listed["requests"]} == own
        assert listed["total"] == len(own)
        for reference in other:
            missing = envelope(api("GET", f"/requests/{reference}", user), 404)
            unknown = envelope(api("GET", "/requests/REQ-999", user), 404)
            assert missing["error"] == unknown["error"]
            assert missing["fields"] == unknown["fields"] == {}
            answer = api("POST", f"/requests/{reference}/answer", user,
                         json={"version": 1, "answer": "Three addresses."})  # fmt: skip
            envelope(answer, 404)
        for path in ("/board", "/cases/1", "/runs"):
            envelope(api("GET", path, user), 403)  # the centre's views are not theirs
    board = api("GET", "/board", "coordinator").get_json()
    assert {row["reference"] for row in board["rows"]} == mine | theirs


def test_a_token_acts_with_its_owners_role_and_bcu_of_the_moment(
    api: Api, web_org: Org, web_engine: Engine
) -> None:
    theirs = submit(api, web_org, user="bcu_b")["reference"]
    assert api("GET", "/board", "analyst").status_code == 200
    envelope(api("GET", f"/requests/{theirs}", "bcu_requester"), 404)
    with session_scope(web_engine) as session:
        session.execute(text("UPDATE app_user SET role = 'auditor' WHERE username = 'analyst'"))
        session.execute(
            text("UPDATE app_user SET unit_id = :b WHERE username = 'bcu_requester'"),
            {"b": web_org.bcu_b.id},
        )
    envelope(api("GET", "/board", "analyst"), 403)
    assert api("GET", f"/requests/{theirs}", "bcu_requester").status_code == 200


def test_a_bcu_withdraws_its_undecided_request(api: Api, web_org: Org, web_engine: Engine) -> None:
    submitted = submit(api, web_org)
    reference = submitted["reference"]
    body = {"version": submitted["version"], "reason": "The suspect was arrested locally."}
    envelope(api("POST", f"/requests/{reference}/withdraw", "bcu_b", json=body), 404)
    short = api("POST", f"/requests/{reference}/withdraw", "bcu_requester",
                json={**body, "reason": "no"})  # fmt: skip
    assert "reason" in envelope(short, 422)["fields"]
    done = api("POST", f"/requests/{reference}/withdraw", "bcu_requester", json=body)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["state"] == "closed"
    assert done.get_json()["version"] == submitted["version"] + 1
    again = api("POST", f"/requests/{reference}/withdraw", "bcu_requester",
                json={**body, "version": done.get_json()["version"]})  # fmt: skip
    assert envelope(again, 409)["fields"] == {"state": "closed"}
    stale = submit(api, web_org, title="Another request to withdraw")
    old = api("POST", f"/requests/{stale['reference']}/withdraw", "bcu_requester",
              json={**body, "version": stale["version"] + 5})  # fmt: skip
    assert envelope(old, 409)["fields"] == {"version": "stale"}
    board = api("GET", "/board", "coordinator").get_json()
    assert reference not in {row["reference"] for row in board["rows"]}
    with session_scope(web_engine, write=False) as session:
        actions = session.exec(select(AuditEvent.action)).all()
    assert actions.count("request.withdraw") == 1
