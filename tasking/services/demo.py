"""The fictional demo: a made-up force's units, people, assets, themes and 16 cases.

Every name here is invented. The cases are those of docs/domain.md, taken through
the real services (submission, triage, moderation, decisions) so the demo's
audit log and history look like real use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, select

from tasking.models import Asset, Case, CaseScore, Role, Theme, Unit, UnitKind, User, pk, utcnow
from tasking.services.cases import create_case, submit_asset_request
from tasking.services.users import create_user
from tasking.services.workflow import moderate_score, record_decision, transition

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
# username, display name, role, unit code
PEOPLE = (
    ("coordinator", "Alex Morrow (SCTaC coordinator)", Role.COORDINATOR, "CEN"),
    ("analyst", "Priya Dunmore (analyst)", Role.ANALYST, "CEN"),
    ("analyst2", "Tom Castell (moderating analyst)", Role.ANALYST, "CEN"),
    ("chair", "Supt Helen Varga (tasking chair)", Role.CHAIR, "CEN"),
    ("assetowner", "Insp Joe Renwick (surveillance)", Role.ASSET_OWNER, "HUB-N"),
    ("auditor", "Dana Kell (data protection)", Role.AUDITOR, None),
    ("admin", "Chris Hale (administrator)", Role.ADMIN, None),
    ("bcu.north", "PC Lee Fenwick (North BCU)", Role.BCU_REQUESTER, "BCU-N"),
    ("bcu.east", "DS Ruth Alder (East BCU)", Role.BCU_REQUESTER, "BCU-E"),
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
    _C("OP-004", "Vehicle theft organised crime group", "Op TIN LANTERN", "OAC", ("Pursue",), (0, 1, 3, 2), 4, 0, 5, "H", (2, 2, 1), 0, "active", None, "HUB-N", "technical", 30),
    _C("OP-005", "Cash-based money laundering", "Op SALT MEADOW", "ML", ("Pursue",), (0, 1, 4, 2), 4, 0, 3, "L", (1, 0, 1), 0, "deferred", None, "CEN", "financial", 50),
    _C("INT-006", "Online grooming network", None, "CSAE", ("Pursue",), (3, 4, 0, 2), 5, 2, 3, "L", (1, 1, 2), 0, "awaiting_meeting", None, "CEN", "technical", 40),
    _C("INT-007", "Knife-enabled robbery series", None, "SV", ("Pursue",), (3, 3, 1, 3), 2, 1, 4, "M", (2, 2, 2), 0, "scoring", "BCU-CC", "HUB-S", "surveillance", 30),
    _C("INT-008", "Cuckooing, East BCU", None, "DRUGS", ("Protect",), (2, 3, 1, 3), 2, 2, 4, "H", (2, 2, 2), 0, "awaiting_meeting", "BCU-E", "HUB-N", "surveillance", 24),
    _C("INT-009", "Rural plant theft group", None, "OAC", ("Pursue",), (0, 1, 3, 1), 4, 0, 3, "M", (1, 1, 1), 0, "triage", "BCU-MO", "HUB-N", "drones", 16),
    _C("INT-010", "Courier fraud against elderly residents", None, "FRAUD", ("Protect",), (0, 3, 3, 1), 4, 2, 4, "M", (1, 1, 1), 0, "moderation", None, "CEN", "financial", 40),
    _C("INT-011", "Residential cannabis grows", None, "DRUGS", ("Pursue",), (1, 1, 2, 2), 3, 1, 4, "H", (2, 2, 1), 0, "submitted", "BCU-W", "HUB-S", "dogs", 12),
    _C("REQ-012", "Surveillance on prolific burglar", None, "OAC", ("Pursue",), (0, 2, 2, 2), 2, 0, 4, "H", (1, 2, 2), 0, "awaiting_meeting", "BCU-N", "HUB-N", "surveillance", 40),
    _C("REQ-013", "Drone and dogs, arson hotspot", None, "LOCAL", ("Prevent",), (1, 2, 1, 3), 1, 0, 4, "M", (2, 2, 1), 0, "submitted", "BCU-N", "HUB-N", "drones", 12),
    _C("REQ-014", "Technical support, threats-to-life feud", None, "SV", ("Protect",), (4, 3, 0, 3), 2, 1, 3, "M", (0, 2, 2), 1, "awaiting_meeting", "BCU-E", "CEN", "technical", 20),
    _C("REQ-015", "Test purchase, knife sales", None, "KNIFE", ("Prevent",), (2, 1, 0, 2), 1, 2, 3, "H", (2, 1, 1), 0, "triage", "BCU-N", "CEN", "test_purchase", 8),
    _C("REQ-016", "Financial investigator, shoplifting gang", None, "OAC", ("Pursue",), (0, 1, 2, 1), 3, 0, 3, "M", (1, 2, 0), 0, "draft", "BCU-E", "CEN", "financial", 20),
)  # fmt: skip
_PATH = ("submitted", "triage", "scoring", "moderation", "awaiting_meeting")
_DECIDED = {"active": "adopted", "deferred": "deferred"}


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
    session.add_all(
        Asset(code=c, name=n, asset_type=t, hub_id=pk(units[h]), weekly_capacity_hours=cap)
        for c, n, t, h, cap in ASSETS
    )
    logins: dict[str, str] = {}
    users: dict[str, User] = {}
    for username, display, role, unit in PEOPLE:
        logins[username] = demo_password()
        users[username] = create_user(
            session=session, actor=None, username=username, display_name=display,
            role=role.value, password=logins[username], unit_code=unit,
        )  # fmt: skip
    for index, demo in enumerate(CASES):
        _load_case(session, demo, users, units, themes, now + timedelta(seconds=index))
    return logins


def _load_case(
    session: Session,
    demo: DemoCase,
    users: dict[str, User],
    units: dict[str, Unit],
    themes: dict[str, Theme],
    now: datetime,
) -> Case:
    p, ps, f, c = demo.harm
    ca, cb, o = demo.position
    assessment = {
        "P": p, "Ps": ps, "F": f, "C": c, "S": demo.scope, "V": demo.vuln, "L": demo.likelihood,
        "Cf": demo.confidence, "Ca": ca, "Cb": cb, "O": o, "T": demo.threat,
        "rationale": "Demo assessment (fictional).",
    }  # fmt: skip
    facts = {
        "title": demo.title, "codename": demo.codename, "theme_id": pk(themes[demo.theme]),
        "strands": list(demo.strands), "hub_id": pk(units[demo.hub]), "asset_type": demo.asset_type,
        "requested_hours": demo.hours, "summary": f"Fictional demo case {demo.ref}.",
        "next_review": (now + timedelta(days=28)).date(), "assessment": assessment,
    }  # fmt: skip
    if demo.ref.startswith("REQ"):
        requester = users["bcu.north"] if demo.bcu == "BCU-N" else users["bcu.east"]
        facts["justification"] = "Local options are exhausted; specialist support is needed."
        case = submit_asset_request(
            session=session, actor=requester, data=facts, draft=demo.state == "draft", now=now
        )
    else:
        facts.update(kind="operation" if demo.ref.startswith("OP") else "intelligence")
        facts["bcu_id"] = pk(units[demo.bcu]) if demo.bcu else None
        case = create_case(session=session, actor=users["analyst"], data=facts, now=now)
    if case.reference != demo.ref:
        raise RuntimeError(f"demo needs an empty database (got {case.reference} for {demo.ref})")
    target = _DECIDED.get(demo.state, demo.state)
    stop = _PATH.index("awaiting_meeting") if target in _DECIDED.values() else None
    if stop is None and target in _PATH:
        stop = _PATH.index(target)
    for state in _PATH[1 : (stop or 0) + 1]:
        if state == "awaiting_meeting" and case.state == "moderation":
            moderate_score(
                session=session, actor=users["analyst2"], case_id=pk(case),
                expected_version=case.version, agree=True, note="Agreed at moderation.",
            )  # fmt: skip
        case = transition(
            session=session, actor=users["coordinator"], case_id=pk(case),
            expected_version=case.version, to_state=state, reason="Demo progression.",
        )  # fmt: skip
    if target in _DECIDED.values():
        _decide(session, case, users, outcome=target, review=now.date() + timedelta(days=28))
        if demo.state == "active":
            case = transition(
                session=session, actor=users["coordinator"], case_id=pk(case),
                expected_version=case.version, to_state="active", reason="Assets deployed.",
            )  # fmt: skip
    return case


def _decide(
    session: Session, case: Case, users: dict[str, User], *, outcome: str, review: date
) -> None:
    score = session.get(CaseScore, case.id)
    assert score is not None
    record_decision(
        session=session, actor=users["chair"], case_id=pk(case), expected_version=case.version,
        data={
            "outcome": outcome, "score_version": score.score_version,
            "information": "Fictional demo intelligence picture.",
            "threat_risk": "Harm assessed through MoRiLE; see score.",
            "action": "Adopt and task as requested." if outcome == "adopted" else "Defer for review.",
            "hours_granted": case.requested_hours if outcome == "adopted" else 0,
            "next_review": review.isoformat(),
        },
    )  # fmt: skip
    session.refresh(case)
