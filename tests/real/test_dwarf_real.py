"""-g and -x on the real kernel image: the Debian 6.1 kernel's vmlinux with
DWARF (from linux-image-*-dbg, fetched by tests/rig/make-dumps.sh), against
makedumpfile -g on the same file and against the real dump's own VMCOREINFO."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context
from pymakedumpfile.input.dwarf import generate_vmcoreinfo


@pytest.fixture(scope="module")
def ours(vmlinux: Path) -> list[str]:
    return generate_vmcoreinfo(str(vmlinux), page_size=4096).decode().splitlines()


def test_g_equals_makedumpfile(vmlinux: Path, ours: list[str], makedumpfile: str, tmp_path: Path) -> None:
    out = tmp_path / "vmcoreinfo"
    p = subprocess.run([makedumpfile, "-g", str(out), "-x", str(vmlinux)], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    theirs = out.read_text().splitlines()
    assert len(theirs) > 80 and "SRCFILE(pud_t)=arch/x86/include/asm/pgtable_types.h" in theirs
    assert [ln for ln in ours if ln in theirs] == theirs, set(theirs) - set(ours)
    extra = {ln.split("=")[0] for ln in ours if ln not in theirs}
    # keys makedumpfile's current write_vmcoreinfo_data() has and 1.7.2 lacks
    assert extra == {"SIZE(pageflags)", "OFFSET(folio._folio_dtor)", "OFFSET(folio._folio_order)",
                     "OFFSET(printk_info.caller_id)"}, extra


def test_g_agrees_with_the_kernels_own_vmcoreinfo(ours: list[str], mem512: Path) -> None:
    """Every SIZE/OFFSET/LENGTH/NUMBER the running kernel exported in the
    dump that -g also writes has the same value; symbols differ by KASLR's
    KERNELOFFSET only."""
    with open_dump(mem512 / "vmcore.elf") as ctx:
        kernel = ctx.reader.vmcoreinfo.lines
    shift = int(kernel.get("KERNELOFFSET", "0"), 16)
    mine = dict(ln.split("=", 1) for ln in ours)
    # LENGTH(node_data): the kernel exports MAX_NUMNODES (1024); makedumpfile -g
    # writes its "is an array" marker LONG_MAX - 1, and so do we
    assert mine["LENGTH(node_data)"] == str((1 << 63) - 2) and kernel["LENGTH(node_data)"] == "1024"
    common = [k for k in mine if k in kernel and k.split("(")[0] in ("SIZE", "OFFSET", "LENGTH", "NUMBER")
              and k != "LENGTH(node_data)"]
    assert len(common) > 30
    assert {k: mine[k] for k in common} == {k: kernel[k] for k in common}
    # SYMBOL(mem_section): the kernel exports the pointer's value (the root
    # array, SPARSEMEM_EXTREME), -g the variable's address, as makedumpfile
    syms = [k for k in mine if k.startswith("SYMBOL(") and k in kernel and k != "SYMBOL(mem_section)"]
    assert len(syms) > 5
    assert all(int(mine[k], 16) + shift == int(kernel[k], 16) for k in syms), syms


def test_x_fills_what_vmcoreinfo_lacks(vmlinux: Path, mem512: Path) -> None:
    """A VMCOREINFO stripped of every structure entry and of SYMBOL(mem_section)
    filters nothing; with -x the image gives them back (the symbol moved by
    KERNELOFFSET: the variable's address, where the kernel exports the
    pointer's value) and the level-31 bitmap is the one of the full
    VMCOREINFO."""
    src = mem512 / "vmcore.elf"
    with open_dump(src) as ctx:
        full = ctx.reader.vmcoreinfo.raw
        want = make_write_context(ctx, format="kdump", dump_level=31).pagemap.to_bytes()
    stripped = b"".join(ln + b"\n" for ln in full.splitlines()
                        if not ln.startswith((b"SIZE(", b"OFFSET(", b"LENGTH(", b"NUMBER(PG_", b"SYMBOL(mem_section)")))
    with open_dump(src, vmcoreinfo=stripped) as ctx:
        with pytest.raises(Exception):  # noqa: B017 - nothing to filter with
            make_write_context(ctx, format="kdump", dump_level=31)
    with open_dump(src, vmcoreinfo=stripped, vmlinux=str(vmlinux)) as ctx:
        kernel = dict(ln.split(b"=", 1) for ln in full.splitlines())
        shift = int(kernel[b"KERNELOFFSET"], 16)
        nm = subprocess.run(["nm", str(vmlinux)], capture_output=True, text=True, check=True).stdout  # binutils
        addr = next(int(ln.split()[0], 16) for ln in nm.splitlines() if ln.endswith(" mem_section"))
        assert ctx.reader.vmcoreinfo.SYMBOL["mem_section"] == addr + shift
        got = make_write_context(ctx, format="kdump", dump_level=31).pagemap.to_bytes()
    assert got == want


def test_i_of_makedumpfiles_g_on_the_kaslr_dump(vmlinux: Path, makedumpfile: str, mem512: Path,
                                                tmp_path: Path) -> None:
    """makedumpfile -g from the image, then -i on the real KASLR dump with both tools: the
    same level-31 bitmaps (the symbols moved by the dump's KERNELOFFSET)."""
    vmci = tmp_path / "vmcoreinfo"
    p = subprocess.run([makedumpfile, "-g", str(vmci), "-x", str(vmlinux)], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    src = mem512 / "vmcore.elf"
    with open_dump(src) as ctx:
        assert ctx.reader.vmcoreinfo.get_int("KERNELOFFSET")  # a KASLR kernel: -i must move the symbols
        # a page a PT_LOAD covers in part (QEMU: the one ending at 0x9fc00): makedumpfile 1.7.2 leaves it
        # out in cyclic mode, we keep it (tests/real/test_core_real.py), with or without -i
        partial = {(pa + size) // 4096 for pa, _, size in ctx.attr["elf.loads"] if (pa + size) % 4096}
    out = {}
    for name, cmd in (("theirs", [makedumpfile]), ("ours", [sys.executable, "-m", "pymakedumpfile"])):
        out[name] = tmp_path / name
        r = subprocess.run([*cmd, "-l", "-d", "31", "-i", str(vmci), str(src), str(out[name])], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, (name, r.stdout + r.stderr)
    with open_dump(out["ours"]) as a, open_dump(out["theirs"]) as b:
        assert a.pagemap.count() > 1000
        x, y = a.pagemap.to_bytes(), b.pagemap.to_bytes()
        diff = {i * 8 + j for i in range(len(x)) for j in range(8) if (x[i] ^ y[i]) >> j & 1}
        assert diff <= partial and all(a.pagemap.test(p) for p in diff), sorted(diff)[:10]
