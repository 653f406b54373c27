"""Real ppc64le dumps, read on this x86_64 host: Debian bookworm's ppc64el kernel (64 KiB pages)
booted in qemu-system-ppc64 ``-M pseries`` by tests/rig/make-dumps.sh (tests/rig/qemu_rig.py),
with ``-cpu power9`` (radix MMU; 1 GiB and 2 GiB) and ``-cpu power8`` (hash MMU; 1 GiB), each
captured by a real crash kernel (``kexec -p``, a panic, /proc/vmcore copied to a disk).

The reference is Debian's ppc64el makedumpfile (bookworm's 1.7.2, and sid's), run here under
``qemu-ppc64le-static``, and the guest itself: its kernel log, and its /proc/vmallocinfo, whose
ioremap lines give a virtual address of the kernel's page tables with its physical address.

Where makedumpfile is wrong: Linux 6.1's VMCOREINFO does not say which MMU the kernel uses
(``NUMBER(RADIX_MMU)`` came with 6.7), and makedumpfile then walks the page tables with the hash
MMU's index sizes.  On the radix guest it translates no vmalloc or ioremap address (it prints
ffffffffffffffff); its page classification does not need one (it finds the struct pages through
``vmemmap_list``), so its bitmaps are right.  We tell the MMUs apart by the directory entries
(docs/ppc64.md); the guest's ioremap addresses show which translation is right.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from test_dmesg_real import strip_caller_ids
from test_levels_real import MdfLevels, bitmap_diff, mdf_stats
from test_vtop_real import vtop_block
from util import (
    RIG,
    check_read_back,
    ioremaps,
    lkdf_registers,
    log_begins_with,
    need,
    our_digests,
    qemu_user_tool,
    rig_release,
    run_cli,
    zero_pages_written,
)

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context
from pymakedumpfile.input import open_reader
from pymakedumpfile.tools.dmesg import dump_dmesg

PPC = Path(str(RIG) + "-ppc64el")
RUNS = ["p9", "p8", "p9-mem2048"]
SOME_LEVELS = (0, 1, 2, 4, 8, 16, 31)


def run_dir(name: str) -> Path:
    d = PPC / "dumps" / name
    need((d / "vmcore.elf").exists() and (d / "guest-vmallocinfo.txt").exists(),
         f"no ppc64el rig run in {d} (tests/rig/make-dumps.sh makes it)")
    return d


@pytest.fixture(scope="session")
def mdf_ppc64() -> list[str]:
    """Debian's ppc64el makedumpfile (bookworm's 1.7.2), run under qemu-user."""
    return qemu_user_tool("ppc64le", PPC / "sysroot")


@pytest.fixture(scope="session")
def mdf_ppc64_sid() -> list[str]:
    return qemu_user_tool("ppc64le", PPC / "sysroot-sid")


@pytest.fixture(scope="module", params=RUNS)
def ppc(request: pytest.FixtureRequest) -> Path:
    return run_dir(request.param)


@pytest.fixture(scope="module")
def reference(ppc: Path, mdf_ppc64: list[str], tmp_path_factory: pytest.TempPathFactory) -> MdfLevels:
    """makedumpfile:ppc64el -l -d LEVEL --message-level 31 of the vmcore, made once a level."""
    return MdfLevels(mdf_ppc64, ppc / "vmcore.elf", tmp_path_factory.mktemp("mdf-ppc64"))


@pytest.mark.parametrize("ppc", RUNS, indirect=True)
def test_mmu_is_the_guests(ppc: Path) -> None:
    """Radix on POWER9, hash on POWER8, as the guest's kernel log says; VMCOREINFO of 6.1 does
    not say it, the page tables do."""
    log = (ppc / "guest-dmesg.txt").read_text()
    radix = "Using radix MMU" in log
    assert radix == ("Initializing hash mmu" not in log) == ppc.name.startswith("p9")
    with open_dump(ppc / "vmcore.elf") as ctx:
        assert "NUMBER(RADIX_MMU)" not in ctx.reader.vmcoreinfo.lines
        assert ctx.kernel_memory().xlat.radix == radix


@pytest.mark.parametrize(("ppc", "level"), [(r, n) for r in ("p9", "p8") for n in range(32)]
                         + [("p9-mem2048", n) for n in SOME_LEVELS], indirect=["ppc"])
def test_levels_equal_makedumpfile(level: int, ppc: Path, reference: MdfLevels, tmp_path: Path) -> None:
    """Bitmap 2, the page counts of each class and the zero pages equal makedumpfile:ppc64el's,
    bit for bit, on 64 KiB pages, with either MMU."""
    from pymakedumpfile import accel

    if accel.BACKEND == "python" and level not in SOME_LEVELS:
        pytest.skip("pure-Python twin: subset of levels")
    _, ref_stats, ref_bitmap = reference(level)
    with open_dump(ppc / "vmcore.elf") as src:
        assert src.attr["linux.uts.release"] == rig_release(ppc) and src.page_size == 65536
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), ref_bitmap) == []
        st = w.attr["filter.stats"]
        for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
            assert getattr(st, k) == ref_stats[k], (k, getattr(st, k), ref_stats[k])
        if level & 1:
            assert zero_pages_written(w, tmp_path) == ref_stats["zero"] > 100
        if level == 31:  # excluded pages of every class, not a vacuous agreement
            assert min(st.cache, st.cache_private, st.user, st.free) > 500


@pytest.mark.parametrize(("ppc", "level"), [(r, n) for r in ("p9", "p8") for n in (2, 4, 8, 16, 31)],
                         indirect=["ppc"])
def test_levels_equal_newest_makedumpfile(level: int, ppc: Path, mdf_ppc64_sid: list[str], tmp_path: Path) -> None:
    """The same against sid's makedumpfile."""
    out = tmp_path / "ref"
    p = subprocess.run([*mdf_ppc64_sid, "-l", "-d", str(level), "--message-level", "31", str(ppc / "vmcore.elf"),
                        str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    ref_stats, ref_bitmap = mdf_stats(p.stdout + p.stderr), bytes(open_reader(out).pagemap_full.buf)
    out.unlink()  # as large as the dump at low levels
    with open_dump(ppc / "vmcore.elf") as src:
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), ref_bitmap) == []
        for k in ("cache", "cache_private", "user", "free"):
            assert getattr(w.attr["filter.stats"], k) == ref_stats[k], k


