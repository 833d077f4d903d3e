"""What the browser tests do again and again: sign in, take a screenshot, run axe."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

BLOCKING_IMPACTS = {"serious", "critical"}
_AXE = Axe()


def sign_in(page: Page, username: str, password: str) -> None:
    """Sign in through the form, by its labels, and wait to leave the sign-in page."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"/login"))


def shoot(page: Page, artifacts: Path, name: str) -> Path:
    """A full-page screenshot saved as `<name>.png` under the artefacts directory."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def blocking_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one readable line each."""
    results: dict[str, Any] = _AXE.run(page).response
    found = []
    for violation in results.get("violations", []):
        if violation.get("impact") in BLOCKING_IMPACTS:
            nodes = violation.get("nodes", [])
            targets = [", ".join(node.get("target", [])) for node in nodes]
            why = " ".join(str(nodes[0].get("failureSummary", "")).split()) if nodes else ""
            found.append(
                f"{violation['impact']} {violation['id']}: {violation['help']} at {targets[:5]}"
                f" ({why})"
            )
    return found
