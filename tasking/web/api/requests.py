"""Asset requests over the API: a BCU submits, lists and reads its own requests."""

from __future__ import annotations

from flask import Response, request
from sqlmodel import Session

import scoring
from tasking.models import Case, CaseScore, ModelVersion, Role, pk
from tasking.services.cases import get_case_by_reference, submit_asset_request
from tasking.services.idempotency import Replay, body_hash, claim_key, record_answer
from tasking.services.questions import answer_information_request, information_requests
from tasking.services.requests import (
    RequestLine,
    decision_reason,
    get_bcu_request,
    list_bcu_requests,
    withdraw_request,
)
from tasking.services.scores import engine_model
from tasking.web.api import bp
from tasking.web.api.case_schemas import AnswerBodyIn, QuestionCreatedOut
from tasking.web.api.cases import question_out, require_reason
from tasking.web.api.schemas import (
    AccessReasonHeaders,
    AssetRequestIn,
    IdempotencyHeaders,
    RequestDecisionOut,
    RequestHistoryOut,
    RequestLineOut,
    RequestOut,
    RequestPageOut,
    RequestsQuery,
    SubmittedOut,
    WithdrawIn,
    WithdrawnOut,
)
from tasking.web.api.spec import operation
from tasking.web.audit.disclose import disclosed
from tasking.web.db import db
from tasking.web.filters import mark_page
from tasking.web.security import actor

REFERENCE = "<reference>"


def _band(code: int | None) -> str | None:
    return None if code is None else scoring.BANDS[code]


def line_out(line: RequestLine) -> RequestLineOut:
    """A request line as the API shows it."""
    mark_page(line.marking)  # the answer's X-Handling-Marking
    return RequestLineOut(
        id=line.case_id,
        reference=line.reference,
        title=line.title,
        state=line.state,
        theme=line.theme,
        asset_type=line.asset_type,
        requested_hours=line.requested_hours,
        allocated_hours=line.allocated_hours,
        submitted_at=line.submitted_at,
        created_at=line.created_at,
        band=_band(line.band),
        priority=line.priority,
        threat_to_life=bool(line.threat),
        outcome=line.outcome,
        decided_at=line.decided_at,
        reason=line.reason,
    )


def submitted_out(session: Session, case: Case) -> SubmittedOut:
    """What the submitter is told: the reference, state and the score it got."""
    mark_page(case.marking)
    score = session.get(CaseScore, pk(case))
    assert score is not None  # submit_asset_request scores inline
    version = session.get(ModelVersion, score.model_version_id)
    assert version is not None
    return SubmittedOut(
        id=pk(case),
        reference=case.reference,
        state=case.state,
        priority=score.priority,
        band=scoring.BANDS[score.band],
        grading=engine_model(version).grading_text(score.band, score.position_grade),
        version=case.version,
        created_at=case.created_at,
    )


