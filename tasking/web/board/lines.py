"""The ranked board's lines as HTML (docs/domain.md, "What a ranked board shows").

Fifty lines of seventeen cells took a third of a board page as Jinja: each cell
was a few filter calls, attribute look-ups and escapes. Here each line is one
f-string over values escaped once (names are escaped when they are cached, see
lookups.py). The markup, classes and accessible text are the template's; the
tests read them (tests/web/test_board.py). No style attribute, no script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from tasking.services.board import BoardRow, Movement, RankMovement
from tasking.services.scores import INPUT_SHIFTS
from tasking.web.filters import (
    BAND_LABELS,
    CONFIDENCE,
    asset_label,
    day,
    grade_label,
    number,
    state_label,
)

_SHIFTS = tuple(INPUT_SHIFTS[key] for key in ("P", "Ps", "F", "C", "S", "V", "L", "Cf"))
_NO_SNAPSHOT = (
    '<span class="secondary" aria-hidden="true">&ndash;</span>'
    '<span class="visually-hidden">No snapshot to compare with</span>'
)
_NEW = (
    '<span class="move move--new">new</span>'
    '<span class="visually-hidden"> since the nightly snapshot</span>'
)
_SAME = (
    '<span class="secondary" aria-hidden="true">=</span>'
    '<span class="visually-hidden">No change since the nightly snapshot</span>'
)
_TTL = '<span class="tag tag--ttl">Threat to life</span> '
_OVERDUE = '<span class="tag tag--overdue">Review overdue</span> '


@dataclass(frozen=True)
class Names:
    """Display names for the ids on a board, already escaped for HTML."""

    themes: Mapping[int, str]
    unit_codes: Mapping[int, str]
    kinds: Mapping[int, str]
    strands: Mapping[int, str]
    leads: Mapping[int, str]
    grading: tuple[tuple[str, ...], ...] | None  # [band code][grade code], escaped


def board_lines(
    rows: Iterable[BoardRow],
    *,
    movement: RankMovement | None,
    names: Names,
    today: date,
    case_url: Callable[[str], str],
) -> Markup:
    """The table rows (`<tr>`) of a board page."""
    moves = movement.rows if movement is not None else {}
    return Markup("".join(_line(row, moves, names, today, case_url) for row in rows))  # noqa: S704 - each value escaped in _line


def _line(
    row: BoardRow,
    moves: Mapping[int, Movement],
    names: Names,
    today: date,
    case_url: Callable[[str], str],
) -> str:
    """One board line: every text value goes through `escape`, numbers are formatted."""
    p, ps, fin, com, scope, vuln, likelihood, conf = ((row.inputs >> s) & 7 for s in _SHIFTS)
    band = BAND_LABELS.get(row.band, "?")
    overdue = row.next_review is not None and row.next_review < today
    grading = names.grading
    grade = (
        f'<span class="secondary board__sub">{grading[row.band][row.position_grade]}</span>'
        if grading
        else ""
    )
    asset = escape(asset_label(row.asset_type)) if row.asset_type else "-"
    bcu = names.unit_codes.get(row.bcu_id, "-") if row.bcu_id else "-"
    lead = names.leads.get(row.lead_id, "-") if row.lead_id else "-"
    return (
        f'\n<tr class="board__row{" board__row--ttl" if row.threat else ""}">\n'
        f'  <td class="num board__rank">{row.rank:,}</td>\n'
        f'  <td class="board__move">\n{_move(moves.get(row.case_id))}\n</td>\n'
        f'  <td class="board__case">\n'
        f'    {_TTL if row.threat else ""}<a href="{escape(case_url(row.reference))}"'
        f' class="board__ref">{escape(row.reference)}</a>\n'
        f'    <span class="board__title">{escape(row.codename or row.title)}</span>\n'
        f'    <span class="secondary board__kind">{names.kinds.get(row.kind, "-")}</span>\n'
        f"  </td>\n"
        f'  <td>{names.themes.get(row.theme_id, "-")}<span class="secondary board__sub">'
        f"{names.strands.get(row.strands, '-')}</span></td>\n"
        f'  <td class="board__bcu">{bcu}</td>\n'
        f'  <td class="board__harm"><span class="visually-hidden">Physical, psychological,'
        f" financial, community: </span>{p}&middot;{ps}&middot;{fin}&middot;{com}"
        f'<span class="secondary board__sub">S{scope} V{vuln}</span></td>\n'
        f'  <td class="num">{number(row.total_harm)}</td>\n'
        f'  <td class="num">{likelihood}</td>\n'
        f'  <td class="num">{number(row.risk)}</td>\n'
        f'  <td>{CONFIDENCE.get(conf, "?")}<span class="secondary board__sub">'
        f"{number(row.age_days, 0)} d</span></td>\n"
        f'  <td class="board__priority"><span class="tag tag--{band.lower()}">{band}</span>'
        f" {number(row.priority)}</td>\n"
        f"  <td>{row.position} {grade_label(row.position_grade)}{grade}</td>\n"
        f"  <td>{day(row.opportunity_deadline)}</td>\n"
        f'  <td>{asset}<span class="secondary board__sub">{row.requested_hours} h /'
        f" {row.allocated_hours} h</span></td>\n"
        f'  <td>{escape(state_label(row.state))}<span class="secondary board__sub">moderation'
        f" {escape(row.moderation)}</span></td>\n"
        f"  <td>{lead}</td>\n"
        f'  <td>{day(row.scored_at)}<span class="board__sub{"" if overdue else " secondary"}">'
        f"{_OVERDUE if overdue else ''}{day(row.next_review)}</span></td>\n"
        f"</tr>"
    )


def _move(move: Movement | None) -> str:
    """The movement cell: places moved since the nightly snapshot, said in words as well."""
    if move is None:
        return _NO_SNAPSHOT
    was, moved = move.was, move.moved
    if was is None:
        return _NEW
    if moved is None:
        return (
            f'<span class="secondary">was {was:,}</span>'
            '<span class="visually-hidden"> on the whole board at the nightly snapshot</span>'
        )
    if moved > 0:
        return (
            f'<span class="move move--up"><span aria-hidden="true">&#9650;</span>{moved:,}</span>'
            f'<span class="visually-hidden"> up {moved} place{"" if moved == 1 else "s"}'
            f" since the nightly snapshot (was {was})</span>"
        )
    if moved < 0:
        return (
            f'<span class="move move--down"><span aria-hidden="true">&#9660;</span>{-moved:,}'
            f'</span><span class="visually-hidden"> down {-moved} place'
            f"{'' if moved == -1 else 's'} since the nightly snapshot (was {was})</span>"
        )
    return _SAME
