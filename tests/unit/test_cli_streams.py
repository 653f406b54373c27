"""Where the command line's output goes, and that nothing stops a capture (issue 15, points 2,
13, 14, 17): messages on standard output as makedumpfile prints them (on standard error when -F
puts the dump there), errors and progress on standard error; a closed standard error or a
reader gone does not stop a dump; -F with standard output closed is one error; an interrupt
while the modules load is one line.  Compared with Debian's makedumpfile on the same file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from needs import cli_only, need_tool

from pymakedumpfile import open_dump

pytestmark = cli_only
REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "vmcore-6.1.0-56-amd64-c-d31.kdump"
OURS = [sys.executable, "-m", "pymakedumpfile"]


def run(cmd: list[str], *, close: str = "", **kw: object) -> subprocess.CompletedProcess[bytes]:
    """``cmd`` with standard descriptors closed as ``close`` says ("2", "1", "12")."""
    redir = " ".join(f"{fd}>&-" for fd in close)
    return subprocess.run(["sh", "-c", f'exec "$@" {redir}', "sh", *cmd], capture_output=True, cwd=REPO,
                          timeout=300, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def mdf() -> str:
    return need_tool("makedumpfile")


def test_messages_on_stdout_errors_on_stderr(mdf: str, tmp_path: Path) -> None:
    for tool, name in ((OURS, "ours"), ([mdf], "theirs")):
        out = tmp_path / name
        p = run([*tool, "-l", "-d", "31", str(SAMPLE), str(out)])
        assert p.returncode == 0, (name, p.stderr)
        assert b"The dumpfile is saved to" in p.stdout and b"Completed." in p.stdout, name
        assert b"Completed" not in p.stderr, name
        # the same file again, without -f: the error on stderr, "Failed." on stdout, exit 1
        q = run([*tool, "-l", "-d", "31", str(SAMPLE), str(out)])
        assert q.returncode == 1, name
        assert str(out).encode() in q.stderr and b"Failed." in q.stdout and b"Failed." not in q.stderr, name


def test_flattened_messages_go_to_stderr(mdf: str) -> None:
    for tool, name in ((OURS, "ours"), ([mdf], "theirs")):
        p = run([*tool, "-F", "-l", "-d", "31", str(SAMPLE)])
        assert p.returncode == 0, (name, p.stderr)
        assert p.stdout.startswith(b"makedumpfile"), name  # the flattened stream's signature, nothing before
        assert b"The dumpfile is saved to" in p.stderr and b"Completed." in p.stderr, name
        assert b"Completed." not in p.stdout[-4096:], name


def test_version_and_help_on_stdout(mdf: str) -> None:
    for tool, name in ((OURS, "ours"), ([mdf], "theirs")):
        v = run([*tool, "-v"])
        assert v.returncode == 0 and b"version" in v.stdout.splitlines()[0] and b"lzo\t" in v.stdout, name
        h = run([*tool, "-h"])
        assert b"-d" in h.stdout and b"--split" in h.stdout, name


def test_stderr_closed_still_writes_the_dump(mdf: str, tmp_path: Path) -> None:
    """A service manager or an initramfs script may start the collector with 2>&-."""
    for tool, name in ((OURS, "ours"), ([mdf], "theirs")):
        out = tmp_path / name
        p = run([*tool, "-l", "-d", "31", str(SAMPLE), str(out)], close="2")
        assert p.returncode == 0, name
        assert b"Completed." in p.stdout and out.stat().st_size > 1 << 20, name
    with open_dump(str(tmp_path / "ours")) as a, open_dump(str(tmp_path / "theirs")) as b:
        assert a.pagemap.count() == b.pagemap.count() > 0


def test_stdout_and_stderr_closed_still_write_the_dump(tmp_path: Path) -> None:
    """With both closed, the dump file must not be given descriptor 1 or 2 (a message would be
    written into it): it reads back whole."""
    out = tmp_path / "dump"
    p = run([*OURS, "-l", "-d", "31", "--message-level", "31", str(SAMPLE), str(out)], close="12")
    assert p.returncode == 0
    with open_dump(str(out)) as ctx, open_dump(str(SAMPLE)) as src:
        assert ctx.pagemap.count() == src.pagemap.count()
        for pfn in list(ctx.pagemap.runs())[0][:1] + list(ctx.pagemap.runs())[-1][:1]:
            assert ctx.read_pfn(pfn) == src.read_pfn(pfn)


def test_flattened_to_a_closed_stdout_is_one_error(mdf: str) -> None:
    p = run([*OURS, "-F", "-l", "-d", "31", str(SAMPLE)], close="1")
    assert p.returncode == 1
    lines = p.stderr.decode().strip().splitlines()
    assert "standard output is closed" in lines[0] and "Traceback" not in p.stderr.decode()
    theirs = run([mdf, "-F", "-l", "-d", "31", str(SAMPLE)], close="1")
    assert theirs.returncode == 1  # makedumpfile fails too (it cannot write the stream)


def test_reader_of_messages_gone(tmp_path: Path) -> None:
    """stdout a pipe whose reader has gone: the dump is still written, exit 0."""
    out = tmp_path / "dump"
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([*OURS, "-l", "-d", "31", str(SAMPLE), str(out)], stdout=w, stderr=subprocess.PIPE,
                           cwd=REPO, timeout=300)
    finally:
        os.close(w)
    assert p.returncode == 0, p.stderr
    assert b"Traceback" not in p.stderr and out.stat().st_size > 1 << 20


@pytest.mark.parametrize(("module", "arg"), [("options", "-v"), ("click", "-h")])
def test_interrupt_while_loading_is_one_line(module: str, arg: str) -> None:
    """Ctrl-C while the modules load (made certain here: importing MODULE raises it): the command
    line's own modules, or click's, loaded later for --help."""
    code = ("import builtins, sys\n"
            "real = builtins.__import__\n"
            "def imp(name, *a, **k):\n"
            f"    if name == {module!r}:\n"
            "        raise KeyboardInterrupt\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = imp\n"
            f"sys.argv = ['pymakedumpfile', {arg!r}]\n"
            "from pymakedumpfile.__main__ import entry\n"
            "entry()\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 1 and p.stderr == "pymakedumpfile: interrupted\n", p.stderr


def test_refiltering_says_the_level_changes(mdf: str, tmp_path: Path) -> None:
    """A level-31 file refiltered at -d 1 is written at 31, and both tools say so (issue 15,
    point 6); makedumpfile's line has no newline (the next message runs on), ours has one."""
    want = f"dump_level is changed to 31, because {SAMPLE} was created by dump_level(31).".encode()
    for tool, name in ((OURS, "ours"), ([mdf], "theirs")):
        p = run([*tool, "-l", "-d", "1", str(SAMPLE), str(tmp_path / name)])
        assert p.returncode == 0 and want in p.stdout, (name, p.stdout)
        with open_dump(str(tmp_path / name)) as ctx:
            assert ctx.attr["kdump.dump_level"] == 31
    q = run([*OURS, "-l", "-d", "31", str(SAMPLE), str(tmp_path / "same")])
    assert b"dump_level is changed" not in q.stdout


