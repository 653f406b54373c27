"""A SADUMP converted to kdump with -x VMLINUX, against makedumpfile.

SADUMP files carry no VMCOREINFO: makedumpfile converts them only with the kernel's debug image
(without -x, 1.7.2 to 1.7.9 dereference a null bitmap at levels 0 and 1, and need the kernel's
cpu_online_mask, known only from DWARF, with -i).  tests/gen/linked_kernel.py makes a kernel
that lives in the dump: gcc-compiled, linked at the kernel's addresses, its struct pages, page
tables and mem_section in memory, and pages of every kind the levels below 32 tell apart.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from gen.linked_kernel import MEM_PAGES, PS, build_linked_kernel
from gen.sadump import build_sadump

from pymakedumpfile import open_dump
from tests.needs import need, need_tool

NOT_DUMPED = {p for p in range(MEM_PAGES) if p % 97 == 50}  # RAM the firmware left out: reads as zeros


@pytest.fixture(scope="module", params=[1, 3], ids=["single", "diskset3"])
def machine(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path, dict[int, str], dict[int, bytes]]:
    """The SADUMP of the kernel: a single partition, or a set of three disks."""
    d = tmp_path_factory.mktemp("sadump-mdf")
    try:
        k = build_linked_kernel(d)
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        need(False, f"cannot build the linked kernel: {e}")
        raise
    dumped = {p: data for p, data in k.pages.items() if p not in NOT_DUMPED or k.kinds[p] == "kernel"}
    files = build_sadump(d / "sadump", dumped, max_mapnr=MEM_PAGES, disks=request.param)
    pages = {p: dumped.get(p, bytes(PS)) for p in range(MEM_PAGES)}
    return files, k.vmlinux, k.kinds, pages


def expected(level: int, kinds: dict[int, str], pages: dict[int, bytes]) -> set[int]:
    """The pages dump level ``level`` keeps in a kdump file, from what the builder put in each
    page (zero pages stay in its page map: they share one zero page)."""
    out = set()
    for p, kind in kinds.items():
        if level & 2 and kind == "cache" or level & 4 and kind == "private" or level & 8 and kind == "user":
            continue
        out.add(p)
    return out


@pytest.mark.parametrize("level", [1, 15, 31])
def test_sadump_to_kdump_equals_makedumpfile(machine: tuple[list[str], Path, dict[int, str], dict[int, bytes]],
                                             tmp_path: Path, level: int) -> None:
    files, vmlinux, kinds, pages = machine
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    # one disk: VMCORE; a disk set: --diskset for each (ours in another order: any order goes)
    inp = files if len(files) == 1 else [f"--diskset={f}" for f in (files[0], *files[:0:-1])]
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-x", str(vmlinux), "-d", str(level), *inp,
                        str(ours)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = expected(level, kinds, pages)
    with open_dump(str(ours)) as c:
        assert {p for a, b in c.pagemap.runs() for p in range(a, b)} == want
        assert all(c.read_pfn(p) == pages[p] for p in want)
        assert c.attr["linux.uts.release"] == "6.1.0-linked-test"
        assert c.attr["linux.vmcoreinfo.SYMBOL.mem_section"]  # the VMCOREINFO -x made is in the file
    mdf = need_tool("makedumpfile")
    # makedumpfile reads the SADUMP's time (no timezone) as local time: UTC here, as we read it
    inp = files if len(files) == 1 else [f"--diskset={f}" for f in files]
    subprocess.run([mdf, "-x", str(vmlinux), "-d", str(level), *inp, str(theirs)], check=True,
                   capture_output=True, env={**os.environ, "TZ": "UTC"})
    a, b = ours.read_bytes(), theirs.read_bytes()
    # the main header (utsname, time, CPUs, sizes) and, past the notes, the bitmaps, descriptors
    # and pages: byte for byte.  The notes differ: ours hold the VMCOREINFO made from -x;
    # makedumpfile writes notes only when the image has the per-CPU data it makes CPU notes from
    # (this small kernel has not)
    assert a[:PS] == b[:PS]
    (sub_blocks,) = struct.unpack_from("<I", a, 432)
    start = (1 + sub_blocks) * PS
    assert a[start:] == b[start:]