@pytest.mark.parametrize("ppc", ["p9", "p8"], indirect=True)
def test_kdump_file_equals_makedumpfile(ppc: Path, reference: MdfLevels, tmp_path: Path) -> None:
    """Our -l -d 31 file: headers, notes and bitmaps byte for byte makedumpfile:ppc64el's on this
    host, the same pages; and the same bitmap as the file the crash kernel's makedumpfile wrote
    from /proc/vmcore itself."""
    ref_file = reference(31)[0]
    ours = tmp_path / "ours"
    run_cli("-l", "-d", "31", "--message-level", "0", str(ppc / "vmcore.elf"), str(ours))
    mine, theirs = open_reader(ours), open_reader(ref_file)
    assert mine.endian == theirs.endian == "<"
    assert mine.header == theirs.header and mine.sub == theirs.sub and mine.notes == theirs.notes
    end = (1 + mine.header.sub_hdr_size + mine.header.bitmap_blocks) * 65536
    assert ours.read_bytes()[:end] == ref_file.read_bytes()[:end]
    assert our_digests(ours) == our_digests(ref_file)
    in_guest = open_reader(ppc / "capture-out" / "dumpfile-l-d31")
    assert bytes(in_guest.pagemap_full.buf) == bytes(mine.pagemap_full.buf)


@pytest.mark.parametrize("ppc", ["p9", "p8"], indirect=True)
def test_vtop_matches_makedumpfile(ppc: Path, mdf_ppc64: list[str], tmp_path: Path) -> None:
    """The linear map (kernel image, data), a struct page in vmemmap, and an ioremap'ed address:
    makedumpfile's answer on the hash guest; on the radix guest it answers ffffffffffffffff (the
    module docstring), and ours is the guest's own physical address."""
    vmcore = ppc / "vmcore.elf"
    with open_dump(vmcore) as ctx:
        vi = ctx.reader.vmcoreinfo
        addrs = {s: vi.SYMBOL[s] + 0x18 for s in ("_stext", "init_uts_ns", "swapper_pg_dir", "prb", "mem_section")}
    p = subprocess.run([*mdf_ppc64, "-l", "-d", "31", "--message-level", "31", str(vmcore), str(tmp_path / "mm")],
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"mem_map\[\s*0\]\s+([0-9a-f]+)", p.stdout + p.stderr)
    assert m, p.stdout + p.stderr
    addrs["vmemmap"] = int(m[1], 16) + 5 * 64 + 8
    io_va, io_pa = ioremaps(ppc)[0]
    addrs["ioremap"] = io_va + 0x123
    for name, va in addrs.items():
        ref = subprocess.run([*mdf_ppc64, "--vtop", hex(va), "-d", "31", str(vmcore), str(tmp_path / name)],
                             capture_output=True, text=True, timeout=300)
        (tmp_path / name).unlink(missing_ok=True)  # the -d 31 dump it wrote too
        assert ref.returncode == 0, ref.stdout + ref.stderr
        mine = vtop_block(run_cli("--vtop", hex(va), str(vmcore)).stdout)
        if name == "ioremap":
            assert mine[-1].split() == [f"{va:x}", f"{io_pa + 0x123:x}"]
            if ppc.name.startswith("p9"):
                assert vtop_block(ref.stdout)[-1].split() == [f"{va:x}", "ffffffffffffffff"]
                continue
        assert mine == vtop_block(ref.stdout), name


