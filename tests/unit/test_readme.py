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


def test_readme_kernel_api_example(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The second example (symbols, read_virt, regs) runs and prints the sample's banner."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(REPO)
    exec(compile(blocks[1], "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("b'Linux version 6.1.0-56-amd64 ") and out[1].startswith("0xffffffff")


def test_readme_check_uses_the_installed_package(tmp_path: Path) -> None:
    """The set-up command's check runs from the clone, whose pymakedumpfile/ has no compiled
    module after `pip install .`: it must import the installed package (python -I), not the
    source tree, else it would report the pure-Python twin (issue 15, point 12)."""
    import shutil
    import subprocess
    import sys

    from pymakedumpfile import accel

    if accel.BACKEND != "native":
        pytest.skip("the accel module is not built here")
    text = (REPO / "README.md").read_text()
    m = re.search(r'\.venv/bin/python (-I) -c "([^"]+)"', text)
    assert m, "the set-up command's check is not run with python -I"
    code = m[2].replace("/tmp/sample.lzo", str(REPO / "samples/vmcore-6.1.0-56-amd64-c-d31.kdump"))
    # a clone after `pip install .`: the package's sources, no compiled module
    shutil.copytree(REPO / "pymakedumpfile", tmp_path / "pymakedumpfile",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    isolated = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert isolated.returncode == 0 and isolated.stdout.split()[-1] == "native", isolated.stdout + isolated.stderr
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert plain.stdout.split()[-1] == "python"  # what the check said before: the source tree's twin
