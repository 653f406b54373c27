"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_readme_api_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "no python example in the README"
    code = blocks[0].replace("/tmp/sample.zstd", str(tmp_path / "sample.zstd"))
    monkeypatch.chdir(REPO)
    exec(compile(code, "README.md", "exec"), {})
    from pymakedumpfile import open_dump

    with open_dump(tmp_path / "sample.zstd") as c, open_dump(REPO / "samples/vmcore-6.1.0-56-amd64-c-d31.kdump") as s:
        assert c.attr["file.compression"] == "zstd"
        assert c.pagemap.count() == s.pagemap.count()
