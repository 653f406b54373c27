"""What a capture imports: the crash kernel's default collector (``-l -d 31`` of an ELF vmcore)
must not load the standard modules the package replaced to start faster (core/record.py for
dataclasses, core/workers.py for concurrent.futures, core/hints.py for typing), nor logging.

Each of them is a few milliseconds of every run's start-up (``python -X importtime``); a new
import of one of them anywhere on the path brings the cost back without failing anything else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "vmcore-6.1.0-56-amd64-c-d31.kdump"
LEFT_OUT = ("typing", "dataclasses", "inspect", "concurrent.futures", "logging")

# what the run loads, not what the interpreter's start had (site's .pth hooks: an editable
# install's finder imports importlib.util, which imports typing on Python 3.9)
PROBE = """
import atexit, sys
before = set(sys.modules)
def report():
    sys.__stderr__.write("LOADED " + " ".join(m for m in {left_out!r} if m in sys.modules and m not in before) + "\\n")
atexit.register(report)
sys.argv = ["pymakedumpfile"] + {argv!r}
from pymakedumpfile.__main__ import entry
entry()
"""


def loaded(argv: list[str]) -> list[str]:
    code = PROBE.format(left_out=LEFT_OUT, argv=argv)
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stderr.splitlines() if ln.startswith("LOADED")]
    assert line, out.stderr
    return line[-1].split()[1:]


@pytest.fixture(scope="module")
def vmcore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ELF vmcore (the sample's pages), as /proc/vmcore is."""
    elf = tmp_path_factory.mktemp("startup") / "vmcore.elf"
    subprocess.run([sys.executable, "-m", "pymakedumpfile", "-E", "-d", "0", str(SAMPLE), str(elf)],
                   check=True, capture_output=True, timeout=120)
    return elf


@pytest.mark.parametrize("opts", [["-l", "-d", "31"], ["-c", "-d", "31"], ["-F", "-l", "-d", "31"]])
def test_capture_leaves_out_the_replaced_modules(vmcore: Path, tmp_path: Path, opts: list[str]) -> None:
    argv = [*opts, str(vmcore)] + ([] if "-F" in opts else [str(tmp_path / "dump")])
    assert loaded(argv) == []


def test_probe_sees_an_import() -> None:
    """The probe itself: a run that does import one of them (click, for --help, imports inspect) is seen."""
    assert "inspect" in loaded(["--help"])
