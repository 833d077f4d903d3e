"""Vocabularies of the domain (docs/domain.md): roles, kinds, states, strands, markings."""

from __future__ import annotations

from enum import IntEnum, IntFlag, StrEnum


class Role(StrEnum):
    """What a user may do; BCU requesters are also scoped to their BCU."""

    BCU_REQUESTER = "bcu_requester"
    COORDINATOR = "coordinator"
    ANALYST = "analyst"
    CHAIR = "chair"
    ASSET_OWNER = "asset_owner"
    AUDITOR = "auditor"
    ADMIN = "admin"


class UnitKind(StrEnum):
    """Basic Command Units ask; specialist crime hubs and central units own assets."""

    BCU = "bcu"
    HUB = "hub"
    CENTRAL = "central"


class CaseKind(IntEnum):
    """The three kinds of work a board compares (stored as small integers)."""

    OPERATION = 1
    INTELLIGENCE = 2
    REQUEST = 3

    @property
    def label(self) -> str:
        """Human label, e.g. 'BCU asset request'."""
        return {1: "operation", 2: "intelligence case", 3: "BCU asset request"}[self.value]

    @property
    def prefix(self) -> str:
        """Reference prefix, e.g. 'REQ'."""
        return {1: "OP", 2: "INT", 3: "REQ"}[self.value]


class State(StrEnum):
    """The life of a piece of work (docs/domain.md)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    TRIAGE = "triage"
    SCORING = "scoring"
    MODERATION = "moderation"
    AWAITING_MEETING = "awaiting_meeting"
    # A coordinator asked the requesting BCU for more; the BCU's answer returns it to triage.
    INFORMATION_REQUESTED = "information_requested"
    ADOPTED = "adopted"
    DEFERRED = "deferred"
    DECLINED = "declined"
    REFERRED = "referred"
    ACTIVE = "active"
    UNDER_REVIEW = "under_review"
    CLOSED = "closed"


# Work that competes for assets and so appears on the ranked boards.
OPEN_STATES = frozenset(
    {
        State.SUBMITTED,
        State.TRIAGE,
        State.INFORMATION_REQUESTED,
        State.SCORING,
        State.MODERATION,
        State.AWAITING_MEETING,
        State.DEFERRED,
        State.ADOPTED,
        State.ACTIVE,
        State.UNDER_REVIEW,
    }
)

# Work whose MoRiLE assessment may still be changed (adopted work is re-assessed
# once it is active or under review).
REASSESSABLE_STATES = (OPEN_STATES - {State.ADOPTED}) | {State.DRAFT}

# The outcomes only a tasking decision can set.
DECISION_STATES = frozenset({State.ADOPTED, State.DEFERRED, State.DECLINED, State.REFERRED})


class Strand(IntFlag):
    """The 4P strands of a plan (stored as a bit set)."""

    PURSUE = 1
    PREVENT = 2
    PROTECT = 4
    PREPARE = 8

    @classmethod
    def parse(cls, names: list[str] | tuple[str, ...]) -> Strand:
        """Strands from names such as ['Pursue', 'Protect']; raises ValueError on an unknown one."""
        result = cls(0)
        for name in names:
            try:
                result |= cls[name.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown strand {name!r}") from None
        return result

    def names(self) -> list[str]:
        """Names of the strands in this set, in 4P order."""
        return [s.name.capitalize() for s in Strand if s.name and s in self]


class Marking(StrEnum):
    """Government Security Classification handling markings (also a user's clearance)."""

    OFFICIAL = "OFFICIAL"
    OFFICIAL_SENSITIVE = "OFFICIAL-SENSITIVE"
    SECRET = "SECRET"  # noqa: S105 - a marking, not a password

    @property
    def level(self) -> int:
        """Order of the markings: OFFICIAL 0 < OFFICIAL-SENSITIVE 1 < SECRET 2."""
        return MARKING_ORDER.index(self)


MARKING_ORDER = (Marking.OFFICIAL, Marking.OFFICIAL_SENSITIVE, Marking.SECRET)


class ModerationState(StrEnum):
    """Whether a second analyst has checked the assessment."""

    PENDING = "pending"
    AGREED = "agreed"
    VARIED = "varied"


class DecisionOutcome(StrEnum):
    """What the tasking meeting decided."""

    ADOPTED = "adopted"
    DEFERRED = "deferred"
    DECLINED = "declined"
    REFERRED = "referred"


# Outcomes whose decision must name the date of the next review.
REVIEWED_OUTCOMES = frozenset({DecisionOutcome.ADOPTED, DecisionOutcome.DEFERRED})


class OutcomeGrade(StrEnum):
    """How much a closed piece of work achieved, graded per 4P strand (docs/domain.md)."""

    SIGNIFICANT = "significant"
    MODERATE = "moderate"
    MINOR = "minor"


class NdmHeading(StrEnum):
    """The National Decision Model headings a decision's rationale is written under."""

    INFORMATION = "information"
    THREAT_RISK = "threat_risk"
    POWERS_POLICY = "powers_policy"
    OPTIONS = "options"
    ACTION = "action"

    @property
    def label(self) -> str:
        """Heading as printed, e.g. 'Powers and policy'."""
        return {
            "information": "Information and intelligence",
            "threat_risk": "Threat and risk assessment",
            "powers_policy": "Powers and policy",
            "options": "Options considered",
            "action": "Action and review",
        }[self.value]


class RunKind(StrEnum):
    """Why a scoring run happened."""

    SUBMIT = "submit"
    EDIT = "edit"
    RESCORE = "rescore"
    NIGHTLY = "nightly"
    MODEL = "model"
    WHATIF = "whatif"


class RunStatus(StrEnum):
    """Where a scoring run is: chunks being done, its last chunk finishing it (summary,
    snapshot), done, or failed with its reason (tasking.services.runs and .sweep)."""

    RUNNING = "running"
    FINISHING = "finishing"
    COMPLETED = "completed"
    FAILED = "failed"
