"""Real 32-bit arm dumps: Debian bookworm's armmp kernel (classic two-level tables) in a 512 MiB
guest and its armmp-lpae kernel (LPAE: three levels of 64-bit entries) in 1 GiB, booted in
qemu-system-arm ``-M virt`` (RAM from 0x40000000) by tests/rig/make-dumps.sh
(tests/rig/qemu_rig.py), each captured by a real crash kernel (``kexec -p``, a panic,
/proc/vmcore copied to a disk).

The references are Debian's armhf makedumpfile (bookworm's 1.7.2, and sid's), run here under
``qemu-arm-static``, libkdumpfile (ELF files: it does not read arm kdump files, makedumpfile's nor
ours), and the guest itself: its kernel log, its /proc/vmallocinfo (ioremap'ed addresses with
their physical addresses) and its /proc/kpageflags (tests/real/test_612_truth.py).

makedumpfile numbers an arm kdump file's pages from the start of RAM (``phys_base``: pfn 0 is
physical 0x40000000 here), and crash reads them so; we write and read them the same way.

Where makedumpfile fails: it takes PAGE_OFFSET to be ``_stext`` rounded down to 4 MiB, and the
LPAE kernel's ``_stext`` is 0xc0400000: every address it reads is then 4 MiB off, and it stops
("The kernel version is not supported").  Its own crash kernel's run on the LPAE guest stops so
too.  There the guest is the reference.
"""

from __future__ import annotations

import json
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
    log_begins_with,
    need,
    our_digests,
    prstatus_notes,
    qemu_user_tool,
    rig_release,
    run_cli,
)

from pymakedumpfile import open_dump
from pymakedumpfile.filter import make_write_context
from pymakedumpfile.input import open_reader
from pymakedumpfile.tools.dmesg import dump_dmesg

RUNS = {"classic": (Path(str(RIG) + "-armhf"), "mem512"), "lpae": (Path(str(RIG) + "-armhf-lpae"), "mem1024")}
SOME_LEVELS = (0, 1, 2, 4, 8, 16, 31)
RAM = 0x4000_0000  # -M virt's RAM starts here: PHYS_OFFSET
FIRST = RAM >> 12  # the pfn of a kdump file's page 0


def run_dir(name: str) -> Path:
    rig, run = RUNS[name]
    d = rig / "dumps" / run
    need((d / "vmcore.elf").exists() and (d / "guest-vmallocinfo.txt").exists(),
         f"no armhf rig run in {d} (tests/rig/make-dumps.sh makes it)")
    return d


def lpae(d: Path) -> bool:
    return d.parent.parent.name.endswith("-lpae")


@pytest.fixture(scope="module", params=list(RUNS))
def arm(request: pytest.FixtureRequest) -> Path:
    return run_dir(request.param)


