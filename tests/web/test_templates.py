"""Templates keep to the Content-Security-Policy: no inline script, style or handlers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "tasking" / "templates"
FORBIDDEN = {
    "inline style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "style block": re.compile(r"<style[\s>]", re.IGNORECASE),
    "inline script": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE),
    "inline event handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "off-site asset": re.compile(r"(src|href)=\"https?://", re.IGNORECASE),
}


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def test_there_are_templates_to_check() -> None:
    assert len(_templates()) >= 4


@pytest.mark.parametrize("path", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_keeps_to_the_csp(path: Path) -> None:
    text = path.read_text("utf-8")
    found = [name for name, pattern in FORBIDDEN.items() if pattern.search(text)]
    assert found == [], f"{path.name}: {', '.join(found)}"
