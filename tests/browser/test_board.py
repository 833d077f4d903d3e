"""The coordinator's morning: sign in, filter the board, pick a risk-matrix cell, open a case."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import blocking_violations, shoot, sign_in

CASE_LINK = re.compile(r"^(OP|INT|REQ)-\d{3}$")
# A risk-matrix cell's accessible name, e.g. "Total harm Serious (12 to under 18), likelihood 4
# (likely): 2 cases".
CELL = re.compile(r"^Total harm .+, likelihood \d .*: ([1-9]\d*) cases?$")
DRUGS = "Drugs supply (incl. county lines)"


def board_cases(page: Page) -> list[str]:
    """The case references listed in the board table, top to bottom."""
    table = page.get_by_role("region", name=re.compile(r"^Cases \d"))
    return [link.inner_text() for link in table.get_by_role("link", name=CASE_LINK).all()]


def test_coordinator_filters_the_board_picks_a_cell_and_opens_a_case(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    """Every step through the real pages, by labels, roles and link text."""
    sign_in(page, "coordinator", live_server.logins["coordinator"])
    expect(page).to_have_url(re.compile(r"/board"))
    expect(page.get_by_role("heading", name="Ranked board", level=1)).to_be_visible()
    everything = board_cases(page)
    assert len(everything) >= 10, everything
    shoot(page, artifacts, "board")

    page.get_by_label("Theme").select_option(label=DRUGS)
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"theme_id="))
    expect(page.get_by_label("Theme")).to_have_value(re.compile(r"\d"))  # the filter is kept
    drugs = board_cases(page)
    assert drugs, "no drugs case on the filtered board"
    assert set(drugs) < set(everything), (drugs, everything)
    for reference in drugs:  # each row listed carries the theme chosen
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=reference))
        expect(row).to_contain_text(DRUGS)
    shoot(page, artifacts, "board-filtered-drugs")

    cell = page.get_by_role("link", name=CELL).first
    label = cell.get_attribute("aria-label") or ""
    found = CELL.match(label)
    assert found, label
    cell.click()
    expect(page).to_have_url(re.compile(r"likelihood="))
    expect(page).to_have_url(re.compile(r"theme_id="))  # the cell keeps the other filters
    chosen = board_cases(page)
    assert len(chosen) == int(found.group(1)), (label, chosen)
    assert set(chosen) <= set(drugs)
    expect(page.get_by_role("link", name=re.compile(r"\(selected\)$"))).to_have_count(1)
    shoot(page, artifacts, "board-matrix-cell")

    reference = chosen[0]
    table = page.get_by_role("region", name=re.compile(r"^Cases \d"))
    table.get_by_role("link", name=reference, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/cases/{reference}$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text(reference).first).to_be_visible()
    shoot(page, artifacts, f"case-{reference}")


def test_board_page_has_no_serious_accessibility_violation(
    page: Page, live_server: LiveServer
) -> None:
    """axe-core finds nothing serious or critical on the coordinator's board."""
    sign_in(page, "coordinator", live_server.logins["coordinator"])
    page.goto("/board")
    expect(page.get_by_role("heading", name="Ranked board", level=1)).to_be_visible()
    violations = blocking_violations(page)
    assert violations == [], "\n".join(violations)


def test_case_page_has_no_serious_accessibility_violation(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    """axe-core finds nothing serious or critical on a case page, forms and charts included."""
    sign_in(page, "coordinator", live_server.logins["coordinator"])
    page.goto("/cases/OP-001")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shoot(page, artifacts, "case-OP-001")
    violations = blocking_violations(page)
    assert violations == [], "\n".join(violations)


def test_board_and_case_pages_fit_a_tablet_width(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    """At 768 px the page never scrolls sideways (a wide table scrolls in its own region)."""
    page.set_viewport_size({"width": 768, "height": 1024})
    sign_in(page, "coordinator", live_server.logins["coordinator"])
    for path, name in (("/board", "board"), ("/cases/OP-001", "case-OP-001")):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        shoot(page, artifacts, f"tablet-{name}")
        wide, viewport = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert wide <= viewport, f"{path} is {wide} px wide in a {viewport} px window"
