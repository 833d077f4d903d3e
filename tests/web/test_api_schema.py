"""The OpenAPI document: in step with the routes, readable at /api/v1/docs, and true (F1).

schemathesis drives the live app (a real HTTP server on the loopback) from its
own document: no input gives a 500 and every answer matches the document.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import make_server

from tests.tasking.conftest import Org
from tests.web.test_api import Api, request_body, submit

__all__ = ["api", "tokens"]  # fixtures shared with test_api, re-exported for pytest

from tests.web.test_api import api, tokens

_CONVERTER = re.compile(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>")
EXAMPLES = 10  # per operation and mode: the whole run stays well under a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def api_rules(app: Flask) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every /api/v1 route of the app."""
    return {
        (method.lower(), _CONVERTER.sub(r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def test_document_is_openapi_3_1_and_in_step_with_the_routes(app: Flask, api: Api) -> None:
    response = api("GET", "/openapi.json")  # public: no token
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    documented = {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert documented == api_rules(app)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "an API token (tsk_...)",
    }
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    names = set(doc["components"]["schemas"])
    assert {"AssetRequestIn", "AssessmentIn", "CaseOut", "ErrorBody", "PreviewOut"} <= names
    assert not [name for name in names if "." in name]  # plain names for client code
    assert doc["paths"]["/api/v1/requests"]["post"]["operationId"] == "submit_request"
    # Request bodies come from the services' own models, unknown fields refused.
    submit_body = doc["paths"]["/api/v1/requests"]["post"]["requestBody"]
    name = submit_body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert doc["components"]["schemas"][name]["additionalProperties"] is False
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            answers = set(operation["responses"])
            assert {"401", "403", "404", "422", "429"} <= answers, (method, path)


def test_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere(
    app: Flask, api: Api
) -> None:
    response = api("GET", "/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for method, path in api_rules(app):
        assert f"{method.upper()} {path}" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script>" not in page


@pytest.fixture
def live(app: Flask, api: Api, web_org: Org) -> Iterator[str]:
    """The app on a real loopback HTTP server, with one request and its case in the database."""
    submit(api, web_org)
    app.config["TASKING_API_RATE_LIMIT"] = "100000 per minute"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def caller(path: str) -> str:
    """The fixture user whose token drives an operation (one who may call it)."""
    if path.startswith("/api/v1/requests"):
        return "bcu_requester"
    return "chair" if path.endswith("/decisions") else "coordinator"


def drive(operation: Any, mode: GenerationMode, live: str, headers: dict[str, str]) -> bool:
    """Send one operation its generated cases and check each answer; False if none can be made."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # a fixed seed: CI draws the same cases every run
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(base_url=live, headers=headers, checks=CHECKS)

    try:
        check()
    except Unsatisfiable:  # nothing to send wrongly (no parameters, no body)
        return False
    return True


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_f1_no_input_gives_a_500_and_every_answer_matches_the_document(
    live: str, tokens: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{live}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert len(operations) >= 15
    driven = []
    for operation in operations:
        headers = {"Authorization": f"Bearer {tokens[caller(operation.path)]}"}
        if drive(operation, mode, live, headers):
            driven.append(operation.label)
        else:
            assert mode is GenerationMode.NEGATIVE, operation.label
    assert len(driven) >= (len(operations) if mode is GenerationMode.POSITIVE else 10)


def test_a_valid_submission_through_the_live_server(
    live: str, tokens: dict[str, str], web_org: Org
) -> None:
    call = urllib.request.Request(  # noqa: S310 - the loopback test server
        f"{live}/api/v1/requests",
        data=json.dumps(request_body(web_org)).encode(),
        headers={
            "Authorization": f"Bearer {tokens['bcu_requester']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(call, timeout=30) as response:  # noqa: S310 - loopback
        assert response.status == 201
        assert json.loads(response.read())["reference"] == "REQ-002"
