"""Option values as makedumpfile reads them (issue 15, point 4): numbers by C's atoi or
strtoull, -L with suffixes up to E and C's bases, -1 for no limit; what makedumpfile refuses
is refused with its message, what it reads in a way a user may not mean is read the same and
said in a warning.  Each case runs makedumpfile and us on the sample dump."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from needs import cli_only, need_tool

from pymakedumpfile import open_dump
from pymakedumpfile.cli.options import c_atoi, parse_levels, parse_size

pytestmark = cli_only
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "vmcore-6.1.0-56-amd64-c-d31.kdump"


@pytest.mark.parametrize(("text", "value"), [
    ("1T", 1 << 40), ("1t", 1 << 40), ("2E", 2 << 60), ("0x100000", 1 << 20), ("010", 8), ("1m", 1 << 20),
    ("-1", -1), ("0", None), ("1MB", None), ("1.5M", None), ("abc", None), ("", None), ("08", None),
])
def test_size(text: str, value: int | None) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize(("text", "levels"), [
    ("31", [31]), ("11,31", [11, 31]), ("abc", [0]), ("0x1f", [0]), ("31abc", [31]), ("1,,31", [1, 31]),
    ("", [0]), ("32", "32"), ("-1", "-1"), (",".join(["1"] * 33), ",".join(["1"] * 33)),
])
def test_levels(text: str, levels: object) -> None:
    assert parse_levels(text) == levels


@pytest.mark.parametrize(("text", "value", "exact"), [
    ("4", 4, True), (" 12", 12, True), ("+3", 3, True), ("-2", -2, True), ("abc", 0, False), ("3x", 3, False),
    ("", 0, False), ("0x10", 0, False),
])
def test_atoi(text: str, value: int, exact: bool) -> None:
    assert c_atoi(text) == (value, exact)


def _run(cmd: list[str], out: Path, *opts: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *opts, str(SAMPLE), str(out)], capture_output=True, text=True, cwd=REPO, timeout=300)


ACCEPTED = [
    ("-L", "1T"), ("-L", "0x10000000"), ("-L", "-1"), ("--num-threads", "0"), ("--cyclic-buffer", "0"),
    ("-d", "abc"), ("-d", "0x1f"), ("-d", "31,1"), ("--splitblock-size", "0"), ("--message-level", "7"),
]
REFUSED = [("-L", "0"), ("-L", "1MB"), ("-d", "32"), ("-d", "1,40"), ("--message-level", "32")]


@pytest.mark.parametrize(("opt", "value"), ACCEPTED + REFUSED)
def test_values_as_makedumpfile(opt: str, value: str, tmp_path: Path) -> None:
    mdf = need_tool("makedumpfile")
    theirs = _run([mdf], tmp_path / "theirs", "-l", opt, value)
    ours = _run([sys.executable, "-m", "pymakedumpfile"], tmp_path / "ours", "-l", opt, value)
    assert ours.returncode == theirs.returncode, (ours.stderr, theirs.stdout + theirs.stderr)
    if theirs.returncode:
        assert "Traceback" not in ours.stderr and ours.stderr.count("\n") == 1, ours.stderr
        assert not (tmp_path / "ours").exists()
        return
    with open_dump(str(tmp_path / "ours")) as a, open_dump(str(tmp_path / "theirs")) as b:
        assert a.attr["kdump.dump_level"] == b.attr["kdump.dump_level"]
        assert a.pagemap.count() == b.pagemap.count()
    if (opt, value) in (("-d", "abc"), ("-d", "0x1f")):
        assert "warning: -d" in ours.stderr and "read as 0" in ours.stderr


def test_block_order_any_is_accepted(tmp_path: Path) -> None:
    """-b 21 (configs written for makedumpfile carry it): accepted; we write in 4 MiB blocks."""
    p = _run([sys.executable, "-m", "pymakedumpfile"], tmp_path / "out", "-l", "-b", "21")
    assert p.returncode == 0 and "-b 21: ignored" in p.stderr, p.stderr


def test_help_lists_every_makedumpfile_option_and_marks_ours() -> None:
    """--help (issue 15, point 11): every option makedumpfile's -h names, every synopsis form,
    a metavar for each option with a value (never click's TEXT), our extensions marked."""
    import re

    theirs = subprocess.run([need_tool("makedumpfile"), "-h"], capture_output=True, text=True).stdout
    names = set(re.findall(r"\[(-{1,2}[a-zA-Z][\w-]*)", theirs)) - {"-h"}
    assert {"-d", "--split", "--cyclic-buffer", "--xen_phys_start", "--diskset"} <= names
    ours = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--help"], capture_output=True, text=True,
                          cwd=REPO).stdout
    listed = set(re.findall(r"(?m)^\s+(-{1,2}[\w-]+)", ours))
    assert names <= listed, names - listed
    assert "TEXT" not in ours
    for form in ("-F [", "-R DUMPFILE", "--split [OPTION]", "--reassemble DUMPFILE1", "-g VMCOREINFO -x VMLINUX",
                 "--dump-dmesg [", "--mem-usage"):
        assert form in ours, form
    for ext in ("--info", "--json", "--stream-compress", "--ignore-read-errors", "--no-caller-id"):
        block = ours[ours.index(ext):][:200]
        assert "[pymakedumpfile]" in block, ext
