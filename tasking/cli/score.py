"""`tasking score`: score MoRiLE vectors from the command line.

Vectors come from the arguments or, with none, one per line on stdin (blank
lines and `#` comments skipped). Scoring is all-or-nothing: one bad vector
stops the run before anything is printed, so a partial table is never
mistaken for a whole one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from scoring import (
    BANDS,
    BandMove,
    Explanation,
    Inputs,
    Model,
    ModelError,
    VectorError,
    default_model,
    explain,
    format_vector,
    load_model,
    parse_vector,
    score_vectors,
)

__all__ = ["format_explanation", "format_table", "read_vectors", "score"]

# Exit status for bad input (a bad vector), as click uses for usage errors.
EXIT_BAD_INPUT = 2

# (heading, result key, format); numbers are right-aligned. Scores are shown
# to one decimal place (docs/scoring.md); freshness is a multiplier near 1, so
# one decimal would hide it, hence three.
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("#", "index", "d"),
    ("vector", "vector", "s"),
    ("harm_base", "harm_base", ".1f"),
    ("total_harm", "total_harm", ".1f"),
    ("risk", "risk", ".1f"),
    ("freshness", "freshness", ".3f"),
    ("priority", "priority", ".1f"),
    ("band", "band", "s"),
    ("position", "position", "d"),
    ("grade", "position_grade", "s"),
    ("grading", "grading", "s"),
)


class BadVector(click.ClickException):
    """A vector failed validation; exits with status 2."""

    exit_code = EXIT_BAD_INPUT


def read_vectors(lines: Sequence[str]) -> tuple[list[str], list[int]]:
    """Vectors from text lines (blank and `#` lines skipped) and their 1-based line numbers."""
    vectors: list[str] = []
    line_numbers: list[int] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            vectors.append(text)
            line_numbers.append(number)
    return vectors, line_numbers


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """An aligned text table of scored cases (one row each, display rounding only)."""
    rows = [[heading for heading, _, _ in _COLUMNS]]
    for number, result in enumerate(results, start=1):
        values = {**result, "index": number}
        rows.append([format(values[key], fmt) for _, key, fmt in _COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(width) if fmt == "s" else cell.rjust(width)
            for cell, width, (_, _, fmt) in zip(row, widths, _COLUMNS, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_explanation(number: int, explanation: Explanation, model: Model | None = None) -> str:
    """A readable account of one case's score: contributions, multipliers, band moves."""
    e = explanation
    model = model or default_model()
    harm_terms = " + ".join(f"{key} {value:g}" for key, value in e.harm_contributions.items())
    lines = [
        f"#{number} {e.vector}",
        f"  harm_base   {e.harm_base:.1f} = {harm_terms}",
        f"  total_harm  {e.total_harm:.1f} = harm_base x scope {e.scope_multiplier:g}"
        f" x vulnerability {e.vulnerability_multiplier:g}",
        f"  risk        {e.risk:.1f} = total_harm x likelihood {e.likelihood}",
        f"  priority    {e.priority:.1f} = risk x confidence {e.confidence_multiplier:g}"
        f" x freshness {e.freshness:.3f}",
        f"  band        {e.band}; position {e.position} ({e.position_grade}): {e.grading}",
    ]
    if e.moves:
        lines.append("  nearest band moves:")
        for move in e.moves:
            if move.factor == "A":
                move = whole_day_move(parse_vector(e.vector), move, model)
            lines.append(f"    {move} (priority {priority_in_band(move, model)})")
    elif e.band == "P0":
        lines.append("  threat to life: P0 whatever the other factors")
    else:
        lines.append("  no single-factor change moves the band")
    return "\n".join(lines)


