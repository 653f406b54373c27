"""The command line: makedumpfile's syntax, exit codes and file safety."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from gen import build_elf, make_note, vmcoreinfo_text
from gen.x86_64 import START_KERNEL_MAP, x86_64_kernel

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymakedumpfile", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def small_elf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64-page ELF vmcore: kernel bits, zero pages, text and random pages."""
    import random

    k = x86_64_kernel(first_pfn=1, release="6.1.0-test")
    rnd = random.Random(3)
    data = bytearray(64 * 4096)
    for pfn, page in k.pages.items():
        data[pfn * 4096 : (pfn + 1) * 4096] = page.data
    for pfn in range(8, 64):
        if pfn % 3 == 0:
            data[pfn * 4096 : (pfn + 1) * 4096] = rnd.randbytes(4096)
        elif pfn % 3 == 1:
            data[pfn * 4096 : (pfn + 1) * 4096] = (b"page %d " % pfn * 600)[:4096]
    vi = vmcoreinfo_text(k.vmcoreinfo, CRASHTIME=1700000000)
    notes = make_note(b"VMCOREINFO", 0, vi)
    p = tmp_path_factory.mktemp("cli") / "vmcore"
    build_elf(p, [(0, START_KERNEL_MAP + 0xFFFF888000000000 - START_KERNEL_MAP, bytes(data), len(data))], notes=notes)
    return p


def test_convert_grouped_options(small_elf: Path, tmp_path: Path) -> None:
    out = tmp_path / "dump"
    p = cli("-ld1", str(small_elf), str(out))
    assert p.returncode == 0, p.stderr
    assert "pymakedumpfile Completed" in p.stdout  # messages on stdout, as makedumpfile's
    assert "Completed" not in p.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    from pymakedumpfile import open_dump

    with open_dump(out) as ctx, open_dump(small_elf) as src:
        assert ctx.attr["file.compression"] == "lzo" and ctx.attr["filter.dump_level"] == 1
        for pfn in range(64):
            assert ctx.read_pfn(pfn) == src.read_pfn(pfn)


def test_refuses_existing_output_without_f(small_elf: Path, tmp_path: Path) -> None:
    out = tmp_path / "dump"
    out.write_bytes(b"precious")
    p = cli("-d", "0", str(small_elf), str(out))
    assert p.returncode == 1
    assert str(out) in p.stderr and "-f" in p.stderr and "Traceback" not in p.stderr
    assert out.read_bytes() == b"precious"
    p = cli("-f", "-d", "0", str(small_elf), str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:8] == b"KDUMP   "
    assert [f for f in os.listdir(tmp_path) if f != "dump"] == []  # no temporary left


def test_refuses_symlink_output(small_elf: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    link = tmp_path / "dump"
    link.symlink_to(victim)
    for force in ([], ["-f"]):
        p = cli(*force, "-d", "0", str(small_elf), str(link))
        assert p.returncode == 1 and "symbolic link" in p.stderr, p.stderr
        assert victim.read_bytes() == b"keep me" and link.is_symlink()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-d", "32"], "Dump_level(32) is invalid"),
        (["-d", "1,40"], "Dump_level(40) is invalid"),
        (["-E", "-c"], "-E cannot be combined"),
        (["--bogus"], "No such option"),
        ([], "expected VMCORE DUMPFILE"),
        (["-F"], "-F takes VMCORE only"),
        (["--split"], "--split takes VMCORE DUMPFILE1"),
        (["--split", "-E"], "--split cannot be combined with -E"),
        (["-L", "1X"], "Limit size(1X) is invalid"),
        (["--work-dir", "/nonexistent"], "not a directory"),
        (["--dump-dmesg"], "Cannot extract the kernel log"),
        (["--partial-dmesg"], "--partial-dmesg needs --dump-dmesg"),
        (["-x", "vmlinux"], "vmlinux: Cannot read"),
        (["--config", "filter.conf"], "filter.conf: Cannot open the filter configuration"),
        (["--btf", "vmlinux.btf"], "--btf is for --config"),
        (["--eppic", "macro.c"], "--eppic: eppic scripts do not run here"),
        (["--filter-hook", "hook.py"], "--filter-hook needs --config"),
        (["-e", "--split"], "--split takes VMCORE DUMPFILE1"),
    ],
)
def test_bad_or_unsupported_options(args: list[str], needle: str, small_elf: Path, tmp_path: Path) -> None:
    out = tmp_path / "dump"
    p = cli(*args, str(small_elf), str(out)) if args != [] else cli(str(small_elf))
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert needle in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()


def test_version_lists_codecs() -> None:
    p = cli("-v")
    assert p.returncode == 0
    assert "version" in p.stdout and "lzo\tenabled" in p.stdout and "zstd\t" in p.stdout


def test_help() -> None:
    p = cli("-h")
    assert p.returncode == 0 and "VMCORE DUMPFILE" in p.stdout and "--message-level" in p.stdout


def test_check_params_and_dry_run_write_nothing(small_elf: Path, tmp_path: Path) -> None:
    out = tmp_path / "dump"
    assert cli("--check-params", "-c", "-d", "1", str(small_elf), str(out)).returncode == 0
    p = cli("--dry-run", "-c", "-d", "1", str(small_elf), str(out))
    assert p.returncode == 0, p.stderr
    assert not out.exists()


def test_message_level_zero_is_silent(small_elf: Path, tmp_path: Path) -> None:
    p = cli("--message-level", "0", "-d", "1", str(small_elf), str(tmp_path / "d"))
    assert p.returncode == 0 and p.stderr == "" and p.stdout == ""


def test_missing_input_is_one_line(tmp_path: Path) -> None:
    p = cli("-d", "0", str(tmp_path / "nope"), str(tmp_path / "out"))
    assert p.returncode == 1
    first = p.stderr.strip().splitlines()[0]
    assert str(tmp_path / "nope") in first and "No such file" in first
    assert not (tmp_path / "out").exists()


def test_elf_output(small_elf: Path, tmp_path: Path) -> None:
    out = tmp_path / "dump.elf"
    p = cli("-E", "-d", "1", str(small_elf), str(out))
    assert p.returncode == 0, p.stderr
    r = subprocess.run(["readelf", "-lW", str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and "LOAD" in r.stdout


def test_show_stats_prints_the_report(small_elf: Path, tmp_path: Path) -> None:
    """--show-stats is makedumpfile's --message-level bit 16: the report."""
    quiet = cli("-d", "1", str(small_elf), str(tmp_path / "a"))
    stats = cli("-d", "1", "--show-stats", str(small_elf), str(tmp_path / "b"))
    assert quiet.returncode == 0 and stats.returncode == 0, stats.stderr
    assert "Original pages" not in quiet.stdout + quiet.stderr
    assert "Original pages  : 0x" in stats.stdout and "Pages filled with zero" in stats.stdout
    assert "Original pages" not in stats.stderr