@pytest.mark.parametrize("ppc", RUNS, indirect=True)
def test_vtop_is_the_guests(ppc: Path) -> None:
    """Every ioremap'ed area of the guest translates to the physical address it listed."""
    for va, pa in ioremaps(ppc)[:8]:
        out = run_cli("--vtop", hex(va + 0x123), str(ppc / "vmcore.elf")).stdout
        assert vtop_block(out)[-1].split() == [f"{va + 0x123:x}", f"{pa + 0x123:x}"], out


@pytest.mark.parametrize("ppc", ["p9", "p8"], indirect=True)
def test_dmesg_matches_makedumpfile(ppc: Path, mdf_ppc64: list[str], mdf_ppc64_sid: list[str],
                                   tmp_path: Path) -> None:
    """--dump-dmesg: byte for byte sid's makedumpfile's (caller ids) and 1.7.2's (without), which
    is also what the crash kernel's makedumpfile wrote; the guest's own ``dmesg``, taken before the
    panic, begins it."""
    logs = {}
    for name, exe in (("1.7.2", mdf_ppc64), ("sid", mdf_ppc64_sid)):
        out = tmp_path / name
        p = subprocess.run([*exe, "--dump-dmesg", str(ppc / "vmcore.elf"), str(out)], capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        logs[name] = out.read_bytes()
    with open_dump(ppc / "vmcore.elf") as ctx:
        assert dump_dmesg(ctx, caller_id=False) == logs["1.7.2"] == (ppc / "capture-out" / "dmesg.txt").read_bytes()
        assert dump_dmesg(ctx) == logs["sid"] != logs["1.7.2"]
        assert strip_caller_ids(logs["sid"]) == logs["1.7.2"]
        ours = dump_dmesg(ctx, caller_id=False).decode("utf-8", "replace").splitlines()
    guest = (ppc / "guest-dmesg.txt").read_text().splitlines()
    assert len(guest) > 100 and log_begins_with(ours, guest)
    assert any("sysrq: Trigger a crash" in ln for ln in ours[len(guest) :])


@pytest.mark.parametrize("ppc", ["p9", "p8"], indirect=True)
@pytest.mark.parametrize("fmt", ["-l", "-E"])
def test_libkdumpfile_reads_our_output(fmt: str, ppc: Path, tmp_path: Path) -> None:
    """Every page of our -d 31 kdump and ELF files reads back equal through libkdumpfile and
    through our reader, and equal to the vmcore's."""
    out = tmp_path / "out"
    run_cli(fmt, "-d", "31", "--message-level", "0", str(ppc / "vmcore.elf"), str(out))
    check_read_back(out, ppc / "vmcore.elf", rig_release(ppc), fmt == "-E", 1000)


# libkdumpfile's names for the registers that are not rN
LKDF_NAMES = {"pc": "nip", "or3": "orig_gpr3", "lr": "link", "res": "result"}


@pytest.mark.parametrize("ppc", ["p9", "p8"], indirect=True)
def test_info_registers_equal_libkdumpfile(ppc: Path, libkdumpfile: str) -> None:
    """--info: each CPU's pid, r0-r31, nip, msr, ... from its PRSTATUS note, as libkdumpfile
    reads them; the panicking CPU (0: the rig makes it panic there) was in kernel text."""
    theirs = lkdf_registers(ppc / "vmcore.elf")
    mine = json.loads(run_cli("--info", "--json", str(ppc / "vmcore.elf")).stdout)["registers"]
    assert len(mine) == len(theirs) == 2
    for m, t in zip(mine, theirs):
        regs = {LKDF_NAMES.get(k, k): v for k, v in t["regs"].items()}
        assert m["pid"] == t["pid"] and m["regs"] == regs
    assert mine[0]["pid"] > 0 and mine[0]["regs"]["nip"] >> 60 == 0xC