def whole_day_move(inputs: Inputs, move: BandMove, model: Model) -> BandMove:
    """The age move at the first whole day of age that moves the band (not the exact age).

    The explanation finds the exact age, where priority is a hair under the
    threshold; a person reads days, and 143.6 days at "priority 90.0" reads as
    no move at all. `after` is that age rounded to 0.1 day, so the first whole
    day is one of the two whole days above it less 0.05.
    """
    exact = float(move.after.removesuffix(" days"))
    first = max(math.ceil(exact - 0.05), math.floor(inputs.A) + 1)
    for day in (first, first + 1):
        values = {**inputs.as_dict(), "A": float(day)}
        (result,) = score_vectors([format_vector(values)], model=model)
        if result["band"] != move.band_before:
            return dataclasses.replace(
                move,
                after=f"{day} days",
                band_after=result["band"],
                priority_after=result["priority"],
            )
    return move


def priority_in_band(move: BandMove, model: Model) -> str:
    """The move's priority to one decimal, or to as many as it takes to read as its new band.

    89.96 shown as 90.0 would read as P1 (P1 is 90 or more) on a move to P2.
    """
    band = BANDS.index(move.band_after)
    low = {1: model.p1_threshold, 2: model.p2_threshold}.get(band, -math.inf)
    high = {2: model.p1_threshold, 3: model.p2_threshold}.get(band, math.inf)
    for digits in range(1, 10):
        text = f"{move.priority_after:.{digits}f}"
        if low <= float(text) < high:
            return text
    return repr(move.priority_after)


def _load(model_path: Path | None) -> Model:
    if model_path is None:
        return default_model()
    try:
        return load_model(model_path)
    except ModelError as exc:
        # An unreadable file's error already names the path as its "setting".
        detail = exc.reason if exc.setting == str(model_path) else str(exc)
        raise click.ClickException(f"bad model file {model_path}: {detail}") from None


def _bad_vector(
    exc: VectorError, vectors: Sequence[str], line_numbers: Sequence[int] | None
) -> BadVector:
    if exc.index is None:  # score_vectors always sets it; kept for safety
        return BadVector(f"{exc.key}: {exc.reason}")
    where = f"vector #{exc.index + 1}"
    if line_numbers is not None:
        where += f" (stdin line {line_numbers[exc.index]})"
    shown = vectors[exc.index]
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return BadVector(f"{where} {shown!r}: {exc.key}: {exc.reason}")


@click.command()
@click.argument("vectors", nargs=-1)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (full precision) instead of a table."
)
@click.option("--explain", "with_explain", is_flag=True, help="Also explain each case's score.")
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Score under this model file instead of the default model.",
)
def score(
    vectors: tuple[str, ...], as_json: bool, with_explain: bool, model_path: Path | None
) -> None:
    """Score VECTORS (or one vector per line on stdin).

    Blank lines and lines starting with # are skipped. One bad vector stops the
    run (exit status 2) before anything is printed. For example:

    \b
      tasking score MoRiLE:1/P:3/Ps:3/F:2/C:3/S:4/V:2/L:5/Cf:H/Ca:2/Cb:2/O:2/T:0
      tasking score --json < vectors.txt
    """
    model = _load(model_path)
    line_numbers: list[int] | None = None
    if vectors:
        texts = list(vectors)
    else:
        stdin = sys.stdin
        if stdin.isatty():
            raise click.UsageError("give VECTOR arguments or pipe vectors on stdin, one per line")
        texts, line_numbers = read_vectors(stdin.read().splitlines())

    try:
        results = score_vectors(texts, model=model)
    except VectorError as exc:
        raise _bad_vector(exc, texts, line_numbers) from None

    explanations = (
        [explain(parse_vector(text), model=model) for text in texts] if with_explain else []
    )

    if as_json:
        if with_explain:
            for result, explanation in zip(results, explanations, strict=True):
                result["explanation"] = dataclasses.asdict(explanation)
        click.echo(json.dumps(results, indent=2))
        return
    if not results:
        click.echo("no vectors to score", err=True)
        return
    click.echo(f"model {model.label} (sha256 {model.content_hash[:12]})")
    click.echo(format_table(results))
    for number, explanation in enumerate(explanations, start=1):
        click.echo()
        click.echo(format_explanation(number, explanation, model))