REPORT_LINES = ("Original pages", "Excluded pages", "Pages filled with zero", "Non-private cache pages",
                "Private cache pages", "User process data pages", "Free pages", "Hwpoison pages", "Offline pages",
                "Remaining pages", "Memory Hole", "Total pages")


def report(text: bytes) -> dict[str, str]:
    import re

    found = dict(re.findall(rb"(?m)^\s*([A-Z][\w -]+?)\s*: (0x[0-9a-f]+)\s*$", text))
    return {k: found[k.encode()].decode() for k in REPORT_LINES if k.encode() in found}


@pytest.mark.parametrize("opts", [["-d", "31"], ["-d", "1", "--dry-run"]], ids=["refilter", "dry-run"])
def test_report_counts_as_makedumpfile_when_refiltering(mdf: str, tmp_path: Path, opts: list[str]) -> None:
    """--show-stats on a kdump input filtered at 31 (issue 15, point 5): the pages the input had
    already left out are counted in their categories, as makedumpfile counts them, and a dry run
    prints the report too (and creates nothing)."""
    got = {}
    for tool, name in ((OURS, "ours"), ([mdf], "theirs")):
        p = run([*tool, "-l", *opts, "--show-stats", str(SAMPLE), str(tmp_path / name)])
        assert p.returncode == 0, (name, p.stderr)
        got[name] = report(p.stdout)
        assert len(got[name]) == len(REPORT_LINES), (name, got[name])
        if "--dry-run" in opts:
            assert not (tmp_path / name).exists()
    assert got["ours"] == got["theirs"]
    assert int(got["ours"]["Free pages"], 16) > 0  # pages the input had left out, counted


def test_debug_shows_what_was_used(mdf: str, tmp_path: Path) -> None:
    """-D (issue 15, point 5): the blocks makedumpfile's debugging messages show, on stdout."""
    ours_table: list[bytes] = []
    for tool, name in ((OURS, "ours"), ([mdf], "theirs")):
        p = run([*tool, "-D", "-l", "-d", "31", str(SAMPLE), str(tmp_path / name)])
        assert p.returncode == 0, name
        for block in (b"command line:", b"diskdump main header", b"kdump sub header", b"VMCOREINFO   :",
                      b"  SYMBOL(mem_section)=", b"mem_map["):
            assert block in p.stdout, (name, block)
        mem_map = [ln for ln in p.stdout.splitlines() if ln.startswith(b"mem_map[")]
        if name == "ours":
            ours_table = mem_map
    assert ours_table == mem_map  # the same mem_map ranges, as the same table


def test_zlib_output_size_as_the_readme_says(mdf: str, tmp_path: Path) -> None:
    """-c pages are made by libdeflate (when the module has it), not zlib: the README says the
    file is within about 2% of makedumpfile's (issue 15, point 10).  Measured here on the
    sample, with a 3% bound: the ratio depends on the libdeflate and zlib builds, not on us."""
    sizes = {}
    for tool, name in ((OURS, "ours"), ([mdf], "theirs")):
        p = run([*tool, "-c", "-d", "31", str(SAMPLE), str(tmp_path / name)])
        assert p.returncode == 0, name
        sizes[name] = (tmp_path / name).stat().st_size
    assert abs(sizes["ours"] / sizes["theirs"] - 1) < 0.03, sizes
    assert "within about 2% of its" in (REPO / "README.md").read_text().replace("\n  ", " ")
