"""The risk matrix as server-rendered SVG: total harm bands against likelihood 1 to 5.

Each cell counts the cases of the board's other filters and is a link that
filters the board to that cell. No script and no style attribute (the CSP
allows neither): shading is a class per level, coloured by the stylesheet.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from markupsafe import Markup, escape

from tasking.services.board import HARM_BANDS, LIKELIHOODS, BoardFilter

CELL_W, CELL_H = 58, 40
LEFT, TOP, BOTTOM = 196, 8, 46
LEVELS = 5
LIKELIHOOD_WORDS = {
    1: "unlikely",
    2: "possible",
    3: "likely",
    4: "very likely",
    5: "almost certain",
}


def harm_band_label(index: int) -> str:
    """A harm band with its range, e.g. 'Serious (12 to under 18)'."""
    low, high, name = HARM_BANDS[index]
    span = f"{low:g} to under {high:g}" if high is not None else f"{low:g} or more"
    return f"{name} ({span})"


def shade(count: int, top: int) -> int:
    """Shading level 0..LEVELS of a cell (square-root scale: a few cells hold most cases)."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, min(LEVELS, math.ceil(LEVELS * math.sqrt(count / top))))


def risk_matrix_svg(
    matrix: list[list[int]], filters: BoardFilter, link: Callable[[BoardFilter], str]
) -> Markup:
    """The matrix as an accessible SVG; `link` gives the board address of a filter."""
    rows, cols = len(HARM_BANDS), len(LIKELIHOODS)
    width, height = LEFT + cols * CELL_W + 4, TOP + rows * CELL_H + BOTTOM
    top = max((n for row in matrix for n in row), default=0)
    parts = [
        f'<svg class="matrix" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        ' role="group" aria-labelledby="matrix-title" focusable="false"'
        ' xmlns="http://www.w3.org/2000/svg">'
    ]
    for r in range(rows):
        band = rows - 1 - r  # highest harm at the top
        y = TOP + r * CELL_H
        parts.append(
            f'<text class="matrix__axis" x="{LEFT - 8}" y="{y + CELL_H / 2 + 5}"'
            f' text-anchor="end">{escape(harm_band_label(band))}</text>'
        )
        for c, level in enumerate(LIKELIHOODS):
            x = LEFT + c * CELL_W
            count = matrix[band][c]
            selected = filters.harm_band == band and filters.likelihood == level
            cell = filters.with_(harm_band=band, likelihood=level)
            label = (
                f"Total harm {harm_band_label(band)}, likelihood {level}"
                f" ({LIKELIHOOD_WORDS[level]}): {count} case{'s' if count != 1 else ''}"
                + (" (selected)" if selected else "")
            )
            classes = f"matrix__cell heat-{shade(count, top)}" + (
                " is-selected" if selected else ""
            )
            current = ' aria-current="true"' if selected else ""
            parts.append(
                f'<a href="{escape(link(cell))}" aria-label="{escape(label)}"{current}>'
                f"<title>{escape(label)}</title>"
                f'<rect class="{classes}" x="{x + 1}" y="{y + 1}" width="{CELL_W - 2}"'
                f' height="{CELL_H - 2}"/>'
                f'<text class="matrix__count heat-text-{shade(count, top)}" x="{x + CELL_W / 2}"'
                f' y="{y + CELL_H / 2 + 5}" text-anchor="middle">{count:,}</text></a>'
            )
    base = TOP + rows * CELL_H
    for c, level in enumerate(LIKELIHOODS):
        parts.append(
            f'<text class="matrix__axis" x="{LEFT + c * CELL_W + CELL_W / 2}" y="{base + 18}"'
            f' text-anchor="middle">{level}</text>'
        )
    parts.append(
        f'<text class="matrix__axis-title" x="{LEFT + cols * CELL_W / 2}" y="{base + 38}"'
        ' text-anchor="middle">Likelihood (1 unlikely to 5 almost certain)</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number
