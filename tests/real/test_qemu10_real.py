"""QEMU 8.2 and later write the kdump format unflattened (``kdump-raw-zlib``): real files of it.

tests/rig/make-dumps.sh boots Debian's amd64 kernel under bookworm-backports' QEMU (10.x,
unpacked, not installed) with 512 MiB, stops the guest and takes its ELF, kdump-zlib (flattened)
and kdump-raw-zlib files of that one moment (tests/rig/qemu_rig.py).  Between the three files
nothing in the guest runs, so every page must agree exactly.

That QEMU writes ``Unknown`` as the kdump header's machine: the architecture comes from memory
(init_uts_ns read as each architecture reads it).  makedumpfile 1.7.2 fails on the kdump-raw file
("Can't seek the bitmap", after reading the kernel with the header's phys_base 0 where the
kernel's is not): its own reading of the same moment is of our -E -d 0 copy of QEMU's ELF file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from util import RIG, ZERO_DIGEST, lkdf, need, our_digests, rig_release, run_cli

from pymakedumpfile import open_dump

QEMU10 = Path(str(RIG) + "-qemu10") / "dumps" / "mem512"


@pytest.fixture(scope="module")
def run() -> Path:
    need((QEMU10 / "qemu-kdump.raw-zlib").exists() and (QEMU10 / "rig-run.json").exists(),
         f"no QEMU 10 rig run in {QEMU10} (tests/rig/make-dumps.sh makes it)")
    return QEMU10


@pytest.fixture(scope="module")
def elf_pages(run: Path) -> dict[int, str]:
    return our_digests(run / "qemu-elf")


@pytest.mark.parametrize("name", ["qemu-kdump.raw-zlib", "qemu-kdump.zlib"])
def test_every_page_equals_the_elf_of_the_same_moment(name: str, run: Path, elf_pages: dict[int, str]) -> None:
    assert our_digests(run / name) == elf_pages


def test_libkdumpfile_agrees_on_every_page(run: Path, libkdumpfile: str) -> None:
    theirs = lkdf(run / "qemu-kdump.raw-zlib")
    assert theirs["pages"] == our_digests(run / "qemu-kdump.raw-zlib")
    with open_dump(run / "qemu-kdump.raw-zlib") as ctx:
        assert theirs["release"] == ctx.attr["linux.uts.release"] == rig_release(run)
        assert theirs["max_pfn"] == ctx.max_pfn


def test_info_and_the_kernel_found(run: Path) -> None:
    with open_dump(run / "qemu-kdump.raw-zlib") as ctx:
        a = ctx.attr
        assert (a["file.format"], a["arch.name"], a["kdump.header_version"]) == ("kdump", "x86_64", 6)
        assert a["linux.uts.machine"] == "x86_64" and a["cpu.number"] == 2
    out = run_cli("--info", "--json", str(run / "qemu-kdump.raw-zlib")).stdout
    assert '"arch": "x86_64"' in out and '"format": "kdump"' in out


def test_converted_and_filtered(run: Path, elf_pages: dict[int, str], makedumpfile: str, tmp_path: Path) -> None:
    """-E -d 0 of the kdump-raw file holds every page but zero pages (QEMU's header says dump
    level 1, which a refiltering keeps, as makedumpfile does: its zero pages are left out); -d 31
    keeps what makedumpfile keeps from the same moment (the kdump headers and bitmaps byte for
    byte)."""
    elf = tmp_path / "d0.elf"
    run_cli("-E", "-d", "0", str(run / "qemu-kdump.raw-zlib"), str(elf))
    got = our_digests(elf)
    nonzero = {p: d for p, d in elf_pages.items() if d != ZERO_DIGEST}
    assert {p: d for p, d in got.items() if d != ZERO_DIGEST} == nonzero
    with open_dump(run / "qemu-kdump.raw-zlib") as ctx:
        assert ctx.attr["kdump.dump_level"] == 1
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    run_cli("-l", "-d", "31", str(run / "qemu-kdump.raw-zlib"), str(ours))
    copy = tmp_path / "copy.elf"
    run_cli("-E", "-d", "0", str(run / "qemu-elf"), str(copy))
    subprocess.run([makedumpfile, "-l", "-d", "31", str(copy), str(theirs)], check=True, capture_output=True)
    assert our_digests(ours) == our_digests(theirs)
    with open_dump(theirs) as ctx:
        pd = ctx.reader.pd_offset
    a, b = ours.read_bytes()[:pd], theirs.read_bytes()[:pd]
    # the kdump header's utsname and crash time: makedumpfile's from the ELF copy, ours from the
    # kdump file, both from the same memory and VMCOREINFO
    assert a == b
