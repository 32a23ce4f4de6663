"""No hand-typed numbers: every decimal a page states is one its code prints.

Code blocks are run by Sybil (see conftest.py), so their outputs are true. Prose and
formulas are not run; so every decimal number written there (such as 0.9544) must also
appear in a code block of the same page, where a test checks it. Versions and other
literal values belong in inline code (`torch==2.13.0`, `3.11`), which is not counted.
Changing a number in the prose without the code, or the code's result without the
prose, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "snippets" not in p.parts)
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}).*?^(?P=indent)(?P=fence)[ \t]*$", re.M | re.S
)
DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?!\w|\.\d)")  # 0.9544, -0.25 (not 1.2.3)


def split_page(text: str) -> tuple[str, str]:
    """Return (text of all code blocks, everything else)."""
    code = "\n".join(match.group(0) for match in FENCE.finditer(text))
    return code, FENCE.sub("", text)


def stated_numbers(prose: str) -> set[str]:
    """Decimal numbers in prose and math, ignoring links, HTML attributes and snippets."""
    prose = re.sub(r"\]\([^)]*\)", "]", prose)  # link targets
    prose = re.sub(r"<[^>]+>", "", prose)  # HTML tags and their attributes
    prose = re.sub(r"`[^`\n]+`", "", prose)  # inline code, e.g. versions `torch==2.13.0`
    return set(DECIMAL.findall(prose))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_numbers_in_prose_are_printed_by_code(page: Path) -> None:
    code, prose = split_page(page.read_text(encoding="utf-8"))
    printed = set(DECIMAL.findall(code))
    missing = sorted(
        n for n in stated_numbers(prose) if n.lstrip("-") not in printed and n not in printed
    )
    assert missing == [], f"numbers stated in {page.name} but printed by no code block on it"


def test_the_check_catches_a_hand_typed_number() -> None:
    page = "The score is 0.9544.\n\n```pycon\n>>> round(0.95441, 4)\n0.9544\n```\n"
    code, prose = split_page(page)
    assert stated_numbers(prose) <= set(DECIMAL.findall(code))
    code, prose = split_page(page.replace("is 0.9544", "is 0.9545"))
    assert not stated_numbers(prose) <= set(DECIMAL.findall(code))
