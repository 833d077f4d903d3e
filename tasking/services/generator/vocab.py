"""Word lists and mix of the generated cases: all made up, chosen to mean nothing."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from tasking.models import State

# Neutral words for codenames ("Op AMBER KITE"); chosen to mean nothing.
ADJECTIVES = (
    "AMBER", "BRASS", "COPPER", "DAWN", "EMBER", "FALLOW", "GRANITE", "HAZEL", "IVORY", "JADE",
    "LINEN", "MAPLE", "OAKEN", "PALE", "QUIET", "RUSSET", "SILVER", "TAWNY", "VELVET",
    "WINTER", "ASHEN", "BRIGHT", "CINDER", "DUSKY", "FROSTED", "GILDED", "HOLLOW", "LOFTY",
    "MISTY", "NIMBLE", "OCHRE", "PLAIN", "ROUGH", "SLATE", "TIDAL", "UMBER", "VIVID",
    "WOOLLEN",
)  # fmt: skip
NOUNS = (
    "ANCHOR", "BEACON", "CANAL", "DRIFT", "ECHO", "FERN", "GATE", "HARBOUR", "ISLAND",
    "JUNIPER", "KITE", "LEDGER", "MILL", "NEEDLE", "ORCHARD", "PEBBLE", "QUARRY", "RAVEN",
    "SPIRE", "THISTLE", "VALLEY", "WILLOW", "ACORN", "BRIDGE", "COMPASS", "DIAL", "FURROW",
    "GARNET", "HERON", "KEEL", "LANTERN", "MEADOW", "NETTLE", "OTTER", "PLOVER", "RUDDER",
    "SPINDLE", "TOWER",
)  # fmt: skip
SUBJECTS = (
    "prolific burglar", "shoplifting gang", "arson hotspot", "knife sales",
    "street robbery series", "stolen vehicle ring", "doorstep fraud ring",
    "cannabis grow network", "county line runners", "catalytic converter thefts",
    "plant and tool thefts", "cash machine attacks", "moped-enabled thefts",
    "dealing from a flat", "online weapon sales", "cuckooing", "fuel theft group",
    "livestock theft", "metal theft group", "illegal money lending", "forged documents",
    "counterfeit goods stall", "dog theft group", "rogue trader gang", "threats-to-life feud",
    "night-time violence", "exploitation of a vulnerable adult", "firearm storage address",
    "courier fraud against elderly", "puppy farming", "romance fraud", "card skimming",
    "exploited car washes", "online grooming", "money mule recruitment",
)  # fmt: skip
# The Control Strategy theme (demo theme codes) each subject belongs to, so that a
# generated title and its theme agree; a subject whose theme is missing gets any theme.
SUBJECT_THEMES = {
    "prolific burglar": "OAC", "shoplifting gang": "OAC", "arson hotspot": "LOCAL",
    "knife sales": "KNIFE", "street robbery series": "SV", "stolen vehicle ring": "OAC",
    "doorstep fraud ring": "FRAUD", "cannabis grow network": "DRUGS",
    "county line runners": "DRUGS", "catalytic converter thefts": "OAC",
    "plant and tool thefts": "OAC", "cash machine attacks": "OAC", "moped-enabled thefts": "OAC",
    "dealing from a flat": "DRUGS", "online weapon sales": "FIREARMS", "cuckooing": "DRUGS",
    "fuel theft group": "OAC", "livestock theft": "OAC", "metal theft group": "OAC",
    "illegal money lending": "ML", "forged documents": "OIC", "counterfeit goods stall": "FRAUD",
    "dog theft group": "OAC", "rogue trader gang": "FRAUD", "threats-to-life feud": "SV",
    "night-time violence": "SV", "exploitation of a vulnerable adult": "MSHT",
    "firearm storage address": "FIREARMS", "courier fraud against elderly": "FRAUD",
    "puppy farming": "LOCAL", "romance fraud": "FRAUD", "card skimming": "FRAUD",
    "exploited car washes": "MSHT", "online grooming": "CSAE", "money mule recruitment": "ML",
}  # fmt: skip
# The decision each state past the meeting implies (adopted work went on to run).
DECIDED = {
    State.ADOPTED: "adopted", State.ACTIVE: "adopted", State.UNDER_REVIEW: "adopted",
    State.CLOSED: "adopted", State.DEFERRED: "deferred", State.DECLINED: "declined",
    State.REFERRED: "referred",
}  # fmt: skip
DECLINE_REASON = "Harm is local: the BCU leads, with advice from the centre (generated)."
VARIED_NOTE = "Varied at moderation: likelihood and harm reconsidered (generated)."
AREAS = (
    "north", "south", "east", "west", "central", "riverside", "coastal", "upland",
    "harbour", "forest", "moorland", "valley",
)  # fmt: skip
ASSET_PHRASES = {
    "surveillance": "surveillance",
    "technical": "technical support",
    "firearms": "firearms support",
    "financial": "financial investigator",
    "covert": "covert deployment",
    "dogs": "dogs",
    "drones": "drone support",
    "test_purchase": "test purchase",
}
OUTCOMES = ("disruption: significant", "disruption: moderate", "disruption: minor", "no trace")
SUMMARY = "Generated for load testing (fictional)."

# Kinds in CaseKind order (operation, intelligence, request) and, per kind, how
# often a case is serious, how often it names a BCU and how often it wants an asset.
KIND_P = (0.15, 0.40, 0.45)
SERIOUS_P = np.array([0.45, 0.20, 0.12])
BCU_P = np.array([0.30, 0.70, 1.0])
ASSET_P = np.array([0.60, 0.30, 1.0])
STATE_P = {
    State.DRAFT: 0.04, State.SUBMITTED: 0.15, State.TRIAGE: 0.10, State.SCORING: 0.08,
    State.MODERATION: 0.07, State.AWAITING_MEETING: 0.15, State.ADOPTED: 0.05,
    State.DEFERRED: 0.06, State.DECLINED: 0.05, State.REFERRED: 0.02, State.ACTIVE: 0.15,
    State.UNDER_REVIEW: 0.04, State.CLOSED: 0.04,
}  # fmt: skip
MODERATED = frozenset(STATE_P) - {
    State.DRAFT, State.SUBMITTED, State.TRIAGE, State.SCORING, State.MODERATION,
}  # fmt: skip
TASKED = frozenset({State.ADOPTED, State.ACTIVE, State.UNDER_REVIEW, State.CLOSED})
THREAT_P = 0.005
DEADLINE_P = 0.30
US_PER_DAY = 86_400 * 1_000_000
EPOCH = datetime(1970, 1, 1)
