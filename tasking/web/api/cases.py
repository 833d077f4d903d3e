"""Cases over the API: read with the score breakdown and history; the case page's changes.

Every change names the case `version` the caller read; someone else's save in
between is a 409 and nothing is lost. The services do every check (role, BCU,
state); these views only translate.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from flask import g
from pydantic import BaseModel
from sqlmodel import Session, col, select

import scoring
from tasking.models import (
    Asset,
    Case,
    CaseKind,
    CaseScore,
    Decision,
    DecisionAsset,
    InfoRequest,
    IntelEntry,
    ModelVersion,
    Role,
    ScoreHistory,
    Strand,
    pk,
)
from tasking.services.audit import REASONS, check_reason
from tasking.services.cases import get_assessment, get_case, update_assessment
from tasking.services.decisions import case_decisions, record_decision
from tasking.services.errors import Invalid
from tasking.services.moderation import moderate_score
from tasking.services.questions import information_requests, request_information
from tasking.services.scores import engine_model
from tasking.services.workflow import allowed_transitions, log_intelligence, transition
from tasking.web.api import bp
from tasking.web.api.case_schemas import (
    AssessmentOut,
    AssessmentUpdateIn,
    CaseChangeOut,
    CaseOut,
    DecisionAssetOut,
    DecisionBodyIn,
    DecisionCreatedOut,
    DecisionOut,
    HistoryOut,
    IntelBodyIn,
    IntelCreatedOut,
    IntelOut,
    ModerationIn,
    QuestionBodyIn,
    QuestionCreatedOut,
    ScoreOut,
    TransitionIn,
)
from tasking.web.api.preview import move_out
from tasking.web.api.schemas import (
    REASON_CODE_HEADER,
    REASON_TEXT_HEADER,
    AccessReasonHeaders,
    ModelInfo,
    QuestionOut,
)
from tasking.web.api.spec import operation
from tasking.web.audit.reasons import restricted
from tasking.web.db import db
from tasking.web.security import BOARD_ROLES, actor

CASE = "/cases/<int:case_id>"
EDITORS = frozenset({Role.COORDINATOR, Role.ANALYST})


# CaseOut fields that are not columns of the case row.
_CASE_PARTS = (
    "allowed_transitions", "assessment", "score", "history", "intelligence", "decisions",
    "questions",
)  # fmt: skip
_INPUTS = ("P", "Ps", "F", "C", "S", "V", "L", "Cf", "Ca", "Cb", "O", "T")


def require_reason(case: Case, headers: AccessReasonHeaders) -> None:
    """The reason sent for reading `case`, for its audit rows; Invalid if it is restricted
    (marked above OFFICIAL-SENSITIVE) and none, or a bad one, was sent.

    Call it after the need-to-know check and before anything of the case is answered.
    """
    code, words = headers.reason_code or "", unquote(headers.reason or "")
    if not code and not words and not restricted(case.marking):
        return
    try:
        g.audit_reason = check_reason(code, words)
    except Invalid as exc:
        names = {"reason_code": REASON_CODE_HEADER, "reason": REASON_TEXT_HEADER}
        fields = {names.get(name, name): text for name, text in exc.fields.items()}
        raise Invalid(
            f"{case.reference} is marked {case.marking}: say why you need it in the header"
            f" {REASON_CODE_HEADER} ({', '.join(code for code, _ in REASONS)}) and, for"
            f" other, in {REASON_TEXT_HEADER};"
            " the reason is kept in the audit log",
            fields=fields,
        ) from None


def copied(row: object, out: type[BaseModel], computed: set[str]) -> dict[str, Any]:
    """The columns of a row that a response model shows as they are (the rest are computed)."""
    return {name: getattr(row, name) for name in out.model_fields if name not in computed}


def score_out(session: Session, score: CaseScore) -> ScoreOut:
    """The current score with how each factor contributed and what would move its band."""
    version = session.get(ModelVersion, score.model_version_id)
    assert version is not None
    model = engine_model(version)
    why = scoring.explain(scoring.parse_vector(score.scored_vector), model=model)
    return ScoreOut(
        score_version=score.score_version,
        model=ModelInfo(name=version.name, version=version.version, hash=version.content_hash),
        vector=score.scored_vector,
        age_days=score.age_days,
        harm_contributions=why.harm_contributions,
        harm_base=score.harm_base,
        scope_multiplier=why.scope_multiplier,
        vulnerability_multiplier=why.vulnerability_multiplier,
        total_harm=score.total_harm,
        likelihood=why.likelihood,
        risk=score.risk,
        confidence_multiplier=why.confidence_multiplier,
        freshness=score.freshness,
        priority=score.priority,
        band=scoring.BANDS[score.band],
        position=score.position,
        position_grade=scoring.GRADES[score.position_grade],
        grading=model.grading_text(score.band, score.position_grade),
        scored_at=score.scored_at,
        moves=[move_out(move) for move in why.moves],
    )


def intel_out(entry: IntelEntry) -> IntelOut:
    """An intelligence entry as the API shows it."""
    return IntelOut(
        id=pk(entry),
        source_grade=entry.source_grade,
        info_grade=entry.info_grade,
        handling=entry.handling,
        summary=entry.summary,
        received_at=entry.received_at,
        logged_by_id=entry.logged_by_id,
        logged_at=entry.logged_at,
    )


def decision_out(d: Decision, assets: list[tuple[Asset, int]]) -> DecisionOut:
    """A decision record as the API shows it, with the assets it tasks."""
    return DecisionOut(
        **copied(d, DecisionOut, {"band_shown", "strands", "assets"}),
        band_shown=scoring.BANDS[d.band_shown],
        strands=Strand(d.strands).names(),
        assets=[
            DecisionAssetOut(asset_id=pk(asset), code=asset.code, name=asset.name, hours=hours)
            for asset, hours in assets
        ],
    )


def question_out(q: InfoRequest) -> QuestionOut:
    """A question to the BCU as the API shows it."""
    return QuestionOut(**copied(q, QuestionOut, set()))


def case_out(session: Session, case: Case) -> CaseOut:
    """A case in full: facts, assessment, score breakdown, history, intelligence, decisions."""
    a = get_assessment(session, case)
    score = session.get(CaseScore, pk(case))
    case_id = pk(case)
    history = session.exec(
        select(ScoreHistory)
        .where(ScoreHistory.case_id == case_id)
        .order_by(col(ScoreHistory.score_version))
    ).all()
    intel = session.exec(
        select(IntelEntry).where(IntelEntry.case_id == case_id).order_by(col(IntelEntry.id))
    ).all()
    user = actor()
    decisions = case_decisions(session=session, actor=user, case_id=case_id)
    questions = information_requests(session=session, actor=user, case_id=case_id)
    facts = copied(case, CaseOut, {"kind", "strands", *_CASE_PARTS})
    return CaseOut(
        **facts,
        kind=CaseKind(case.kind).name.lower(),
        strands=Strand(case.strands).names(),
        allowed_transitions=sorted(allowed_transitions(case, threat_to_life=bool(a.t))),
        assessment=AssessmentOut(
            **copied(a, AssessmentOut, set(_INPUTS)),
            **{key: getattr(a, key.lower()) for key in _INPUTS if key != "Cf"},
            Cf=scoring.CONFIDENCE_LEVELS[a.cf],
        ),
        score=score_out(session, score) if score is not None else None,
        history=[
            HistoryOut(**copied(h, HistoryOut, {"band"}), band=scoring.BANDS[h.band])
            for h in history
        ],
        intelligence=[intel_out(entry) for entry in intel],
        decisions=[decision_out(d.record, d.assets) for d in decisions if d.record is not None],
        questions=[question_out(q) for q in questions],
    )


def change_out(session: Session, case: Case) -> CaseChangeOut:
    """A case's version, state and score right after a change."""
    score = session.get(CaseScore, pk(case))
    return CaseChangeOut(
        id=pk(case),
        reference=case.reference,
        version=case.version,
        state=case.state,
        moderation=get_assessment(session, case).moderation,
        score_version=score.score_version if score else None,
        priority=score.priority if score else None,
        band=scoring.BANDS[score.band] if score else None,
    )


