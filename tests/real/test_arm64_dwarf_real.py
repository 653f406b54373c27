"""-g and -x with an arm64 kernel image: the vmlinux with DWARF of bookworm's arm64 kernel (from
its -dbg package, fetched by tests/rig/make-dumps.sh), against Debian's arm64 makedumpfile -g on
the same file (run under qemu-user: about 100 s, so once) and on the real arm64 KASLR dump."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from needs import cli_only
from test_arm64_real import BOOKWORM, mdf_arm64  # noqa: F401 - the fixture
from util import need

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context
from pymakedumpfile.input.dwarf import generate_vmcoreinfo

pytestmark = cli_only  # the pages are the x86_64 tests' concern in the twin run; here, the image's DWARF


@pytest.fixture(scope="module")
def vmlinux() -> Path:
    kpkg = (BOOKWORM / "kernel" / "KPKG").read_text().strip() if (BOOKWORM / "kernel" / "KPKG").exists() else ""
    v = BOOKWORM / "dbg/usr/lib/debug/boot" / f"vmlinux-{kpkg.removeprefix('linux-image-')}"
    need(bool(kpkg) and v.exists(), f"no arm64 debug vmlinux {v} (tests/rig/make-dumps.sh fetches it)")
    return v


@pytest.fixture(scope="module")
def theirs(vmlinux: Path, mdf_arm64: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """makedumpfile:arm64 -g of the image."""
    out = tmp_path_factory.mktemp("g") / "vmcoreinfo"
    p = subprocess.run([*mdf_arm64, "-g", str(out), "-x", str(vmlinux)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    return out


def test_g_equals_makedumpfile(vmlinux: Path, theirs: Path) -> None:
    ours = generate_vmcoreinfo(str(vmlinux), page_size=4096).decode().splitlines()
    ref = theirs.read_text().splitlines()
    assert len(ref) > 80 and "SRCFILE(pud_t)=arch/arm64/include/asm/pgtable-types.h" in ref
    assert [ln for ln in ours if ln in ref] == ref, set(ref) - set(ours)
    # keys makedumpfile's current write_vmcoreinfo_data() has and 1.7.2 lacks (as on x86_64)
    assert {ln.split("=")[0] for ln in ours if ln not in ref} == {
        "SIZE(pageflags)", "OFFSET(folio._folio_dtor)", "OFFSET(folio._folio_order)", "OFFSET(printk_info.caller_id)"}


def test_i_of_makedumpfiles_g_on_the_kaslr_dump(theirs: Path, mdf_arm64: list[str], tmp_path: Path) -> None:  # noqa: F811
    """makedumpfile's -g, then -i on the real arm64 KASLR dump with both tools: the same
    level-31 bitmaps."""
    src = BOOKWORM / "dumps" / "mem512" / "vmcore.elf"
    need(src.exists(), f"no {src}")
    with open_dump(src) as ctx:
        assert ctx.reader.vmcoreinfo.get_int("KERNELOFFSET")  # KASLR: -i must move the symbols
    out = {}
    for name, cmd in (("theirs", mdf_arm64), ("ours", [sys.executable, "-m", "pymakedumpfile"])):
        out[name] = tmp_path / name
        r = subprocess.run([*cmd, "-l", "-d", "31", "-i", str(theirs), str(src), str(out[name])], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, (name, r.stdout + r.stderr)
    with open_dump(out["ours"]) as a, open_dump(out["theirs"]) as b:
        assert 1000 < a.pagemap.count() < a.attr["memory.pagemap"].count() // 2
        assert a.pagemap.to_bytes() == b.pagemap.to_bytes()


def test_x_fills_what_vmcoreinfo_lacks(vmlinux: Path) -> None:
    """A VMCOREINFO stripped of every structure entry and of SYMBOL(mem_section) filters nothing;
    with -x the arm64 image gives them back and the level-31 bitmap is the full VMCOREINFO's."""
    src = BOOKWORM / "dumps" / "mem512" / "vmcore.elf"
    need(src.exists(), f"no {src}")
    with open_dump(src) as ctx:
        full = ctx.reader.vmcoreinfo.raw
        want = make_write_context(ctx, format="kdump", dump_level=31).pagemap.to_bytes()
    stripped = b"".join(ln + b"\n" for ln in full.splitlines()
                        if not ln.startswith((b"SIZE(", b"OFFSET(", b"LENGTH(", b"NUMBER(PG_", b"SYMBOL(mem_section)")))
    with open_dump(src, vmcoreinfo=stripped) as ctx:
        with pytest.raises(Exception):  # noqa: B017 - nothing to filter with
            make_write_context(ctx, format="kdump", dump_level=31)
    with open_dump(src, vmcoreinfo=stripped, vmlinux=str(vmlinux)) as ctx:
        assert make_write_context(ctx, format="kdump", dump_level=31).pagemap.to_bytes() == want
