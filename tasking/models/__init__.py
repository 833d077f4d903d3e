"""Table models (SQLModel) of the tasking service; import them from here."""

from tasking.models.audit import AuditChainHead, AuditVerification
from tasking.models.base import as_utc, pk, utcnow
from tasking.models.cases import ASSESSMENT_COLUMNS, Assessment, Case, InfoRequest, IntelEntry
from tasking.models.decisions import AuditEvent, Decision, DecisionAsset
from tasking.models.enums import (
    DECISION_STATES,
    MARKING_ORDER,
    OPEN_STATES,
    REASSESSABLE_STATES,
    REVIEWED_OUTCOMES,
    CaseKind,
    DecisionOutcome,
    Marking,
    ModerationState,
    NdmHeading,
    OutcomeGrade,
    Role,
    RunKind,
    RunStatus,
    State,
    Strand,
    UnitKind,
)
from tasking.models.links import LINK_REASON_MAX, LINK_TYPES, CaseLink
from tasking.models.org import ASSET_TYPES, Asset, Theme, Unit, User
from tasking.models.outbox import TaskOutbox
from tasking.models.reviews import RecordReview
from tasking.models.scores import (
    BOARD_ORDER,
    NO_DEADLINE,
    CaseScore,
    ModelVersion,
    RankSnapshot,
    RunChunk,
    ScoreHistory,
    ScoringRun,
)
from tasking.models.tokens import ApiToken, IdempotencyKey

__all__ = [
    "ASSESSMENT_COLUMNS",
    "ASSET_TYPES",
    "BOARD_ORDER",
    "DECISION_STATES",
    "LINK_REASON_MAX",
    "LINK_TYPES",
    "MARKING_ORDER",
    "NO_DEADLINE",
    "OPEN_STATES",
    "REASSESSABLE_STATES",
    "REVIEWED_OUTCOMES",
    "ApiToken",
    "Assessment",
    "Asset",
    "AuditChainHead",
    "AuditEvent",
    "AuditVerification",
    "Case",
    "CaseKind",
    "CaseLink",
    "CaseScore",
    "Decision",
    "DecisionAsset",
    "DecisionOutcome",
    "IdempotencyKey",
    "InfoRequest",
    "IntelEntry",
    "Marking",
    "ModelVersion",
    "ModerationState",
    "NdmHeading",
    "OutcomeGrade",
    "RankSnapshot",
    "RecordReview",
    "Role",
    "RunChunk",
    "RunKind",
    "RunStatus",
    "ScoreHistory",
    "ScoringRun",
    "State",
    "Strand",
    "TaskOutbox",
    "Theme",
    "Unit",
    "UnitKind",
    "User",
    "as_utc",
    "pk",
    "utcnow",
]
