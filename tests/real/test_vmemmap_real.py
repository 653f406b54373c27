"""-e on the real x86_64 dumps: the pages left out are vmemmap pages (read with drgn), the
same as makedumpfile 1.7.2's (`-e --work-dir`) where those are vmemmap pages too, the kdump
header says so, and crash opens the result.

Both tools read the same vmcore: the bitmaps must be equal but for pfn 0x9f (the page the
first PT_LOAD covers in part, which 1.7.2 leaves out, see test_core_real).  How many vmemmap
pages go depends on how much of the guest's memory was free when it crashed; the test needs
some (a 512 MiB guest has hundreds), not a number."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest
from util import run_cli

from pymakedumpfile import open_dump

PARTIAL_PFN = 0x9F
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
STATUS_AT = 424  # disk_dump_header.status in the 64-bit layout


def pfns(path: Path) -> set[int]:
    with open_dump(path) as ctx:
        return {p for a, b in ctx.attr["file.pagemap"].runs() for p in range(a, b)}


def status(path: Path) -> int:
    with open(path, "rb") as f:
        return int(struct.unpack_from("<I", f.read(512), STATUS_AT)[0])


def vmemmap_contents(vmcore: Path, start: int, npfn: int) -> set[bytes]:
    """The digests of the vmemmap's pages (the struct pages of pfns 0..npfn from START, the
    kernel's vmemmap_base) as drgn reads them through the kernel's page tables: drgn walks them
    itself, from the dump's VMCOREINFO."""
    import hashlib

    import drgn

    prog = drgn.Program()
    prog.set_core_dump(str(vmcore))
    out = set()
    for va in range(start, start + npfn * 64, 4096):
        try:
            out.add(hashlib.sha1(prog.read(va, 4096)).digest())
        except drgn.FaultError:  # the struct pages of a hole in the memory map are not mapped
            pass
    return out


@pytest.mark.parametrize("name", ["mem512", "mem4096"])
def test_e_leaves_out_the_vmemmap_pages(name: str, mem512: Path, makedumpfile: str, tmp_path: Path) -> None:
    """The pages -e drops (those the plain -d 31 dump keeps and ours leaves out) are, byte for
    byte, pages of the vmemmap as drgn reads it, and there are as many as we and makedumpfile
    say. Where makedumpfile 1.7.2 drops vmemmap pages too, it drops the same ones. On the 4 GiB
    guest (RAM above the hole below 4 GiB) it counts as many but drops other pages, none of them
    the vmemmap's and thousands of them pages -d 31 keeps: there it is wrong (filter/vmemmap.py),
    and this test says so."""
    vmcore = mem512.parent / name / "vmcore.elf"
    if not vmcore.exists():
        pytest.skip(f"no {name} dump (the 4 GiB one: PMD_RIG_BIG=1 tests/rig/make-dumps.sh)")
    ours, theirs, plain = tmp_path / "ours", tmp_path / "theirs", tmp_path / "plain"
    p = run_cli("-e", "-l", "-d", "31", str(vmcore), str(ours), timeout=600)
    said = re.search(r"Excluded (\d+) unused vmemmap pages", p.stdout + p.stderr)
    assert said, p.stdout + p.stderr
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run([makedumpfile, "-e", "--work-dir", str(work), "-l", "-d", "31", "--message-level", "31",
                        str(vmcore), str(theirs)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    start = re.search(r"vmemmap_start: ([0-9a-f]+)", r.stdout + r.stderr)
    assert start, r.stdout[-2000:]
    run_cli("-l", "-d", "31", "--message-level", "0", str(vmcore), str(plain), timeout=600)
    a, b, c = pfns(ours), pfns(theirs), pfns(plain)
    gone, theirs_gone = c - a, c - b - {PARTIAL_PFN}
    assert len(gone) == int(said.group(1)) > 100 and a <= c
    assert f"Excluded {len(gone)} unused vmemmap pages" in r.stdout + r.stderr  # makedumpfile's count
    with open_dump(vmcore) as ctx:
        import hashlib

        digest = {q: hashlib.sha1(ctx.read_pfn(q)).digest() for q in gone | theirs_gone}
        vmemmap = vmemmap_contents(vmcore, int(start.group(1), 16), ctx.max_pfn)
    assert all(digest[q] in vmemmap for q in gone)
    if all(digest[q] in vmemmap for q in theirs_gone):
        assert a - {PARTIAL_PFN} == b - {PARTIAL_PFN}
    else:
        # it counts the same pages, but clears the bits of others: every page it drops that the
        # plain dump keeps is kernel data, not the vmemmap's
        assert name == "mem4096" and theirs_gone and not any(digest[q] in vmemmap for q in theirs_gone)
    assert status(ours) & DUMP_DH_EXCLUDED_VMEMMAP and status(theirs) & DUMP_DH_EXCLUDED_VMEMMAP
    assert not status(plain) & DUMP_DH_EXCLUDED_VMEMMAP


def test_crash_opens_a_dump_made_with_e(mem512: Path, vmlinux: Path, crash: str, tmp_path: Path) -> None:
    out = tmp_path / "e.l"
    run_cli("-e", "-l", "-d", "31", "--message-level", "0", str(mem512 / "vmcore.elf"), str(out), timeout=600)
    p = subprocess.run([crash, "-s", str(vmlinux), str(out)], input="help -D\nkmem -i\nquit\n", capture_output=True,
                       text=True, errors="replace", timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "DUMP_DH_EXCLUDED_VMEMMAP" in p.stdout
    assert re.search(r"TOTAL MEM\s+\d+", p.stdout), p.stdout[-3000:]


def test_e_is_refused_on_other_architectures(tmp_path: Path) -> None:
    """-e walks x86_64 page tables: an arm64 dump gets a one-line error and no output."""
    from util import RIG

    arm = sorted(RIG.parent.glob("rig-arm64*/dumps/*/vmcore.elf"))
    if not arm:
        pytest.skip("no arm64 dump")
    out = tmp_path / "out"
    p = run_cli("-e", "-l", "-d", "31", str(arm[0]), str(out), check=False, timeout=600)
    assert p.returncode == 1 and not out.exists()
    assert "-e: only x86_64 dumps (this one is aarch64)" in p.stderr and "Traceback" not in p.stderr
