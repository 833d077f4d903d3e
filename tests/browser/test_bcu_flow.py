"""The BCU pathway in a real browser: ask for an asset with the live preview, then follow it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import blocking_violations, shoot, sign_in

INPUTS = {
    "Physical harm": "2", "Psychological harm": "3", "Financial harm": "1",
    "Community and environmental harm": "3", "Geographic scope": "2",
    "Victim vulnerability": "1", "Likelihood": "4", "Confidence in the intelligence": "M",
    "Capacity to act": "1", "Capability": "2", "Opportunity": "2",
}  # fmt: skip


def test_officer_asks_for_an_asset_and_the_coordinator_sees_it(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    """Fill the form (the preview follows each choice), submit, find it on the board."""
    sign_in(page, "bcu.north", live_server.logins["bcu.north"])
    page.get_by_role("link", name="New request").click()
    page.get_by_label("Title").fill("Drone over the allotment thefts (fictional)")
    page.get_by_label("Control Strategy theme").select_option(label="Organised acquisitive crime")
    page.get_by_label("Asset type wanted").select_option(value="drones")
    page.get_by_label("Hours wanted").fill("12")
    page.get_by_label("Justification").fill("Night-time thefts; local patrols cannot cover it.")
    preview = page.locator("#score-preview")
    expect(preview).to_contain_text("Choose a level for every MoRiLE input")
    for label, value in INPUTS.items():
        page.get_by_label(label, exact=True).select_option(value=value)
    # 2+3+1+3 = 9 harm, x1.2 scope x1.2 vulnerability, x4 likelihood, x0.85 confidence.
    expect(preview).to_contain_text("priority 44.1")
    expect(preview).to_contain_text("P3")
    expect(preview).to_contain_text("What would move the band")
    shoot(page, artifacts, "bcu-request-form-preview")
    assert blocking_violations(page) == []
    page.get_by_role("button", name="Submit request").click()

    expect(page.get_by_role("status").filter(has_text="submitted")).to_be_visible()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Drone over the allotment thefts (fictional)")
    reference = re.search(r"REQ-\d{3}", page.locator(".caption").first.inner_text())
    assert reference is not None
    shoot(page, artifacts, "bcu-request-submitted")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "coordinator", live_server.logins["coordinator"])
    page.goto("/board")
    expect(page.get_by_role("link", name=reference.group(0), exact=True)).to_be_visible()


def test_officer_sees_the_decision_and_its_reason(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    """The North BCU's adopted demo request shows the decision and what the meeting said."""
    sign_in(page, "bcu.north", live_server.logins["bcu.north"])
    expect(page).to_have_url(re.compile(r"/requests$"))
    row = page.get_by_role("row").filter(has_text="REQ-012")
    expect(row).to_contain_text("Adopted")
    row.get_by_role("link", name="REQ-012").click()
    decisions = page.locator(".decision").first
    expect(decisions).to_contain_text("Adopted")
    expect(decisions).to_contain_text("Reason and action")
    shoot(page, artifacts, "bcu-request-decided")
    assert blocking_violations(page) == []