@bp.post("/requests")
@operation(
    Role.BCU_REQUESTER,
    tag="requests",
    status=201,
    resp=SubmittedOut,
    json=AssetRequestIn,
    headers=IdempotencyHeaders,
)
def submit_request(
    json: AssetRequestIn, headers: IdempotencyHeaders
) -> Response | tuple[SubmittedOut, int]:
    """Submit an asset request for the caller's BCU; it is scored and on the board at once.

    With an `Idempotency-Key` header, a retry with the same key and body returns
    the first answer (header `Idempotent-Replayed: true`) and creates nothing;
    the same key with another body is a 422. Keys are kept 24 hours per user.
    """
    session, user = db(), actor()
    claim = None
    if headers.idempotency_key is not None:
        found = claim_key(
            session=session,
            user_id=pk(user),
            key=headers.idempotency_key,
            request_hash=body_hash(request.get_json()),
        )
        if isinstance(found, Replay):
            return Response(
                found.body,
                status=found.status,
                mimetype="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        claim = found
    case = submit_asset_request(session=session, actor=user, data=json)
    out = submitted_out(session, case)
    if claim is not None:
        record_answer(
            session=session, claim=claim, case_id=case.id, status=201, body=out.model_dump_json()
        )
    return out, 201


@bp.get("/requests")
@operation(Role.BCU_REQUESTER, tag="requests", resp=RequestPageOut, query=RequestsQuery)
def list_requests(query: RequestsQuery) -> RequestPageOut:
    """The caller's BCU's requests, newest first, one page at a time."""
    page = list_bcu_requests(session=db(), actor=actor(), page=query.page, per_page=query.per_page)
    references = [line.reference for line in page.lines]
    disclosed(actor(), "api.requests", references, {"page": page.page})
    return RequestPageOut(
        requests=[line_out(line) for line in page.lines],
        page=page.page,
        pages=page.pages,
        total=page.total,
    )


@bp.get(f"/requests/{REFERENCE}")
@operation(Role.BCU_REQUESTER, tag="requests", resp=RequestOut, headers=AccessReasonHeaders)
def read_request(reference: str, headers: AccessReasonHeaders) -> RequestOut:
    """One of the caller's BCU's requests: decisions, score history, questions (404 otherwise).

    The answer's `version` is what an answer to an open question sends back.
    A request marked above OFFICIAL-SENSITIVE needs a reason, as `GET /cases/{case_id}`.
    """
    session, user = db(write=True), actor()  # the view is logged
    found = get_bcu_request(session=session, actor=user, reference=reference, log_view=False)
    require_reason(found.case, headers)
    detail = get_bcu_request(session=session, actor=user, reference=reference)
    case = detail.case
    questions = information_requests(session=session, actor=user, case_id=pk(case))
    return RequestOut(
        **line_out(detail.line).model_dump(),
        summary=case.summary,
        justification=case.justification,
        opportunity_deadline=case.opportunity_deadline,
        version=case.version,
        decisions=[
            RequestDecisionOut(
                outcome=d.outcome, decided_at=d.decided_at, reason=decision_reason(d)
            )
            for d in detail.decisions
        ],
        history=[
            RequestHistoryOut(
                score_version=h.score_version,
                priority=h.priority,
                band=scoring.BANDS[h.band],
                scored_at=h.scored_at,
                reason=h.reason,
            )
            for h in detail.history
        ],
        questions=[question_out(q) for q in questions],
    )


@bp.post(f"/requests/{REFERENCE}/answer")
@operation(
    Role.BCU_REQUESTER, tag="requests", status=201, resp=QuestionCreatedOut, json=AnswerBodyIn
)
def answer_question(reference: str, json: AnswerBodyIn) -> tuple[QuestionCreatedOut, int]:
    """Answer the centre's open question on one of the caller's BCU's requests.

    The request goes back to triage. Send the `version` read with the request.
    """
    session, user = db(), actor()
    case = get_case_by_reference(session=session, actor=user, reference=reference, log_view=False)
    answered = answer_information_request(
        session=session,
        actor=user,
        case_id=pk(case),
        expected_version=json.version,
        data={"answer": json.answer},
    )
    session.refresh(case)
    out = QuestionCreatedOut(
        question=question_out(answered), version=case.version, state=case.state
    )
    return out, 201


@bp.post(f"/requests/{REFERENCE}/withdraw")
@operation(Role.BCU_REQUESTER, tag="requests", resp=WithdrawnOut, json=WithdrawIn)
def withdraw(reference: str, json: WithdrawIn) -> WithdrawnOut:
    """Withdraw one of the caller's BCU's requests that is not yet decided; it closes.

    Send the `version` read with the request and the reason (kept in the audit log).
    """
    case = withdraw_request(
        session=db(),
        actor=actor(),
        reference=reference,
        expected_version=json.version,
        reason=json.reason,
    )
    return WithdrawnOut(
        id=pk(case),
        reference=case.reference,
        state=case.state,
        outcome=case.outcome,
        version=case.version,
    )
