"""Reading a what-if run for an administrator: movers with why, and a small bar chart.

The run's summary (tasking.services.whatif) holds counts per band and the
biggest rank moves by case id. Here each mover gets its reference and a short
"why": the terms of its score that differ between the current and the
candidate model (weights, multipliers, freshness), from `scoring.explain`.
The chart is geometry only; the template draws it with classes from tasking.css.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

import scoring
from scoring.explain import FACTOR_NAMES, explain
from tasking.models import Case, CaseScore, ModelVersion, ScoringRun
from tasking.services.access import case_scope
from tasking.services.scores import current_model, engine_model
from tasking.web.security import actor

CHART_W, CHART_H = 420, 180
BAR_W = 22
CHART_LEFT, CHART_BOTTOM = 36, 24


@dataclass(frozen=True)
class Bar:
    """One bar of the band chart (current or candidate model)."""

    x: float
    y: float
    height: float
    css: str
    label: str


@dataclass(frozen=True)
class BandChart:
    """Cases per band under the current and the candidate model."""

    bars: list[Bar]
    labels: list[tuple[float, str]]
    top: int
    width: int = CHART_W
    height: int = CHART_H


def band_chart(before: dict[str, int], after: dict[str, int]) -> BandChart:
    """Paired bars per band: current model, then candidate model."""
    top = max([1, *before.values(), *after.values()])
    plot_h = CHART_H - CHART_BOTTOM - 12
    step = (CHART_W - CHART_LEFT) / max(1, len(scoring.BANDS))
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    for i, name in enumerate(scoring.BANDS):
        x0 = CHART_LEFT + i * step + step / 2 - BAR_W
        for j, (counts, css, who) in enumerate(
            ((before, "chart-bar--before", "now"), (after, "chart-bar--after", "candidate"))
        ):
            value = int(counts.get(name, 0))
            height = plot_h * value / top
            bars.append(
                Bar(
                    x=round(x0 + j * BAR_W, 1),
                    y=round(CHART_H - CHART_BOTTOM - height, 1),
                    height=round(height, 1),
                    css=css,
                    label=f"{name} {who}: {value}",
                )
            )
        labels.append((round(x0 + BAR_W, 1), name))
    return BandChart(bars=bars, labels=labels, top=top)


def _why(vector: str, current: scoring.Model, candidate: scoring.Model) -> str:
    """The score terms that differ between the two models for this case's inputs."""
    try:
        inputs = scoring.parse_vector(vector)
    except scoring.VectorError:
        return "-"
    now, then = explain(inputs, model=current), explain(inputs, model=candidate)
    parts: list[str] = []
    for key, value in now.harm_contributions.items():
        other = then.harm_contributions.get(key, value)
        if abs(other - value) > 1e-9:
            parts.append(f"{FACTOR_NAMES.get(key, key)} {value:.1f} -> {other:.1f}")
    terms = (
        ("scope", now.scope_multiplier, then.scope_multiplier),
        ("vulnerability", now.vulnerability_multiplier, then.vulnerability_multiplier),
        ("confidence", now.confidence_multiplier, then.confidence_multiplier),
        ("freshness", now.freshness, then.freshness),
    )
    for name, a, b in terms:
        if abs(a - b) > 1e-9:
            parts.append(f"{name} x{a:.2f} -> x{b:.2f}")
    if now.band != then.band:
        parts.append(f"band {now.band} -> {then.band}")
    return "; ".join(parts) or "other cases moved around it"


def latest_whatif(session: Session, version_id: int) -> ScoringRun | None:
    """The newest what-if run of a model version, if any."""
    return session.exec(
        select(ScoringRun)
        .where(ScoringRun.kind == "whatif", ScoringRun.model_version_id == version_id)
        .order_by(col(ScoringRun.id).desc())
    ).first()


def read_whatif(session: Session, run: ScoringRun, version: ModelVersion) -> dict[str, Any]:
    """The run's summary with movers named (need-to-know applies) and explained."""
    summary: dict[str, Any] = json.loads(run.summary or "{}")
    moves: list[dict[str, Any]] = summary.get("biggest_moves", [])
    ids = [int(m["case_id"]) for m in moves]
    visible: dict[int, tuple[Case, CaseScore]] = {}
    if ids:
        rows = session.exec(
            select(Case, CaseScore)
            .join(CaseScore, col(CaseScore.case_id) == col(Case.id))
            .where(col(Case.id).in_(ids), case_scope(actor()))
        ).all()
        visible = {int(c.id or 0): (c, s) for c, s in rows}
    _, current = current_model(session=session)
    candidate = engine_model(version)
    movers = []
    for move in moves:
        found = visible.get(int(move["case_id"]))
        if found is None:
            continue  # above the reader's clearance: not named
        case, score = found
        movers.append(
            {
                **move,
                "reference": case.reference,
                "case_id": case.id,
                "marking": case.marking,
                "why": _why(score.scored_vector, current, candidate),
            }
        )
    chart = band_chart(summary.get("bands_before", {}), summary.get("bands_after", {}))
    return {"summary": summary, "movers": movers, "chart": chart}
