"""The SVG chart geometry (pure functions, no app)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasking.web.charts import HEIGHT, WIDTH, nice_ceiling, time_chart

T0 = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, 1.0), (1, 1.0), (7, 10.0), (11, 20.0), (132, 200.0), (216, 250.0), (450, 500.0)],
)
def test_nice_ceiling_is_the_next_round_number(value: float, expected: float) -> None:
    assert nice_ceiling(value) == expected


def test_time_chart_places_points_in_time_order_inside_the_plot() -> None:
    chart = time_chart(
        [(T0 + timedelta(days=2), 50.0, "b"), (T0, 100.0, "a"), (T0 + timedelta(days=4), 0.0, "c")]
    )
    xs = [p.x for p in chart.points]
    assert [p.css for p in chart.points] == ["a", "b", "c"]  # sorted by time
    assert xs == [chart.left, (chart.left + chart.right) / 2, chart.right]
    assert chart.points[2].y == chart.bottom  # 0 sits on the axis
    assert chart.top <= chart.points[0].y < chart.points[1].y < chart.bottom  # higher is up
    assert chart.path == " ".join(f"{p.x},{p.y}" for p in chart.points)
    assert (chart.width, chart.height) == (WIDTH, HEIGHT)


def test_time_chart_guides_sit_at_their_values_and_the_scale_covers_them() -> None:
    chart = time_chart([(T0, 10.0, "")], guides=[(90.0, "P1 90", "g"), (45.0, "P2 45", "g")])
    p1, p2 = chart.guides
    assert (p1.label, p2.label) == ("P1 90", "P2 45")
    assert chart.top <= p1.y < p2.y < chart.points[0].y <= chart.bottom
    # the scale is 0..100 (90 x 1.1 rounded up), so P2 45 is at 45% of the height
    share = (chart.bottom - p2.y) / (chart.bottom - chart.top)
    assert share == pytest.approx(0.45, abs=0.01)
    assert [t.label for t in chart.y_ticks] == ["0", "25", "50", "75", "100"]


def test_one_point_is_centred_and_an_empty_series_is_empty() -> None:
    one = time_chart([(T0, 5.0, "")])
    assert one.points[0].x == (one.left + one.right) / 2
    assert len(one.x_ticks) == 1
    empty = time_chart([])
    assert empty.empty
    assert empty.path == ""
    assert empty.x_ticks == ()


def test_inverted_chart_puts_rank_one_at_the_top() -> None:
    chart = time_chart([(T0, 1.0, ""), (T0 + timedelta(days=1), 40.0, "")], invert=True, y_floor=1)
    best, worse = chart.points
    assert best.y == chart.top
    assert worse.y > best.y
    assert [t.label for t in chart.y_ticks] == ["1", "50"]
