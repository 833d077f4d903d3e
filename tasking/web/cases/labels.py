"""Words for the MoRiLE factors and the 3x5x2 grading (docs/scoring.md, docs/domain.md)."""

from __future__ import annotations

from tasking.models import LINK_TYPES

_HARM = [
    ("0", "0 none"),
    ("1", "1 low"),
    ("2", "2 moderate"),
    ("3", "3 serious"),
    ("4", "4 critical or life-changing"),
]
_POSITION = [("0", "0 none"), ("1", "1 some"), ("2", "2 full")]

# key, name, options (value, text): the order of docs/scoring.md, 'Inputs'.
FACTORS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("P", "Physical harm", _HARM),
    ("Ps", "Psychological harm", _HARM),
    ("F", "Financial harm", _HARM),
    ("C", "Community and environmental harm", _HARM),
    (
        "S",
        "Geographic scope",
        [
            ("1", "1 street or individual"),
            ("2", "2 neighbourhood or one BCU"),
            ("3", "3 several BCUs or force-wide"),
            ("4", "4 regional or cross-border"),
            ("5", "5 national or international"),
        ],
    ),
    (
        "V",
        "Victim vulnerability",
        [("0", "0 none identified"), ("1", "1 some"), ("2", "2 high")],
    ),
    (
        "L",
        "Likelihood",
        [
            ("1", "1 unlikely"),
            ("2", "2 possible"),
            ("3", "3 likely"),
            ("4", "4 very likely"),
            ("5", "5 almost certain, ongoing or escalating"),
        ],
    ),
    ("Cf", "Confidence in the intelligence", [("H", "H high"), ("M", "M medium"), ("L", "L low")]),
    ("Ca", "Capacity to act", _POSITION),
    ("Cb", "Capability", _POSITION),
    ("O", "Opportunity", _POSITION),
    ("T", "Threat to life", [("0", "0 no"), ("1", "1 yes: threat to life")]),
]
FACTOR_NAMES = {key: name for key, name, _ in FACTORS}
FACTOR_TEXT = {key: dict(options) for key, _, options in FACTORS}

# The kinds of work as a page names them (the shared filter lower-cases "BCU").
KIND_LABELS = {1: "Operation", 2: "Intelligence case", 3: "BCU asset request"}

SOURCE_GRADES = [("1", "1 reliable"), ("2", "2 untested"), ("3", "3 not reliable")]
INFO_GRADES = [
    ("A", "A known directly to the source"),
    ("B", "B known indirectly, corroborated"),
    ("C", "C known indirectly"),
    ("D", "D not known"),
    ("E", "E suspected to be false"),
]
HANDLING = [("P", "P lawful sharing permitted"), ("C", "C sharing permitted with conditions")]
GRADING_TEXT = {
    "source": dict(SOURCE_GRADES),
    "info": dict(INFO_GRADES),
    "handling": dict(HANDLING),
}
OUTCOMES = [
    ("adopted", "Adopt", "Task assets now"),
    ("deferred", "Defer", "Waiting list, with a review date"),
    ("declined", "Decline", "The reason goes to the requester"),
    ("referred", "Refer", "To a regional unit, national agency or partner"),
]
STRANDS = [
    ("Pursue", "Pursue"),
    ("Prevent", "Prevent"),
    ("Protect", "Protect"),
    ("Prepare", "Prepare"),
]
# How two cases are linked, as radio options (value, text, hint).
LINK_TYPE_OPTIONS = [(value, text, "") for value, text in LINK_TYPES.items()]
# The form's labels, for the error summary ("Label: problem").
LABELS = {
    **FACTOR_NAMES,
    "rationale": "Rationale",
    "source_grade": "Source",
    "info_grade": "Information",
    "handling": "Handling",
    "summary": "What the intelligence says",
    "received_at": "Received",
    "decision": "Moderation",
    "note": "Reason",
    "reason": "Reason",
    "outcome": "Outcome",
    "to_state": "New state",
    "information": "Information",
    "threat_risk": "Threat and risk",
    "powers_policy": "Powers and policy",
    "options": "Options considered",
    "action": "Action",
    "chair_id": "Chair",
    "conditions": "Conditions",
    "owner_id": "Owner",
    "strands": "4P strands",
    "next_review": "Next review",
    "dissent": "Dissent",
    "grading_varied": "Grading varied",
    "variation_rationale": "Why the grading is varied",
    "score_version": "Score shown",
    "version": "Case",
    "question": "Question",
    "marking": "Handling marking",
    "grades": "Disruption grades",
    "assets": "Assets and hours",
    "asset_type_reason": "Why another asset type",
    "referral_destination": "Referred to",
    "decline_reason": "Reason given to the BCU",
    "varied": "Varied inputs",
    "reference": "Reference of the case to link",
    "link_type": "How the cases are linked",
    "link_id": "Link",
    **{f"varied.{key}": f"Varied {name.lower()}" for key, name in FACTOR_NAMES.items()},
    **{f"assets.{i}.asset_id": f"Asset {i + 1}" for i in range(3)},
    **{f"assets.{i}.hours": f"Hours for asset {i + 1}" for i in range(3)},
}
