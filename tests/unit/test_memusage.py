"""--mem-usage on a file laid out like /proc/kcore (the live comparison with
makedumpfile runs in a QEMU guest: tests/vm/test_capture_vm.py).

The machine is tests/fuzz/make_seeds.py's 24-pfn x86_64 kernel for the
filter: its builder decides each pfn's kind, so the expected counts are
read off its design, not from our output:

    pfn 0, 6, 18      anon LRU pages            -> USER
    pfn 1, 7, 19      page cache                -> NON_PRI_CACHE (7 is also all zeros)
    pfn 2             page cache with private   -> PRI_CACHE
    pfn 8-15, 20, 21  buddy blocks (order 3, 0, 0) -> FREE
    pfn 3             slab, 4, 5, 16, 17, 22, 23 plain kernel pages -> KERN_DATA
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fuzz.make_seeds import PS, filter_kernel
from gen import build_elf, make_note, prstatus_note

from pymakedumpfile.core.errors import UnsupportedDumpError
from pymakedumpfile.input.kcore import crash_kernel_ranges, open_kcore
from pymakedumpfile.tools.memusage import mem_usage

REPO = Path(__file__).resolve().parents[2]
DIRECT = 0xFFFF888000000000
TEXT = 0xFFFFFFFF80000000
VMALLOC = 0xFFFFC90000000000
NOT_PADDR = (1 << 64) - 1
NOTE_PFN = 16  # where the VMCOREINFO note sits in memory for the /sys/kernel/vmcoreinfo fallback


def kcore(path: Path, *, with_note: bool = True) -> tuple[bytes, bytes]:
    """A /proc/kcore-like file: RAM and kernel-text PT_LOADs with p_paddr,
    a vmalloc PT_LOAD with p_paddr = -1 (garbage data), VMCOREINFO in a
    note or only in memory.  Returns (memory, vmcoreinfo note)."""
    pages, vmci = filter_kernel()
    note = make_note(b"VMCOREINFO", 0, vmci)
    mem = bytearray(b"".join(bytes(PS) if pages[q].how == "zero" else pages[q].data for q in range(24)))
    mem[NOTE_PFN * PS : NOTE_PFN * PS + len(note)] = note
    notes = prstatus_note("x86_64", pid=1) + (note if with_note else b"")
    build_elf(path, [
        (NOT_PADDR, VMALLOC, b"\xa5" * (8 * PS)),  # vmalloc first, as in kcore: no physical address
        (PS, TEXT + PS, bytes(mem[PS : 4 * PS])),  # the kernel text, repeating pfns 1-3
        (0, DIRECT, bytes(mem)),  # RAM: the direct map
    ], notes=notes)
    return bytes(mem), note


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    p = tmp_path_factory.mktemp("kcore") / "kcore"
    mem, _ = kcore(p)
    return p, mem


def test_loads_with_physical_addresses_only(kc: tuple[Path, bytes]) -> None:
    path, mem = kc
    r = open_kcore(str(path), exclude=[])
    try:
        assert r.max_pfn == 24
        assert list(r.pagemap.runs()) == [(0, 24)]
        assert all(r.read_page(p) == mem[p * PS : (p + 1) * PS] for p in range(24))
        assert r.vmcoreinfo.osrelease == "5.15.0-synthetic"
    finally:
        r.close()


def test_counts_by_kind(kc: tuple[Path, bytes]) -> None:
    u = mem_usage(str(kc[0]), exclude=[])
    assert (u.user, u.non_pri_cache, u.pri_cache, u.free, u.zero) == (3, 3, 1, 10, 0)
    assert u.total_pages == 24 and u.kern_data == 7
    assert u.counted_twice == 3  # the text PT_LOAD: makedumpfile would count 27 pages


def test_crash_kernel_memory_left_out(kc: tuple[Path, bytes]) -> None:
    # the reserved range covers the free pfns 20 and 21
    u = mem_usage(str(kc[0]), exclude=[(20 * PS, 22 * PS)])
    assert (u.total_pages, u.free, u.kern_data) == (22, 8, 7)


def test_vmcoreinfo_from_sys_kernel_vmcoreinfo(tmp_path: Path) -> None:
    """Before 4.19 kcore has no VMCOREINFO note: it is read at the
    physical address /sys/kernel/vmcoreinfo gives."""
    p = tmp_path / "kcore"
    _, note = kcore(p, with_note=False)
    r = open_kcore(str(p), exclude=[], vmcoreinfo_at=f"{NOTE_PFN * PS:x} {len(note):x}\n")
    try:
        assert r.vmcoreinfo.osrelease == "5.15.0-synthetic"
        assert r.vmcoreinfo.SYMBOL["init_uts_ns"] > TEXT
    finally:
        r.close()


def test_not_kcore(tmp_path: Path) -> None:
    p = tmp_path / "x"
    build_elf(p, [(NOT_PADDR, VMALLOC, bytes(PS))], notes=prstatus_note("x86_64", pid=1))
    with pytest.raises(UnsupportedDumpError, match="no PT_LOAD has a physical address"):
        open_kcore(str(p), exclude=[])


def test_iomem_parsing(tmp_path: Path) -> None:
    p = tmp_path / "iomem"
    p.write_text("00000000-00000fff : Reserved\n00100000-1ffdffff : System RAM\n"
                 "  05000000-10ffffff : Crash kernel\n  1a000000-1a5fffff : Kernel code\n"
                 "fd000000-fdffffff : PCI Bus 0000:00\n")
    assert crash_kernel_ranges(str(p)) == [(0x5000000, 0x11000000)]
    assert crash_kernel_ranges(str(tmp_path / "missing")) == []


def test_cli_table(kc: tuple[Path, bytes]) -> None:
    """makedumpfile's table (print_mem_usage's format strings) on stdout."""
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--mem-usage", str(kc[0])], capture_output=True,
                       text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    # no Crash kernel range can be read from a test machine's /proc/iomem that
    # would touch pfns 0-23, so all 24 pages count
    want = (
        "\nTYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION\n"
        "----------------------------------------------------------------------\n"
        "ZERO\t\t0               \tyes\t\tPages filled with zero\n"
        "NON_PRI_CACHE\t3               \tyes\t\tCache pages without private flag\n"
        "PRI_CACHE\t1               \tyes\t\tCache pages with private flag\n"
        "USER\t\t3               \tyes\t\tUser process pages\n"
        "FREE\t\t10              \tyes\t\tFree pages\n"
        "KERN_DATA\t7               \tno\t\tDumpable kernel data \n"
        "\n"
        "page size:\t\t4096            \n"
        "Total pages on system:\t24              \n"
        "Total size on system:\t98304            Byte\n"
    )
    assert r.stdout == want
    j = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--mem-usage", "--json", str(kc[0])],
                       capture_output=True, text=True, cwd=REPO)
    import json

    d = json.loads(j.stdout)
    assert (d["free"], d["kern_data"], d["total_bytes"], d["counted_twice"]) == (10, 7, 24 * PS, 3)


def test_cli_refuses_old_kernel(tmp_path: Path) -> None:
    pages, vmci = filter_kernel()
    vmci = vmci.replace(b"OSRELEASE=5.15.0-synthetic", b"OSRELEASE=4.9.0-old")
    mem = b"".join(bytes(PS) if pages[q].how == "zero" else pages[q].data for q in range(24))
    p = tmp_path / "kcore"
    build_elf(p, [(0, DIRECT, mem)], notes=prstatus_note("x86_64", pid=1) + make_note(b"VMCOREINFO", 0, vmci))
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--mem-usage", str(p)], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 1 and "Linux 4.11 or later" in r.stderr and "Traceback" not in r.stderr
    assert "Total pages" not in r.stdout and "Failed" in r.stdout
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--mem-usage", "-f", str(p)], capture_output=True,
                       text=True, cwd=REPO)
    assert r.returncode == 0 and "Total pages on system:\t24" in r.stdout, r.stderr
