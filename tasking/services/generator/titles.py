"""Made-up titles and codenames of generated cases, and the theme each title implies."""

from __future__ import annotations

import numpy as np

from tasking.models import CaseKind
from tasking.services.generator.arrays import pick
from tasking.services.generator.org import Ints, Objects, Org
from tasking.services.generator.vocab import (
    ADJECTIVES,
    AREAS,
    ASSET_PHRASES,
    NOUNS,
    SUBJECT_THEMES,
    SUBJECTS,
)


def subject_themes(org: Org) -> Ints:
    """Per entry of SUBJECTS, the id of its theme in this database (-1 when it has none)."""
    ids = {str(code): int(i) for code, i in zip(org.theme_codes, org.theme_ids, strict=True)}
    return np.array([ids.get(SUBJECT_THEMES[s], -1) for s in SUBJECTS], dtype=np.int64)


def titles(
    rng: np.random.Generator, org: Org, kind: Ints, asset_index: Ints, subject_index: Ints
) -> tuple[Objects, Objects]:
    """Made-up codenames and titles: "Op AMBER KITE", "dogs on cuckooing", "..., east BCU"."""
    n = len(kind)
    is_request = kind == CaseKind.REQUEST
    adjectives, nouns = np.array(ADJECTIVES, dtype=object), np.array(NOUNS, dtype=object)
    codename = "Op " + pick(rng, adjectives, n) + " " + pick(rng, nouns, n)
    subject = np.array(SUBJECTS, dtype=object)[subject_index]
    phrases = np.array([ASSET_PHRASES.get(str(t), str(t)) for t in org.asset_types], object)
    connector = np.array([" on ", ", "], dtype=object)[(rng.random(n) >= 0.6).astype(np.int64)]
    request_title = phrases[asset_index] + connector + subject
    intel_title = subject + ", " + pick(rng, np.array(AREAS, dtype=object), n) + " BCU"
    others = np.where(is_request, request_title, intel_title)
    title = np.where(kind == CaseKind.OPERATION, codename, others)
    return codename, title