def mdf(d: Path, sid: bool = False) -> list[str]:
    """Debian's armhf makedumpfile of the run's rig (bookworm's 1.7.2, or sid's), under qemu-user."""
    return qemu_user_tool("arm", d.parent.parent / ("sysroot-sid" if sid else "sysroot"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> MdfLevels:
    """makedumpfile:armhf -l -d LEVEL --message-level 31 of the classic vmcore, once a level."""
    d = run_dir("classic")
    return MdfLevels(mdf(d), d / "vmcore.elf", tmp_path_factory.mktemp("mdf-arm"))


@pytest.mark.parametrize("arm", list(RUNS), indirect=True)
def test_tables_and_layout(arm: Path) -> None:
    """LPAE or not as the kernel was built (6.1's VMCOREINFO says CONFIG_ARM_LPAE; the tables
    agree); PAGE_OFFSET 3 GiB from PHYS_OFFSET 0x40000000; the linear map ends at the first vmalloc
    area above it; FLATMEM's mem_map starts at RAM's first page."""
    config = next((arm.parent.parent / "kernel" / "boot").glob("config-*")).read_text()
    assert ("CONFIG_ARM_LPAE=y" in config) == lpae(arm)
    with open_dump(arm / "vmcore.elf") as ctx:
        assert ctx.attr["arch.name"] == "arm" and ctx.attr["linux.phys_base"] == RAM
        x = ctx.kernel_memory().xlat
        assert (x.lpae, x.page_offset, x.phys_offset, x.arch_pfn_offset) == (lpae(arm), 0xC000_0000, RAM, FIRST)
        assert x.lowmem_end is not None and 0xC000_0000 < x.lowmem_end < ioremaps(arm, ("iotable_init",))[0][0] + 1


@pytest.mark.parametrize("level", range(32))
def test_levels_equal_makedumpfile(level: int, reference: MdfLevels, tmp_path: Path) -> None:
    """Classic tables: bitmap 2 (pages counted from RAM's start, as its files count them), the page
    counts of each class and the zero pages equal makedumpfile:armhf 1.7.2's, bit for bit."""
    from pymakedumpfile import accel

    if accel.BACKEND == "python" and level not in SOME_LEVELS:
        pytest.skip("pure-Python twin: subset of levels")
    from util import zero_pages_written

    d = run_dir("classic")
    _, ref_stats, ref_bitmap = reference(level)
    with open_dump(d / "vmcore.elf") as src:
        assert src.attr["linux.uts.release"] == rig_release(d)
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        mine = w.pagemap.to_bytes(FIRST, w.max_pfn)
        assert len(mine) == len(ref_bitmap) and bitmap_diff(mine, ref_bitmap) == []
        assert w.pagemap.count(0, FIRST) == 0
        st = w.attr["filter.stats"]
        for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
            assert getattr(st, k) == ref_stats[k], (k, getattr(st, k), ref_stats[k])
        if level & 1:
            assert zero_pages_written(w, tmp_path) == ref_stats["zero"] > 100
        if level == 31:
            assert min(st.cache, st.cache_private, st.user, st.free) > 500


@pytest.mark.parametrize("level", (2, 16, 31))
def test_levels_equal_newest_makedumpfile(level: int, tmp_path: Path) -> None:
    """The same against sid's makedumpfile, whose file we read as it is laid out."""
    d = run_dir("classic")
    out = tmp_path / "ref"
    p = subprocess.run([*mdf(d, sid=True), "-l", "-d", str(level), "--message-level", "31", str(d / "vmcore.elf"),
                        str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    theirs = open_reader(out)
    ref_stats, ref_bitmap = mdf_stats(p.stdout + p.stderr), bytes(theirs.pagemap_full.buf)
    with open_dump(d / "vmcore.elf") as src:
        # Debian 13's armhf has a 64-bit time_t: its main header is laid out as LP64's (the
        # timeval of two 64-bit fields), its sub header with 32-bit longs
        assert theirs.layout == "32pad" and theirs.header.tv_sec == src.attr["linux.crashtime"] > 0
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(FIRST, w.max_pfn), ref_bitmap) == []
        for k in ("cache", "cache_private", "user", "free"):
            assert getattr(w.attr["filter.stats"], k) == ref_stats[k], k


def test_kdump_files_number_pages_from_ram(reference: MdfLevels, tmp_path: Path) -> None:
    """Our -l -d 31 file: header, sub header (ARM EABI: 64-bit fields 8-byte aligned), notes and
    bitmaps byte for byte makedumpfile:armhf's, pages from RAM's start; the same pages.  Each of the
    two files, and the crash kernel's own, reads back in physical addresses: the vmcore's bytes."""
    d = run_dir("classic")
    ref_file = reference(31)[0]
    ours = tmp_path / "ours"
    run_cli("-l", "-d", "31", "--message-level", "0", str(d / "vmcore.elf"), str(ours))
    mine, theirs = open_reader(ours), open_reader(ref_file)
    assert mine.header == theirs.header and mine.sub == theirs.sub and mine.notes == theirs.notes
    assert mine.sub.phys_base == RAM and mine.header.max_mapnr == (512 << 20) >> 12
    end = (1 + mine.header.sub_hdr_size + mine.header.bitmap_blocks) * 4096
    assert ours.read_bytes()[:end] == ref_file.read_bytes()[:end]
    src = our_digests(d / "vmcore.elf")
    for f in (ours, ref_file, d / "capture-out" / "dumpfile-l-d31"):
        got = our_digests(f)
        assert min(got) >= FIRST and len(got) > 1000 and all(src[p] == h for p, h in got.items()), f
    assert our_digests(ours) == our_digests(ref_file)


def test_elf_file_equals_makedumpfile(tmp_path: Path) -> None:
    """-E -d 31 of the classic dump: byte for byte makedumpfile:armhf's."""
    d = run_dir("classic")
    ref, ours = tmp_path / "ref", tmp_path / "ours"
    p = subprocess.run([*mdf(d), "-E", "-d", "31", str(d / "vmcore.elf"), str(ref)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    run_cli("-E", "-d", "31", "--message-level", "0", str(d / "vmcore.elf"), str(ours))
    assert ours.read_bytes() == ref.read_bytes()


def test_makedumpfile_fails_on_lpae(tmp_path: Path) -> None:
    """makedumpfile (1.7.2 and sid's) on the LPAE vmcore: PAGE_OFFSET taken as 0xc0400000, and a
    stop; the crash kernel's run stopped the same way.  We read it (the other tests)."""
    d = run_dir("lpae")
    for sid in (False, True):
        p = subprocess.run([*mdf(d, sid), "-l", "-d", "31", "--message-level", "31", str(d / "vmcore.elf"),
                            str(tmp_path / f"out{sid}")], capture_output=True, text=True, timeout=300)
        assert p.returncode != 0 and "page_offset  : c0400000" in p.stdout + p.stderr
    assert "makedumpfile Failed" in (d / "capture-out" / "makedumpfile-l-d31.log").read_text()
    with open_dump(d / "vmcore.elf") as ctx:
        assert ctx.reader.vmcoreinfo.SYMBOL["_stext"] == 0xC040_0000


@pytest.mark.parametrize("arm", list(RUNS), indirect=True)
def test_vtop(arm: Path, tmp_path: Path) -> None:
    """Kernel data (the linear map, sections or LPAE blocks) and ioremap'ed areas (page tables):
    the physical addresses the linear rule and the guest's own list give, through the walk.  On the
    classic dump makedumpfile prints the same first-level entry; for kernel data its whole answer
    is ours, line for line, but for an ioremap'ed address it reads the second-level entry one page
    too far (Linux's copy, in an older layout than 6.1's) and answers ffffffffffffffff."""
    vmcore = arm / "vmcore.elf"
    with open_dump(vmcore) as ctx:
        vi = ctx.reader.vmcoreinfo
        addrs = {s: vi.SYMBOL[s] + 0x18 for s in ("_stext", "init_uts_ns", "swapper_pg_dir", "prb", "mem_map")}
    io = ioremaps(arm, ("iotable_init",))[:4]
    for name, va in [*addrs.items(), *((f"io{i}", v + 0x123) for i, (v, _) in enumerate(io))]:
        mine = vtop_block(run_cli("--vtop", hex(va), str(vmcore)).stdout)
        levels = [ln.split()[0] for ln in mine[1:-2]]
        if name.startswith("io"):
            pa = dict(io)[va - 0x123] + 0x123
            assert mine[-1].split() == [f"{va:x}", f"{pa:x}"]
            assert levels == (["PGD", "PMD", "PTE"] if lpae(arm) else ["PGD", "PTE"])
        else:
            assert mine[-1].split() == [f"{va:x}", f"{va - 0xC000_0000 + RAM:x}"]
            assert levels == (["PGD", "PMD"] if lpae(arm) else ["PGD"])  # a 2 MiB block, a 1 MiB section
        if lpae(arm):
            continue
        ref = subprocess.run([*mdf(arm), "--vtop", hex(va), "-d", "31", str(vmcore), str(tmp_path / name)],
                             capture_output=True, text=True, timeout=300)
        (tmp_path / name).unlink(missing_ok=True)
        theirs = vtop_block(ref.stdout)
        # Linux's first-level entry covers 2 MiB, a pair of the hardware's: makedumpfile prints the
        # pair's first, we the hardware entry of the address's own MiB (4 bytes further when odd)
        if (va >> 20) & 1:
            ours_at, theirs_at = (int(b[1].split()[2], 16) for b in (mine, theirs))
            assert ours_at == theirs_at + 4, name
            mine, theirs = mine[2:], theirs[2:]
        if name.startswith("io"):
            assert theirs[0] == mine[0] and theirs[-1].split() == [f"{va:x}", "ffffffffffffffff"], name
        else:
            assert ref.returncode == 0, ref.stdout + ref.stderr
            assert mine == theirs, name


@pytest.mark.parametrize("arm", list(RUNS), indirect=True)
def test_dmesg(arm: Path, tmp_path: Path) -> None:
    """--dump-dmesg: the guest's own ``dmesg``, taken before the panic, begins it; on the classic
    dump it is byte for byte makedumpfile's (1.7.2 without caller ids, sid's with) and the crash
    kernel's."""
    with open_dump(arm / "vmcore.elf") as ctx:
        ours = dump_dmesg(ctx, caller_id=False)
        with_ids = dump_dmesg(ctx)
    lines = ours.decode("utf-8", "replace").splitlines()
    guest = (arm / "guest-dmesg.txt").read_text().splitlines()
    assert len(guest) > 100 and log_begins_with(lines, guest)
    assert any("sysrq: Trigger a crash" in ln for ln in lines[len(guest) :])
    assert strip_caller_ids(with_ids) == ours != with_ids
    if lpae(arm):
        return
    for sid, want in ((False, ours), (True, with_ids)):
        out = tmp_path / f"d{sid}"
        p = subprocess.run([*mdf(arm, sid), "--dump-dmesg", str(arm / "vmcore.elf"), str(out)], capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert out.read_bytes() == want
    assert (arm / "capture-out" / "dmesg.txt").read_bytes() == ours


@pytest.mark.parametrize("arm", list(RUNS), indirect=True)
def test_libkdumpfile_reads_our_elf_output(arm: Path, tmp_path: Path) -> None:
    """Every page of our -E -d 31 file reads back equal through libkdumpfile and our reader, and
    equal to the vmcore's."""
    out = tmp_path / "out"
    run_cli("-E", "-d", "31", "--message-level", "0", str(arm / "vmcore.elf"), str(out))
    check_read_back(out, arm / "vmcore.elf", rig_release(arm), True, 1000, machphys=True)


@pytest.mark.parametrize("arm", list(RUNS), indirect=True)
def test_info_registers(arm: Path) -> None:
    """--info: each CPU's pid and r0-r15, cpsr, orig_r0 from its 32-bit PRSTATUS note (libkdumpfile
    gives no arm registers: the notes are read here); the panicking CPU's pc in kernel text, in
    SVC mode."""
    notes = prstatus_notes(arm / "vmcore.elf", 18)
    info = json.loads(run_cli("--info", "--json", str(arm / "vmcore.elf")).stdout)
    mine = info["registers"]
    assert len(mine) == len(notes) == 2 and info["ptr_size"] == 4
    for m, (pid, regs) in zip(mine, notes):
        assert m["pid"] == pid and list(m["regs"].values()) == regs and len(m["regs"]) == 18
        assert list(m["regs"])[15] == "r15" and list(m["regs"])[16:] == ["cpsr", "orig_r0"]
    assert any(m["regs"]["r15"] >= 0xC000_0000 and m["regs"]["cpsr"] & 0x1F == 0x13 for m in mine)
