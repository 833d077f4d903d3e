"""Work on a case page: the second analyst moderates, the chair records the decision.

Each test works on its own demo case (OP-003 waits for moderation, OP-002 for
the meeting), so the order of the tests does not matter.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import shoot, sign_in


def test_second_analyst_agrees_the_score_at_moderation(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    """analyst2, not the assessor, agrees with OP-003's score, with a reason."""
    sign_in(page, "analyst2", live_server.logins["analyst2"])
    page.goto("/cases/OP-003")
    moderation = page.get_by_role("region", name="Moderation")
    expect(moderation).to_contain_text("Not moderated yet")
    moderation.get_by_role("radio", name=re.compile(r"^Agree")).check()
    moderation.get_by_label("Reason").fill("Inputs match the intelligence log (fictional).")
    shoot(page, artifacts, "case-OP-003-moderation-form")
    moderation.get_by_role("button", name="Record moderation").click()

    expect(page).to_have_url(re.compile(r"/cases/OP-003"))
    expect(page.get_by_role("status").filter(has_text="Moderation recorded.")).to_be_visible()
    moderation = page.get_by_role("region", name="Moderation")
    expect(moderation).to_contain_text("Agreed by Tom Castell (moderating analyst)")
    expect(moderation).to_contain_text("Inputs match the intelligence log (fictional).")
    shoot(page, artifacts, "case-OP-003-moderated")


def test_chair_records_the_meeting_decision(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    """The chair defers OP-002 with the National Decision Model rationale and a review date."""
    sign_in(page, "chair", live_server.logins["chair"])
    page.goto("/cases/OP-002")
    decisions = page.get_by_role("region", name="Tasking decisions")
    expect(decisions).to_contain_text("No decision recorded yet.")
    decisions.get_by_text("Record the meeting's decision").click()  # opens the form
    decisions.get_by_role("radio", name=re.compile(r"^Defer")).check()
    chair = decisions.get_by_label("Chair", exact=True)
    varga = next(t for t in chair.locator("option").all_inner_texts() if "Helen Varga" in t)
    chair.select_option(label=varga)
    decisions.get_by_label("Information", exact=True).fill("Two sources, both graded B2.")
    decisions.get_by_label("Threat and risk", exact=True).fill("Supply continues; no TTL.")
    decisions.get_by_label("Action", exact=True).fill("Review when firearms capacity frees.")
    review = (date.today() + timedelta(days=28)).isoformat()
    decisions.get_by_label("Next review").fill(review)
    shoot(page, artifacts, "case-OP-002-decision-form")
    decisions.get_by_role("button", name="Record decision").click()

    expect(page).to_have_url(re.compile(r"/cases/OP-002"))
    expect(page.get_by_role("status").filter(has_text="Decision recorded")).to_be_visible()
    decisions = page.get_by_role("region", name="Tasking decisions")
    record = decisions.get_by_role("article")
    expect(record).to_have_count(1)
    expect(record).to_contain_text("Deferred")
    expect(record).to_contain_text("chaired by Supt Helen Varga")
    expect(record).to_contain_text("Two sources, both graded B2.")
    shoot(page, artifacts, "case-OP-002-decided")
