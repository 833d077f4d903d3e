"""Plain-words help for every MoRiLE input on the request form (what "scope 4" means)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Factor:
    """One MoRiLE input: its form name, label, hint and what each level means."""

    key: str
    label: str
    hint: str
    levels: tuple[tuple[str, str], ...]  # (value, meaning with an example)


_HARM = "0 none, 1 low, 2 moderate, 3 serious, 4 critical or life-changing."

FACTORS: tuple[Factor, ...] = (
    Factor("P", "Physical harm", "Injury or death the criminality causes or threatens. " + _HARM, (
        ("0", "0 - none: no physical harm"),
        ("1", "1 - low: minor injuries, e.g. pushing and shoving"),
        ("2", "2 - moderate: injuries needing treatment, e.g. an assault"),
        ("3", "3 - serious: serious injury or weapons used"),
        ("4", "4 - critical: death or life-changing injury likely"),
    )),
    Factor("Ps", "Psychological harm", "Fear, distress and trauma to victims. " + _HARM, (
        ("0", "0 - none"),
        ("1", "1 - low: short-lived distress"),
        ("2", "2 - moderate: repeat victims, lasting worry"),
        ("3", "3 - serious: intimidation, lasting trauma"),
        ("4", "4 - critical: severe lasting trauma, e.g. sexual exploitation"),
    )),
    Factor("F", "Financial harm", "Money lost by victims, businesses or the public purse. " + _HARM, (
        ("0", "0 - none"),
        ("1", "1 - low: a few hundred pounds"),
        ("2", "2 - moderate: thousands of pounds"),
        ("3", "3 - serious: tens of thousands, or many victims"),
        ("4", "4 - critical: life savings or businesses lost"),
    )),
    Factor("C", "Community and environmental harm", "Damage to a neighbourhood's confidence, safety or surroundings. " + _HARM, (
        ("0", "0 - none"),
        ("1", "1 - low: a nuisance to a few households"),
        ("2", "2 - moderate: a street or estate affected"),
        ("3", "3 - serious: fear across an area, e.g. open drug dealing"),
        ("4", "4 - critical: lasting damage to a whole community"),
    )),
    Factor("S", "Geographic scope", "How far the criminality reaches.", (
        ("1", "1 - a street or one individual"),
        ("2", "2 - a neighbourhood or one BCU"),
        ("3", "3 - several BCUs or force-wide"),
        ("4", "4 - regional or cross-border, e.g. county lines from another force"),
        ("5", "5 - national or international"),
    )),
    Factor("V", "Victim vulnerability", "Who is harmed.", (
        ("0", "0 - none identified"),
        ("1", "1 - some: e.g. lone older residents"),
        ("2", "2 - high: children, exploitation, slavery, targeted elderly"),
    )),
    Factor("L", "Likelihood", "How likely the harm is if nothing is done.", (
        ("1", "1 - unlikely"),
        ("2", "2 - possible"),
        ("3", "3 - likely"),
        ("4", "4 - very likely"),
        ("5", "5 - almost certain, ongoing or escalating"),
    )),
    Factor("Cf", "Confidence in the intelligence", "From its 3x5x2 grading: source 1 with information A or B is high; source 3 or information D or E is low.", (
        ("H", "High: reliable source, known directly (e.g. 1A, 1B)"),
        ("M", "Medium: most intelligence"),
        ("L", "Low: untested or unreliable source, or doubtful information"),
    )),
    Factor("Ca", "Capacity to act", "Are people and assets free to act on it?", (
        ("0", "0 - none free"),
        ("1", "1 - some, with other work moved"),
        ("2", "2 - free now"),
    )),
    Factor("Cb", "Capability", "Do we have the skills, kit and powers?", (
        ("0", "0 - lacking"),
        ("1", "1 - partly"),
        ("2", "2 - fully"),
    )),
    Factor("O", "Opportunity", "Is there a window to act?", (
        ("0", "0 - no window yet"),
        ("1", "1 - a window soon"),
        ("2", "2 - a window to act now"),
    )),
)  # fmt: skip

FACTOR_KEYS = (*(f.key for f in FACTORS), "T")
LABELS = {f.key: f.label for f in FACTORS} | {
    "T": "Threat to life",
    "title": "Title",
    "theme_id": "Control Strategy theme",
    "strands": "4P strands",
    "asset_type": "Asset type wanted",
    "requested_hours": "Hours wanted",
    "opportunity_deadline": "Opportunity deadline",
    "justification": "Justification",
    "summary": "What is known (facts)",
    "rationale": "Why you scored it this way",
}
