"""Signing in with the keyboard alone, and the sign-in page under axe."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.steps import blocking_violations, shoot

MAX_TABS = 20


def is_focused(field: Locator) -> bool:
    """True when `field` has the keyboard focus."""
    return bool(field.evaluate("element => element === document.activeElement"))


def tab_to(page: Page, field: Locator) -> int:
    """Press Tab until `field` has the focus; returns how many presses it took."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        if is_focused(field):
            return presses
    raise AssertionError(f"{MAX_TABS} presses of Tab never reached {field}")


def test_sign_in_with_the_keyboard_alone(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    """Tab, type, Tab, type, Enter: signed in as the coordinator without a pointer."""
    page.goto("/login")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert is_focused(skip), "the first Tab should reach the skip link"
    expect(skip).to_be_visible()  # shown when focused

    username = page.get_by_label("Username")
    tab_to(page, username)
    outline = username.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "the focused field shows no focus indicator"
    shoot(page, artifacts, "sign-in-keyboard-focus")
    page.keyboard.type("coordinator")
    page.keyboard.press("Tab")
    password = page.get_by_label("Password")
    assert is_focused(password), "Tab from Username should reach Password"
    page.keyboard.type(live_server.logins["coordinator"])
    page.keyboard.press("Enter")

    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_text("Alex Morrow (SCTaC coordinator)").first).to_be_visible()
    assert "/login" not in page.url
    shoot(page, artifacts, "signed-in-coordinator")


def test_a_wrong_password_keeps_the_username_and_names_the_problem(
    page: Page, artifacts: Path
) -> None:
    """A refused sign-in stays on the form, keeps the username, and says what went wrong."""
    page.goto("/login")
    page.get_by_label("Username").fill("coordinator")
    page.get_by_label("Password").fill("not-the-password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("coordinator")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    shoot(page, artifacts, "sign-in-refused")


def test_sign_in_page_has_no_serious_accessibility_violation(page: Page, artifacts: Path) -> None:
    """axe-core finds nothing serious or critical on the sign-in page."""
    page.goto("/login")
    shoot(page, artifacts, "sign-in")
    violations = blocking_violations(page)
    assert violations == [], "\n".join(violations)
