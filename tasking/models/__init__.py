"""Table models (SQLModel) of the tasking service; import them from here."""

from tasking.models.base import as_utc, pk, utcnow
from tasking.models.cases import Assessment, Case, IntelEntry
from tasking.models.decisions import AuditEvent, Decision
from tasking.models.enums import (
    DECISION_STATES,
    OPEN_STATES,
    REASSESSABLE_STATES,
    CaseKind,
    DecisionOutcome,
    Marking,
    ModerationState,
    Role,
    RunKind,
    State,
    Strand,
    UnitKind,
)
from tasking.models.org import ASSET_TYPES, Asset, Theme, Unit, User
from tasking.models.outbox import TaskOutbox
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

__all__ = [
    "ASSET_TYPES",
    "BOARD_ORDER",
    "DECISION_STATES",
    "NO_DEADLINE",
    "OPEN_STATES",
    "REASSESSABLE_STATES",
    "Assessment",
    "Asset",
    "AuditEvent",
    "Case",
    "CaseKind",
    "CaseScore",
    "Decision",
    "DecisionOutcome",
    "IntelEntry",
    "Marking",
    "ModelVersion",
    "ModerationState",
    "RankSnapshot",
    "Role",
    "RunChunk",
    "RunKind",
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
