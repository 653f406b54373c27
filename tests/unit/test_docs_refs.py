"""The code's references to documents stay inside the repository: every ``docs/NAME.md §N``
names a file of docs/ and a section it has, and nothing points at a folder outside the
repository (such as the shared notes the project started from)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("pymakedumpfile", "accel", "dracut") for p in sorted((REPO / d).rglob("*"))
           if p.suffix in (".py", ".c", ".h", ".sh", ".pyi") and "__pycache__" not in p.parts]
REF = re.compile(r"docs/([\w-]+\.md)(?:\s*§([\d.]+))?")


def sections(doc: Path) -> set[str]:
    """The numbers of a document's headings ("## 5. Dump levels" -> "5", "### 5.2 ..." -> "5.2")."""
    return {m[1].rstrip(".") for m in re.finditer(r"^#{2,4} ([\d.]+)\s", doc.read_text(), re.M)}


def test_sources_found() -> None:
    assert len(SOURCES) > 40


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_references_resolve(path: Path) -> None:
    text = path.read_text(errors="replace")
    assert "shared/" not in text, "points outside the repository: say it in docs/ instead"
    for m in REF.finditer(text):
        doc = REPO / "docs" / m[1]
        assert doc.exists(), m[0]
        if m[2]:
            assert m[2].rstrip(".") in sections(doc), f"{m[0]}: no such section"