@bp.get(CASE)
@operation(BOARD_ROLES, tag="cases", resp=CaseOut, headers=AccessReasonHeaders)
def read_case(case_id: int, headers: AccessReasonHeaders) -> CaseOut:
    """A case with its assessment, score breakdown, score history, intelligence and decisions.

    The answer's `version` is what a change must send back. The view is logged.
    A case marked above OFFICIAL-SENSITIVE (SECRET) is read only with a reason: the
    header `X-Access-Reason-Code` (one of the codes listed) and, when it is `other`,
    `X-Access-Reason` saying why. Without one the answer is a 422 naming the header,
    with nothing of the case; the reason is kept on the consultation's audit row.
    Lists (`/board`, `/requests`) do not ask, as the web board does not: each list
    is logged as a disclosure naming every case on it.
    """
    session, user = db(write=True), actor()  # the consultation is logged
    case = get_case(session=session, actor=user, case_id=case_id, log_view=False)
    require_reason(case, headers)
    case = get_case(session=session, actor=user, case_id=case_id)  # logged, with the reason
    return case_out(session, case)


@bp.post(f"{CASE}/assessment")
@operation(EDITORS, tag="cases", resp=CaseChangeOut, json=AssessmentUpdateIn)
def post_assessment(case_id: int, json: AssessmentUpdateIn) -> CaseChangeOut:
    """Replace the case's MoRiLE inputs (rescored at once; moderation starts again)."""
    session = db()
    case = update_assessment(
        session=session,
        actor=actor(),
        case_id=case_id,
        expected_version=json.version,
        data=json.assessment,
    )
    return change_out(session, case)


