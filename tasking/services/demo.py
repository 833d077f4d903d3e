"""The fictional demo: a made-up force's units, people, assets, themes and 16 cases.

Every name here is invented. The cases are those of docs/domain.md, taken through
the real services (submission, triage, questions to the BCU, graded
intelligence, moderation, decisions, closing, linked cases) so the demo's audit log and
history look like real use, and every state of a case's life is shown. The
work started five weeks ago, so some reviews are overdue; today's graded
intelligence keeps every open case at intelligence age 0.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from tasking.models import (
    Assessment,
    Asset,
    Case,
    Marking,
    Role,
    State,
    Strand,
    Theme,
    Unit,
    UnitKind,
    User,
    pk,
    utcnow,
)
from tasking.services.cases import create_case, submit_asset_request, update_assessment
from tasking.services.links import link_cases
from tasking.services.users import create_user
from tasking.services.workflow import (
    answer_information_request,
    log_intelligence,
    moderate_score,
    record_decision,
    request_information,
    transition,
)

BCUS = (
    ("BCU-N", "North BCU"), ("BCU-NE", "North East BCU"), ("BCU-E", "East BCU"),
    ("BCU-SE", "South East BCU"), ("BCU-S", "South BCU"), ("BCU-SW", "South West BCU"),
    ("BCU-W", "West BCU"), ("BCU-NW", "North West BCU"), ("BCU-CC", "City Centre BCU"),
    ("BCU-RV", "Riverside BCU"), ("BCU-CO", "Coast BCU"), ("BCU-MO", "Moorland BCU"),
)  # fmt: skip
HUBS = (
    ("HUB-N", "Northern Specialist Crime Hub", UnitKind.HUB),
    ("HUB-S", "Southern Specialist Crime Hub", UnitKind.HUB),
    ("CEN", "Central Specialist Units", UnitKind.CENTRAL),
)
THEMES = (
    ("CSAE", "Child sexual abuse and exploitation", False),
    ("MSHT", "Modern slavery and human trafficking", False),
    ("OIC", "Organised immigration crime", False),
    ("DRUGS", "Drugs supply (incl. county lines)", False),
    ("FIREARMS", "Firearms", False),
    ("OAC", "Organised acquisitive crime", False),
    ("ML", "Money laundering", False),
    ("FRAUD", "Fraud and economic crime", False),
    ("BCS", "Bribery, corruption and sanctions evasion", False),
    ("CYBER", "Cyber crime", False),
    ("KNIFE", "Knife crime", True),
    ("SV", "Serious violence", True),
    ("LOCAL", "Local priority (BCU)", True),
)
ASSETS = (
    ("SURV-N", "Northern surveillance team", "surveillance", "HUB-N", 120),
    ("SURV-S", "Southern surveillance team", "surveillance", "HUB-S", 120),
    ("TECH-1", "Technical support unit", "technical", "CEN", 80),
    ("FIRE-1", "Firearms operations unit", "firearms", "CEN", 200),
    ("FIN-1", "Financial investigation team", "financial", "CEN", 150),
    ("COV-1", "Covert operations unit", "covert", "CEN", 60),
    ("DOG-S", "Southern dog section", "dogs", "HUB-S", 60),
    ("DRONE-N", "Northern drone unit", "drones", "HUB-N", 40),
    ("TP-1", "Test purchase team", "test_purchase", "CEN", 30),
)
# username, display name, role, unit code, clearance, asset owned: 9 users, 7 roles
_S, _OS = Marking.SECRET, Marking.OFFICIAL_SENSITIVE
PEOPLE = (
    ("coordinator", "Alex Morrow (SCTaC coordinator)", Role.COORDINATOR, "CEN", _S, None),
    ("analyst", "Priya Dunmore (analyst)", Role.ANALYST, "CEN", _S, None),
    ("analyst2", "Tom Castell (moderating analyst)", Role.ANALYST, "CEN", _S, None),
    ("chair", "Supt Helen Varga (tasking chair)", Role.CHAIR, "CEN", _S, None),
    ("assetowner", "Insp Joe Renwick (surveillance)", Role.ASSET_OWNER, "HUB-N", _OS, "SURV-N"),
    ("auditor", "Dana Kell (data protection)", Role.AUDITOR, None, _S, None),
    ("admin", "Chris Hale (administrator)", Role.ADMIN, None, _OS, None),
    ("bcu.north", "PC Lee Fenwick (North BCU)", Role.BCU_REQUESTER, "BCU-N", _OS, None),
    ("bcu.east", "DS Ruth Alder (East BCU)", Role.BCU_REQUESTER, "BCU-E", _OS, None),
)
_WORDS = (
    "amber", "beacon", "cinder", "delta", "ember", "fjord", "granite", "harbour", "island",
    "juniper", "kestrel", "lantern", "meadow", "nimbus", "orchard", "pebble", "quartz", "ridge",
    "saffron", "thistle", "upland", "violet", "willow", "yonder", "zephyr", "copper", "marble",
)  # fmt: skip


@dataclass(frozen=True)
class DemoCase:
    """One row of the demo table in docs/domain.md, with where it sits in its life."""

    ref: str
    title: str
    codename: str | None
    theme: str
    strands: tuple[str, ...]
    harm: tuple[int, int, int, int]
    scope: int
    vuln: int
    likelihood: int
    confidence: str
    position: tuple[int, int, int]
    threat: int
    state: str
    bcu: str | None
    hub: str
    asset_type: str
    hours: int


_C = DemoCase
CASES = (
    _C("OP-001", "County lines supply into coastal towns", "Op KESTREL GLASS", "DRUGS", ("Pursue", "Protect"), (3, 3, 2, 3), 4, 2, 5, "H", (2, 2, 2), 0, "active", "BCU-CO", "HUB-S", "surveillance", 80),
    _C("OP-002", "Firearms supply network", "Op MARLIN STEP", "FIREARMS", ("Pursue",), (4, 3, 1, 3), 3, 0, 4, "M", (1, 2, 2), 0, "awaiting_meeting", None, "CEN", "firearms", 60),
    _C("OP-003", "Labour exploitation at car washes", "Op HOLLOW REED", "MSHT", ("Pursue", "Protect"), (3, 4, 3, 2), 3, 2, 4, "M", (1, 1, 1), 0, "moderation", None, "HUB-N", "covert", 40),
    _C("OP-004", "Vehicle theft organised crime group", "Op TIN LANTERN", "OAC", ("Pursue",), (0, 1, 3, 2), 4, 0, 5, "H", (2, 2, 1), 0, "under_review", None, "HUB-N", "technical", 30),
    _C("OP-005", "Cash-based money laundering", "Op SALT MEADOW", "ML", ("Pursue",), (0, 1, 4, 2), 4, 0, 3, "L", (1, 0, 1), 0, "deferred", None, "CEN", "financial", 50),
    _C("INT-006", "Online grooming network", None, "CSAE", ("Pursue",), (3, 4, 0, 2), 5, 2, 3, "L", (1, 1, 2), 0, "submitted", None, "CEN", "technical", 40),
    _C("INT-007", "Knife-enabled robbery series", None, "SV", ("Pursue",), (3, 3, 1, 3), 2, 1, 4, "M", (2, 2, 2), 0, "scoring", "BCU-CC", "HUB-S", "surveillance", 30),
    _C("INT-008", "Cuckooing, East BCU", None, "DRUGS", ("Protect",), (2, 3, 1, 3), 2, 2, 4, "H", (2, 2, 2), 0, "awaiting_meeting", "BCU-E", "HUB-N", "surveillance", 24),
    _C("INT-009", "Rural plant theft group", None, "OAC", ("Pursue",), (0, 1, 3, 1), 4, 0, 3, "M", (1, 1, 1), 0, "declined", "BCU-MO", "HUB-N", "drones", 16),
    _C("INT-010", "Courier fraud against elderly residents", None, "FRAUD", ("Protect",), (0, 3, 3, 1), 4, 2, 4, "M", (1, 1, 1), 0, "referred", None, "CEN", "financial", 40),
    _C("INT-011", "Residential cannabis grows", None, "DRUGS", ("Pursue",), (1, 1, 2, 2), 3, 1, 4, "H", (2, 2, 1), 0, "triage", "BCU-W", "HUB-S", "dogs", 12),
    _C("REQ-012", "Surveillance on prolific burglar", None, "OAC", ("Pursue",), (0, 2, 2, 2), 2, 0, 4, "H", (1, 2, 2), 0, "adopted", "BCU-N", "HUB-N", "surveillance", 40),
    _C("REQ-013", "Drone and dogs, arson hotspot", None, "LOCAL", ("Prevent",), (1, 2, 1, 3), 1, 0, 4, "M", (2, 2, 1), 0, "closed", "BCU-N", "HUB-N", "drones", 12),
    _C("REQ-014", "Technical support, threats-to-life feud", None, "SV", ("Protect",), (4, 3, 0, 3), 2, 1, 3, "M", (0, 2, 2), 1, "adopted", "BCU-E", "CEN", "technical", 20),
    _C("REQ-015", "Test purchase, knife sales", None, "KNIFE", ("Prevent",), (2, 1, 0, 2), 1, 2, 3, "H", (2, 1, 1), 0, "information_requested", "BCU-N", "CEN", "test_purchase", 8),
    _C("REQ-016", "Financial investigator, shoplifting gang", None, "OAC", ("Pursue",), (0, 1, 2, 1), 3, 0, 3, "M", (1, 2, 0), 0, "draft", "BCU-E", "CEN", "financial", 20),
)  # fmt: skip
# How each decided case was decided: outcome, assets (code, hours), and the rest of the record.
_DECISIONS: dict[str, dict[str, object]] = {
    "OP-001": {"outcome": "adopted", "assets": (("SURV-S", 80),), "review_days": 56},
    "OP-004": {"outcome": "adopted", "assets": (("TECH-1", 30),), "review_days": 28},
    "OP-005": {"outcome": "deferred", "review_days": 28},
    "INT-009": {
        "outcome": "declined", "decline_reason": "Harm is local: the BCU's rural crime team leads.",
        "conditions": "Resubmit if the group is linked to other BCUs.",
        "dissent": "One member would have deferred for a month.",
    },
    "INT-010": {"outcome": "referred", "referral_destination": "NECC"},
    "REQ-012": {"outcome": "adopted", "assets": (("SURV-N", 40),), "review_days": 42},
    "REQ-013": {
        "outcome": "adopted", "assets": (("DRONE-N", 8), ("DOG-S", 4)), "review_days": 14,
        "asset_type_reason": "Dogs search the ground the drone cannot see under tree cover.",
    },
}  # fmt: skip
# Related demo cases linked for deconfliction by the coordinator: from, to, type, reason.
LINKS = (
    ("OP-001", "INT-008", "same_ocg",
     "Fictional: the addresses cuckooed in INT-008 are the county line's bases in OP-001."),
    ("REQ-012", "OP-004", "same_subject",
     "Fictional: the burglar of REQ-012 steals car keys for the OP-004 group."),
)  # fmt: skip
# 3x5x2 gradings that give each confidence (docs/domain.md mapping): H 1B, M 2B, L 3C.
_GRADING = {"H": (1, "B"), "M": (2, "B"), "L": (3, "C")}
_PATH = ("submitted", "triage", "scoring", "moderation", "awaiting_meeting")
_STOP = {
    "submitted": 0, "triage": 1, "information_requested": 1, "scoring": 2, "moderation": 3,
}  # fmt: skip
STARTED_DAYS_AGO = 35  # the demo's work began five weeks before it is loaded


def demo_password() -> str:
    """A random four-word passphrase (demo sign-ins are printed once, never stored in code)."""
    return "-".join(secrets.choice(_WORDS) for _ in range(4)) + f"-{secrets.randbelow(90) + 10}"


def is_seeded(session: Session) -> bool:
    """True when the organisation has already been loaded."""
    return session.exec(select(Unit)).first() is not None


def seed_demo(*, session: Session, now: datetime | None = None) -> dict[str, str]:
    """Load the whole demo into an empty database; returns username -> password."""
    now = now or utcnow()
    units = {}
    for code, name in BCUS:
        units[code] = Unit(code=code, name=name, kind=UnitKind.BCU.value)
    for code, name, kind in HUBS:
        units[code] = Unit(code=code, name=name, kind=kind.value)
    themes = {code: Theme(code=code, name=name, is_local=local) for code, name, local in THEMES}
    session.add_all([*units.values(), *themes.values()])
    session.flush()
    assets = {
        c: Asset(code=c, name=n, asset_type=t, hub_id=pk(units[h]), weekly_capacity_hours=cap)
        for c, n, t, h, cap in ASSETS
    }
    session.add_all(assets.values())
    session.flush()
    logins: dict[str, str] = {}
    users: dict[str, User] = {}
    for username, display, role, unit, clearance, asset in PEOPLE:
        logins[username] = demo_password()
        users[username] = create_user(
            session=session, actor=None, username=username, display_name=display,
            role=role.value, password=logins[username], unit_code=unit,
            clearance=clearance.value, asset_code=asset,
        )  # fmt: skip
    started = now - timedelta(days=STARTED_DAYS_AGO)
    demo = _Demo(session, users, units, themes, assets)
    for index, case in enumerate(CASES):
        demo.load(case, started + timedelta(minutes=index), now)
    for frm, to, link_type, reason in LINKS:
        linked = session.exec(select(Case).where(Case.reference == frm)).one()
        link_cases(
            session=session,
            actor=users["coordinator"],
            case_id=pk(linked),
            data={"reference": to, "link_type": link_type, "reason": reason},
        )
    return logins


@dataclass
class _Demo:
    session: Session
    users: dict[str, User]
    units: dict[str, Unit]
    themes: dict[str, Theme]
    assets: dict[str, Asset]

    def load(self, demo: DemoCase, at: datetime, now: datetime) -> Case:
        """Take one demo case through the services to its state."""
        p, ps, f, c = demo.harm
        ca, cb, o = demo.position
        assessment = {
            "P": p, "Ps": ps, "F": f, "C": c, "S": demo.scope, "V": demo.vuln,
            "L": demo.likelihood, "Cf": demo.confidence, "Ca": ca, "Cb": cb, "O": o,
            "T": demo.threat, "rationale": "Demo assessment (fictional).",
        }  # fmt: skip
        facts: dict[str, object] = {
            "title": demo.title, "codename": demo.codename,
            "theme_id": pk(self.themes[demo.theme]), "strands": list(demo.strands),
            "hub_id": pk(self.units[demo.hub]), "asset_type": demo.asset_type,
            "requested_hours": demo.hours, "summary": f"Fictional demo case {demo.ref}.",
            "next_review": (now + timedelta(days=14)).date(),
        }  # fmt: skip
        if demo.threat:  # REQ-014: the facts alone first, the assessment after the decision
            facts["threat_to_life"] = True
        else:
            facts["assessment"] = assessment
        if demo.ref.startswith("REQ"):
            requester = self._requester(demo)
            facts["justification"] = "Local options are exhausted; specialist support is needed."
            case = submit_asset_request(
                session=self.session, actor=requester, data=facts, draft=demo.state == "draft",
                now=at,
            )  # fmt: skip
        else:
            facts.update(kind="operation" if demo.ref.startswith("OP") else "intelligence")
            facts["bcu_id"] = pk(self.units[demo.bcu]) if demo.bcu else None
            case = create_case(
                session=self.session, actor=self.users["analyst"], data=facts, now=at
            )
        if case.reference != demo.ref:
            raise RuntimeError(
                f"demo needs an empty database (got {case.reference} for {demo.ref})"
            )
        if demo.threat:
            return self._threat_to_life(case, assessment, at, now)
        if demo.state == "draft":
            return case
        if demo.ref == "REQ-012":  # a question answered during triage
            case = self._step(case, "triage", at)
            self._ask(case, answer_by=self._requester(demo))
        stop = _STOP.get(demo.state, len(_PATH) - 1)
        for state in _PATH[1 : stop + 1]:
            if state == "awaiting_meeting":
                self._moderate(case, at)
            if case.state != state:
                case = self._step(case, state, at)
        if demo.state == "information_requested":
            self._ask(case, answer_by=None)
        if demo.ref in _DECISIONS:
            self._decide(case, _DECISIONS[demo.ref], at + timedelta(days=1))
        if demo.state in ("active", "under_review", "closed"):
            case = self._step(case, "active", at + timedelta(days=2), "Assets deployed.")
        if demo.state == "under_review":
            case = self._step(case, "under_review", at + timedelta(days=20), "Review of results.")
        if demo.state == "closed":
            self._step(
                case, "closed", at + timedelta(days=16), "Arson series stopped.",
                outcome={"outcome": "No fires since deployment", "grades": {"Prevent": "moderate"}},
            )  # fmt: skip
        elif case.state != State.DRAFT and demo.state not in ("declined", "referred"):
            self._intelligence(case, demo.confidence, now)
        return case

    def _requester(self, demo: DemoCase) -> User:
        return self.users["bcu.north" if demo.bcu == "BCU-N" else "bcu.east"]

    def _step(
        self, case: Case, state: str, at: datetime, reason: str = "Demo progression.",
        outcome: dict[str, object] | None = None,
    ) -> Case:  # fmt: skip
        return transition(
            session=self.session, actor=self.users["coordinator"], case_id=pk(case),
            expected_version=case.version, to_state=state, reason=reason, outcome=outcome, now=at,
        )  # fmt: skip

    def _moderate(self, case: Case, at: datetime) -> None:
        moderate_score(
            session=self.session, actor=self.users["analyst2"], case_id=pk(case),
            expected_version=case.version, agree=True, note="Agreed at moderation.", now=at,
        )  # fmt: skip
        self.session.refresh(case)

    def _ask(self, case: Case, *, answer_by: User | None) -> None:
        request_information(
            session=self.session,
            actor=self.users["coordinator"],
            case_id=pk(case),
            expected_version=case.version,
            data={"question": "Which local options have been tried, and with what result?"},
        )
        self.session.refresh(case)
        if answer_by is not None:
            answer_information_request(
                session=self.session,
                actor=answer_by,
                case_id=pk(case),
                expected_version=case.version,
                data={"answer": "Two local surveillance attempts; both compromised (fictional)."},
            )
            self.session.refresh(case)

    def _intelligence(self, case: Case, confidence: str, now: datetime) -> None:
        source, info = _GRADING[confidence]
        log_intelligence(
            session=self.session, actor=self.users["analyst"], case_id=pk(case),
            expected_version=case.version, now=now,
            data={
                "source_grade": source, "info_grade": info, "handling": "P",
                "summary": "Fictional corroborating report.", "received_at": now.isoformat(),
            },
        )  # fmt: skip
        self.session.refresh(case)

    def _decide(self, case: Case, plan: dict[str, object], at: datetime) -> None:
        outcome = str(plan["outcome"])
        review = plan.get("review_days")
        assets = plan.get("assets", ())
        assert isinstance(assets, tuple)
        row = self.session.get(Assessment, case.id)
        assert row is not None
        data: dict[str, object] = {
            "outcome": outcome, "assessment_version": row.version,
            "information": "Fictional demo intelligence picture.",
            "threat_risk": "Harm assessed through MoRiLE; see the score.",
            "powers_policy": "Authorities in place for the tactics proposed (fictional).",
            "options": "Adopt, defer, decline or refer to a partner.",
            "action": {"adopted": "Task as below.", "deferred": "Defer and review.",
                       "declined": "Decline; the BCU leads.", "referred": "Refer."}[outcome],
            "assets": [{"asset_id": pk(self.assets[code]), "hours": h} for code, h in assets],
            "strands": Strand(case.strands).names(),
            "next_review": (at + timedelta(days=int(str(review)))).date().isoformat()
            if review else None,
            **{k: v for k, v in plan.items() if k not in ("outcome", "assets", "review_days")},
        }  # fmt: skip
        record_decision(
            session=self.session, actor=self.users["chair"], case_id=pk(case),
            expected_version=case.version, data=data, now=at,
        )  # fmt: skip
        self.session.refresh(case)

    def _threat_to_life(
        self, case: Case, assessment: dict[str, object], at: datetime, now: datetime
    ) -> Case:
        """REQ-014: decided at once by the duty senior officer, assessed and moderated after."""
        self._decide(
            case,
            {"outcome": "adopted", "assets": (("TECH-1", 20),), "review_days": 42,
             "immediate": True},
            at + timedelta(hours=1),
        )  # fmt: skip
        update_assessment(
            session=self.session, actor=self.users["analyst"], case_id=pk(case),
            expected_version=case.version, data=assessment, now=at + timedelta(hours=6),
            reason="Threat-to-life assessment completed after the immediate decision.",
        )  # fmt: skip
        self.session.refresh(case)
        self._moderate(case, at + timedelta(hours=8))
        self._intelligence(case, str(assessment["Cf"]), now)
        return case
