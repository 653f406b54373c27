"""Real riscv64 dumps: Debian 13's kernel (6.12) in a 1 GiB guest of qemu-system-riscv64 ``-M virt``
(OpenSBI), with the CPU's widest paging (Sv57) and with Sv39 (``no4lvl``), each captured by a
real crash kernel (``kexec -p`` of sid's kexec-tools, a panic, /proc/vmcore copied to a disk) by
tests/rig/make-dumps.sh (tests/rig/qemu_rig.py).

The references are sid's riscv64 makedumpfile (1.7.8; Debian 13 has no riscv64 kexec-tools, and
its makedumpfile is older), run here under ``qemu-riscv64-static``, and the guest itself: its
kernel log, its /proc/vmallocinfo and its /proc/kpageflags (tests/real/test_612_truth.py).
libkdumpfile does not know riscv64.

Where makedumpfile is wrong: on this 6.12 kernel it excludes slab and page-table pages (kernel
data in both of the guest's kpageflags reads) and keeps user and free pages; its report counts
0x8000 pages of three classes.  The guest's kpageflags agree with our classes, not its.  Its
--vtop and --dump-dmesg are right, and ours equal them.
"""

from __future__ import annotations

import json
import re
import subprocess
from array import array
from pathlib import Path

import pytest
from test_vtop_real import vtop_block
from util import RIG, ioremaps, log_begins_with, need, our_digests, prstatus_notes, qemu_user_tool, rig_release, run_cli

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context
from pymakedumpfile.input import open_reader
from pymakedumpfile.tools.dmesg import dump_dmesg

V = Path(str(RIG) + "-riscv64")
RUNS = {"sv57": "mem1024", "sv39": "mem1024-sv39"}
SLAB, PGTABLE = 7, 26  # /proc/kpageflags bits


def run_dir(name: str) -> Path:
    d = V / "dumps" / RUNS[name]
    need((d / "vmcore.elf").exists() and (d / "guest-vmallocinfo.txt").exists(),
         f"no riscv64 rig run in {d} (tests/rig/make-dumps.sh makes it)")
    return d


@pytest.fixture(scope="module", params=list(RUNS))
def rv(request: pytest.FixtureRequest) -> Path:
    return run_dir(request.param)


def mdf() -> list[str]:
    return qemu_user_tool("riscv64", V / "sysroot")


def test_paging_modes() -> None:
    """Sv57 on QEMU's default CPU, Sv39 when the guest's command line says no4lvl: VMCOREINFO's
    VA_BITS, and the walk has as many levels."""
    for name, bits, levels in (("sv57", 57, 5), ("sv39", 39, 3)):
        d = run_dir(name)
        cmdline = next(ln for ln in (d / "guest-dmesg.txt").read_text().splitlines() if "Kernel command line" in ln)
        assert ("no4lvl" in cmdline.split()) == (bits == 39)
        with open_dump(d / "vmcore.elf") as ctx:
            assert ctx.attr["arch.name"] == "riscv64" and ctx.attr["linux.uts.release"] == rig_release(d)
            x = ctx.kernel_memory().xlat
            assert x.layout.va_bits == bits and x.levels == levels
            va = ioremaps(d)[0][0]
            assert len(ctx.kernel_memory().walk(va)[1]) == levels


def test_vtop(rv: Path, tmp_path: Path) -> None:
    """The kernel image, the linear map, vmalloc and ioremap'ed addresses: makedumpfile's answers,
    and for the ioremap'ed ones the physical addresses the guest listed."""
    vmcore = rv / "vmcore.elf"
    with open_dump(vmcore) as ctx:
        vi = ctx.reader.vmcoreinfo
        addrs = {s: vi.SYMBOL[s] + 0x18 for s in ("_stext", "init_uts_ns", "swapper_pg_dir", "prb", "mem_section")}
    vmalloc = [int(m[1], 16) for ln in (rv / "guest-vmallocinfo.txt").read_text().splitlines()
               if (m := re.match(r"0x([0-9a-f]+)-\S+\s+\d+ .* pages=\d+ vmalloc", ln))]
    addrs["vmalloc"] = vmalloc[0] + 0x123
    io = ioremaps(rv)[:3]
    addrs.update({f"io{i}": v + 0x123 for i, (v, _) in enumerate(io)})
    for name, va in addrs.items():
        ref = subprocess.run([*mdf(), "--vtop", hex(va), "-d", "31", str(vmcore), str(tmp_path / name)],
                             capture_output=True, text=True, timeout=300)
        (tmp_path / name).unlink(missing_ok=True)
        assert ref.returncode == 0, ref.stdout + ref.stderr
        mine = vtop_block(run_cli("--vtop", hex(va), str(vmcore)).stdout)
        assert mine == vtop_block(ref.stdout), name
        if name.startswith("io"):
            assert int(mine[-1].split()[1], 16) == dict(io)[va - 0x123] + 0x123