@bp.post(f"{CASE}/intelligence")
@operation(EDITORS, tag="cases", status=201, resp=IntelCreatedOut, json=IntelBodyIn)
def post_intelligence(case_id: int, json: IntelBodyIn) -> tuple[IntelCreatedOut, int]:
    """Log graded (3x5x2) intelligence: sets confidence, resets the intelligence age."""
    session = db()
    entry = log_intelligence(
        session=session,
        actor=actor(),
        case_id=case_id,
        expected_version=json.version,
        data=json.intelligence,
    )
    case = session.get(Case, case_id)
    assert case is not None
    return IntelCreatedOut(entry=intel_out(entry), case=change_out(session, case)), 201


@bp.post(f"{CASE}/transitions")
@operation(
    frozenset({Role.COORDINATOR, Role.ANALYST, Role.CHAIR}),
    tag="cases",
    resp=CaseChangeOut,
    json=TransitionIn,
)
def post_transition(case_id: int, json: TransitionIn) -> CaseChangeOut:
    """Move the case to another state (illegal moves are a 409 naming the allowed ones)."""
    session = db()
    case = transition(
        session=session,
        actor=actor(),
        case_id=case_id,
        expected_version=json.version,
        to_state=json.to_state.value,
        reason=json.reason,
        outcome=json.outcome,
    )
    return change_out(session, case)


@bp.post(f"{CASE}/moderation")
@operation(EDITORS, tag="cases", resp=CaseChangeOut, json=ModerationIn)
def post_moderation(case_id: int, json: ModerationIn) -> CaseChangeOut:
    """A second analyst agrees with the score or varies it (a note says why)."""
    session = db()
    case = moderate_score(
        session=session,
        actor=actor(),
        case_id=case_id,
        expected_version=json.version,
        agree=json.agree,
        note=json.note,
        varied=json.varied,
    )
    return change_out(session, case)


@bp.post(f"{CASE}/decisions")
@operation(
    frozenset({Role.CHAIR, Role.COORDINATOR}),
    tag="cases",
    status=201,
    resp=DecisionCreatedOut,
    json=DecisionBodyIn,
)
def post_decision(case_id: int, json: DecisionBodyIn) -> tuple[DecisionCreatedOut, int]:
    """Record the tasking meeting's decision against the score version it saw."""
    session = db()
    decision = record_decision(
        session=session,
        actor=actor(),
        case_id=case_id,
        expected_version=json.version,
        data=json.decision,
    )
    case = session.get(Case, case_id)
    assert case is not None
    assets = session.exec(
        select(Asset, DecisionAsset.hours)
        .join(DecisionAsset, col(DecisionAsset.asset_id) == col(Asset.id))
        .where(DecisionAsset.decision_id == decision.id)
        .order_by(col(Asset.code))
    ).all()
    out = DecisionCreatedOut(
        decision=decision_out(decision, [(asset, hours) for asset, hours in assets]),
        case_version=case.version,
        state=case.state,
    )
    return out, 201


@bp.post(f"{CASE}/questions")
@operation(Role.COORDINATOR, tag="cases", status=201, resp=QuestionCreatedOut, json=QuestionBodyIn)
def post_question(case_id: int, json: QuestionBodyIn) -> tuple[QuestionCreatedOut, int]:
    """Ask the requesting BCU for more information (a BCU request in triage only)."""
    session = db()
    asked = request_information(
        session=session,
        actor=actor(),
        case_id=case_id,
        expected_version=json.version,
        data={"question": json.question},
    )
    case = session.get(Case, case_id)
    assert case is not None
    out = QuestionCreatedOut(question=question_out(asked), version=case.version, state=case.state)
    return out, 201