def test_dmesg(rv: Path, tmp_path: Path) -> None:
    """--dump-dmesg: byte for byte makedumpfile 1.7.8's (with caller ids) and the crash kernel's;
    the guest's own dmesg, taken before the panic, begins it."""
    out = tmp_path / "log"
    p = subprocess.run([*mdf(), "--dump-dmesg", str(rv / "vmcore.elf"), str(out)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    with open_dump(rv / "vmcore.elf") as ctx:
        ours = dump_dmesg(ctx)
        plain = dump_dmesg(ctx, caller_id=False).decode("utf-8", "replace").splitlines()
    assert ours == out.read_bytes() == (rv / "capture-out" / "dmesg.txt").read_bytes()
    guest = (rv / "guest-dmesg.txt").read_text().splitlines()
    assert len(guest) > 100 and log_begins_with(plain, guest)


def test_makedumpfile_excludes_kernel_data(rv: Path, tmp_path: Path) -> None:
    """makedumpfile 1.7.8's -d 31 excludes pages that were slab or page tables in both of the
    guest's kpageflags reads, just before the dumps; we exclude none of those here (and
    test_612_truth bounds every other class against the guest)."""
    out = tmp_path / "ref"
    p = subprocess.run([*mdf(), "-l", "-d", "31", str(rv / "vmcore.elf"), str(out)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    theirs = open_reader(out).pagemap_full
    a, b = array("Q"), array("Q")
    a.frombytes((rv / "kpageflags.first.bin").read_bytes())
    b.frombytes((rv / "kpageflags.bin").read_bytes())
    kernel = [p for p in range(len(b)) if all(f >> SLAB & 1 or f >> PGTABLE & 1 for f in (a[p], b[p]))]
    with open_dump(rv / "vmcore.elf") as src:
        ours = make_write_context(src, format="kdump", compression="none", dump_level=31).pagemap
        held = src.pagemap
        kernel = [p for p in kernel if held.test(p)]
        assert len(kernel) > 1000
        assert sum(not ours.test(p) for p in kernel) == 0
    assert sum(not theirs.test(p) for p in kernel) > 100


@pytest.mark.parametrize("fmt", ["-l", "-E"])
def test_our_files_read_back(rv: Path, fmt: str, tmp_path: Path) -> None:
    """Our -d 31 kdump and ELF files: each page equal to the vmcore's; makedumpfile reads our kdump
    file (its log from it is the vmcore's)."""
    out = tmp_path / "out"
    run_cli(fmt, "-d", "31", "--message-level", "0", str(rv / "vmcore.elf"), str(out))
    got, src = our_digests(out), our_digests(rv / "vmcore.elf")
    assert len(got) > 10000 and all(src[p] == h for p, h in got.items())
    if fmt == "-l":
        log = tmp_path / "log"
        p = subprocess.run([*mdf(), "--dump-dmesg", str(out), str(log)], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert log.read_bytes() == (rv / "capture-out" / "dmesg.txt").read_bytes()


def test_info_registers(rv: Path) -> None:
    """--info: each CPU's pid and its 32 registers (pc, ra, sp, ...) from the PRSTATUS notes, read
    here with struct (a 64-bit struct elf_prstatus: pr_pid at 32, pr_reg at 112); the panicking
    CPU's pc in the kernel image."""
    notes = prstatus_notes(rv / "vmcore.elf", 32)
    mine = json.loads(run_cli("--info", "--json", str(rv / "vmcore.elf")).stdout)["registers"]
    assert len(mine) == len(notes) == 2
    for m, (pid, regs) in zip(mine, notes):
        assert m["pid"] == pid and list(m["regs"].values()) == regs and list(m["regs"])[:3] == ["pc", "ra", "sp"]
    assert any(m["regs"]["pc"] >= 0xFFFF_FFFF_8000_0000 for m in mine)


@pytest.mark.parametrize("level", [0, 1])
def test_levels_without_struct_pages_equal_makedumpfile(rv: Path, level: int, tmp_path: Path) -> None:
    """Levels 0 and 1 need no struct page: bitmap 2 and the zero pages equal makedumpfile's."""
    from test_levels_real import bitmap_diff, mdf_stats
    from util import zero_pages_written

    out = tmp_path / "ref"
    p = subprocess.run([*mdf(), "-l", "-d", str(level), "--message-level", "31", str(rv / "vmcore.elf"), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    ref = open_reader(out)
    stats = mdf_stats(p.stdout + p.stderr)
    with open_dump(rv / "vmcore.elf") as src:
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), bytes(ref.pagemap_full.buf)) == []
        if level:
            assert zero_pages_written(w, tmp_path) == stats["zero"] > 1000
