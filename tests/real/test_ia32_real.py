"""Real 32-bit x86 dumps: Debian bookworm's 686-pae kernel (PAE: three levels of 64-bit entries)
in a 1 GiB guest, whose memory above 896 MiB is high memory, and its 686 kernel (two levels of
32-bit entries) in 512 MiB, booted in qemu-system-i386 by tests/rig/make-dumps.sh
(tests/rig/qemu_rig.py), each captured by a real crash kernel (``kexec -p``, a panic,
/proc/vmcore copied to a disk: an ELF32 file).

The references are Debian's i386 makedumpfile (bookworm's 1.7.2, and sid's), run here under
``qemu-i386-static``, libkdumpfile, and the guest itself: its kernel log and its
/proc/vmallocinfo, whose ioremap lines give a vmalloc address with its physical address.

Where makedumpfile is wrong or silent, and we are not:

* It translates an address that the ELF file's program headers map by their ``p_vaddr``, and
  kexec-tools gives the second lowmem segment virtual addresses up to 896 MiB past PAGE_OFFSET
  (0xf8000000), past the end of the linear map, where vmalloc starts (high_memory plus a gap).
  An ioremap'ed address below 0xf8000000 is then translated as if it were linear: the guest's
  own list shows the right physical address, which is the one the page tables give.
* Without PAE it translates no vmalloc address at all ("does not support vmalloc translation of
  not-PAE kernel"); we walk the two-level tables.
* 1.7.2 leaves out the page that the PT_LOAD ending at 0x9fc00 covers in part; 1.7.8 and we keep
  it (tests/real/test_levels_real.py says the same of x86_64).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from test_dmesg_real import strip_caller_ids
from test_levels_real import PARTIAL_PFN, MdfLevels, bitmap_diff, mdf_stats
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

# (rig folder, run): PAE in 1 GiB, without PAE in 512 MiB
RUNS = {"pae": (Path(str(RIG) + "-i386-pae"), "mem1024"), "nopae": (Path(str(RIG) + "-i386"), "mem512")}
SOME_LEVELS = (0, 1, 2, 4, 8, 16, 31)


def run_dir(name: str) -> Path:
    rig, run = RUNS[name]
    d = rig / "dumps" / run
    need((d / "vmcore.elf").exists() and (d / "guest-vmallocinfo.txt").exists(),
         f"no i386 rig run in {d} (tests/rig/make-dumps.sh makes it)")
    return d


def vmallocs(d: Path) -> list[int]:
    """The start of each vmalloc'ed (page-backed) area the guest listed (per-CPU chunks too)."""
    return [int(m[1], 16) for line in (d / "guest-vmallocinfo.txt").read_text().splitlines()
            if (m := re.match(r"0x([0-9a-f]+)-0x[0-9a-f]+\s+\d+ .*\svmalloc$", line))]


@pytest.fixture(scope="module", params=list(RUNS))
def i386(request: pytest.FixtureRequest) -> Path:
    return run_dir(request.param)


def mdf(d: Path, sid: bool = False) -> list[str]:
    """Debian's i386 makedumpfile of the run's rig (bookworm's 1.7.2, or sid's), under qemu-user."""
    return qemu_user_tool("i386", d.parent.parent / ("sysroot-sid" if sid else "sysroot"))


@pytest.fixture(scope="module")
def reference(i386: Path, tmp_path_factory: pytest.TempPathFactory) -> MdfLevels:
    """makedumpfile:i386 -l -d LEVEL --message-level 31 of the vmcore, made once a level."""
    return MdfLevels(mdf(i386), i386 / "vmcore.elf", tmp_path_factory.mktemp("mdf-i386"))


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
def test_paging_mode_and_layout(i386: Path) -> None:
    """PAE or not as the kernel was built (VMCOREINFO says CONFIG_X86_PAE only when it is; the
    tables are what tells, and agree); the linear map at 3 GiB ends where the guest's first
    vmalloc area starts; high memory (the 1 GiB guest) is RAM past it."""
    pae = i386.parent.parent.name.endswith("-pae")
    config = next((i386.parent.parent / "kernel" / "boot").glob("config-*")).read_text()
    assert ("CONFIG_X86_PAE=y" in config) == pae
    first = min(int(ln.split("-")[0], 16) for ln in (i386 / "guest-vmallocinfo.txt").read_text().splitlines()
                if ln.startswith("0x"))
    with open_dump(i386 / "vmcore.elf") as ctx:
        assert ctx.attr["arch.name"] == "ia32" and ctx.attr["elf.class"] == 32
        assert ctx.reader.vmcoreinfo.lines.get("CONFIG_X86_PAE") == ("y" if pae else None)
        x = ctx.kernel_memory().xlat
        assert x.pae == pae and x.page_offset == 0xC0000000
        assert x.lowmem_end == first
        if pae:  # RAM above the linear map's reach (896 MiB)
            assert ctx.max_pfn * 4096 > first - 0xC0000000


@pytest.mark.parametrize(("i386", "level"), [(r, n) for r in RUNS for n in range(32)], indirect=["i386"])
def test_levels_equal_makedumpfile(level: int, i386: Path, reference: MdfLevels, tmp_path: Path) -> None:
    """Bitmap 2 and the page counts of each class equal makedumpfile:i386 1.7.2's, bit for bit,
    but for the partial page it drops (the module docstring); the zero pages too."""
    from pymakedumpfile import accel

    if accel.BACKEND == "python" and level not in SOME_LEVELS:
        pytest.skip("pure-Python twin: subset of levels")
    _, ref_stats, ref_bitmap = reference(level)
    with open_dump(i386 / "vmcore.elf") as src:
        assert src.attr["linux.uts.release"] == rig_release(i386)
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), ref_bitmap) == [PARTIAL_PFN]
        st = w.attr["filter.stats"]
        for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
            assert getattr(st, k) == ref_stats[k], (k, getattr(st, k), ref_stats[k])
        if level & 1:
            partial_zero = src.read_pfn(PARTIAL_PFN) == bytes(4096)
            assert zero_pages_written(w, tmp_path) == ref_stats["zero"] + partial_zero > 100
        if level == 31:  # excluded pages of every class, not a vacuous agreement
            assert min(st.cache, st.cache_private, st.user, st.free) > 500


@pytest.mark.parametrize(("i386", "level"), [(r, n) for r in RUNS for n in (1, 2, 4, 8, 16, 31)],
                         indirect=["i386"])
def test_levels_equal_newest_makedumpfile(level: int, i386: Path, tmp_path: Path) -> None:
    """Against sid's makedumpfile, which keeps the partial page: no difference at all."""
    out = tmp_path / "ref"
    p = subprocess.run([*mdf(i386, sid=True), "-l", "-d", str(level), "--message-level", "31",
                        str(i386 / "vmcore.elf"), str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    ref_stats, ref_bitmap = mdf_stats(p.stdout + p.stderr), bytes(open_reader(out).pagemap_full.buf)
    out.unlink()
    with open_dump(i386 / "vmcore.elf") as src:
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), ref_bitmap) == []
        for k in ("cache", "cache_private", "user", "free"):
            assert getattr(w.attr["filter.stats"], k) == ref_stats[k], k


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
def test_kdump_file_equals_makedumpfile(i386: Path, reference: MdfLevels, tmp_path: Path) -> None:
    """Our -l -d 31 file: the i386 layout of the headers (32-bit ``long``s), the notes and bitmap 1
    as makedumpfile:i386 writes them, the same pages but the partial one; and the bitmap of the file
    the crash kernel's makedumpfile wrote from /proc/vmcore itself."""
    ref_file = reference(31)[0]
    ours = tmp_path / "ours"
    run_cli("-l", "-d", "31", "--message-level", "0", str(i386 / "vmcore.elf"), str(ours))
    mine, theirs = open_reader(ours), open_reader(ref_file)
    assert mine.header == theirs.header and mine.sub == theirs.sub and mine.notes == theirs.notes
    assert mine.header.block_size == 4096 and len(ours.read_bytes()[:4096].rstrip(b"\0")) < 4096
    assert bytes(mine.memmap.buf) == bytes(theirs.memmap.buf)
    a, b = our_digests(ours), our_digests(ref_file)
    assert set(a) - set(b) == {PARTIAL_PFN} and all(a[p] == d for p, d in b.items())
    in_guest = open_reader(i386 / "capture-out" / "dumpfile-l-d31")
    assert bitmap_diff(bytes(in_guest.pagemap_full.buf), bytes(mine.pagemap_full.buf)) == [PARTIAL_PFN]


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
def test_elf_file_equals_makedumpfile(i386: Path, tmp_path: Path) -> None:
    """-E -d 31: byte for byte makedumpfile:i386's ELF32 file; high memory's segments keep the
    p_vaddr of no address (0xffffffff) that the vmcore gives them."""
    ref, ours = tmp_path / "ref", tmp_path / "ours"
    p = subprocess.run([*mdf(i386), "-E", "-d", "31", str(i386 / "vmcore.elf"), str(ref)], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    run_cli("-E", "-d", "31", "--message-level", "0", str(i386 / "vmcore.elf"), str(ours))
    assert ours.read_bytes() == ref.read_bytes()
    loads = [ph for ph in open_reader(ours).phdrs if ph.p_type == 1]
    assert open_reader(ours).bits == 32 and len(loads) > 4
    if i386.parent.parent.name.endswith("-pae"):
        high = [ph for ph in loads if ph.p_paddr >= 0x3800_0000]
        assert len(high) > 1 and {ph.p_vaddr for ph in high} == {0xFFFFFFFF}


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
def test_vtop(i386: Path, tmp_path: Path) -> None:
    """Kernel data (the linear map): makedumpfile's answer, no walk printed.  Page-backed vmalloc
    areas above 0xf8000000 (PAE): its walk, line for line.  Ioremap'ed areas: the guest's own
    physical address, where makedumpfile answers from the ELF's p_vaddr (PAE, below 0xf8000000)
    or not at all (without PAE)."""
    pae = i386.parent.parent.name.endswith("-pae")
    vmcore = i386 / "vmcore.elf"
    with open_dump(vmcore) as ctx:
        vi = ctx.reader.vmcoreinfo
        addrs = {s: vi.SYMBOL[s] + 0x18 for s in ("_stext", "init_uts_ns", "swapper_pg_dir", "prb", "mem_map")}
    high = [v for v in vmallocs(i386) if v >= 0xF8000000]
    if pae:
        assert high, "the PAE guest lists no vmalloc area above 0xf8000000"
        addrs["vmalloc"] = high[0] + 0x123
    io_va, io_pa = ioremaps(i386)[0]
    addrs["ioremap"] = io_va + 0x123
    for name, va in addrs.items():
        ref = subprocess.run([*mdf(i386), "--vtop", hex(va), "-d", "31", str(vmcore), str(tmp_path / name)],
                             capture_output=True, text=True, timeout=300)
        (tmp_path / name).unlink(missing_ok=True)  # the -d 31 dump it wrote too
        mine = vtop_block(run_cli("--vtop", hex(va), str(vmcore)).stdout)
        theirs = vtop_block(ref.stdout)
        if name == "ioremap":
            assert mine[-1].split() == [f"{va:x}", f"{io_pa + 0x123:x}"]
            assert len(mine) == (6 if pae else 5)  # the walk: PGD, PMD, PTE (PAE); PGD, PTE
            if pae:  # the linear rule past the linear map
                assert va < 0xF8000000 and theirs[-1].split() == [f"{va:x}", f"{va - 0xC0000000:x}"]
            else:
                assert theirs[-1].split() == [f"{va:x}", "ffffffffffffffff"]
                assert "not support vmalloc translation of not-PAE" in ref.stdout + ref.stderr
            continue
        assert ref.returncode == 0, ref.stdout + ref.stderr
        assert mine == theirs, name
        if name == "vmalloc":
            assert [ln.split()[0] for ln in mine[1:4]] == ["PGD", "PMD", "PTE"]
        else:
            assert len(mine) == 3 and int(mine[-1].split()[1], 16) == va - 0xC0000000


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
def test_vtop_is_the_guests(i386: Path) -> None:
    """Every ioremap'ed area of the guest translates to the physical address it listed."""
    for va, pa in ioremaps(i386)[:8]:
        out = run_cli("--vtop", hex(va + 0x123), str(i386 / "vmcore.elf")).stdout
        assert vtop_block(out)[-1].split() == [f"{va + 0x123:x}", f"{pa + 0x123:x}"], out


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
def test_dmesg_matches_makedumpfile(i386: Path, tmp_path: Path) -> None:
    """--dump-dmesg: byte for byte sid's makedumpfile's (caller ids) and 1.7.2's (without), which
    is also what the crash kernel's makedumpfile wrote; the guest's own ``dmesg``, taken before
    the panic, begins it."""
    logs = {}
    for name, sid in (("1.7.2", False), ("sid", True)):
        out = tmp_path / name
        p = subprocess.run([*mdf(i386, sid), "--dump-dmesg", str(i386 / "vmcore.elf"), str(out)],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        logs[name] = out.read_bytes()
    with open_dump(i386 / "vmcore.elf") as ctx:
        assert dump_dmesg(ctx, caller_id=False) == logs["1.7.2"] == (i386 / "capture-out" / "dmesg.txt").read_bytes()
        assert dump_dmesg(ctx) == logs["sid"] != logs["1.7.2"]
        assert strip_caller_ids(logs["sid"]) == logs["1.7.2"]
        ours = dump_dmesg(ctx, caller_id=False).decode("utf-8", "replace").splitlines()
    guest = (i386 / "guest-dmesg.txt").read_text().splitlines()
    assert len(guest) > 100 and log_begins_with(ours, guest)
    assert any("sysrq: Trigger a crash" in ln for ln in ours[len(guest) :])


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
@pytest.mark.parametrize("fmt", ["-l", "-E"])
def test_libkdumpfile_reads_our_output(fmt: str, i386: Path, tmp_path: Path) -> None:
    """Every page of our -d 31 kdump and ELF files reads back equal through libkdumpfile and
    through our reader, and equal to the vmcore's."""
    out = tmp_path / "out"
    run_cli(fmt, "-d", "31", "--message-level", "0", str(i386 / "vmcore.elf"), str(out))
    check_read_back(out, i386 / "vmcore.elf", rig_release(i386), fmt == "-E", 1000)


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
def test_qemu_dumps_read(i386: Path) -> None:
    """QEMU's own ELF and kdump-zlib files of the stopped guest: the architecture and kernel, and
    kernel data read through the page tables (the release in init_uts_ns)."""
    for name in ("qemu-elf", "qemu-kdump.zlib"):
        with open_dump(i386 / name) as ctx:
            assert ctx.attr["arch.name"] == "ia32" and ctx.attr["linux.uts.release"] == rig_release(i386)
            km = ctx.kernel_memory()
            uts = ctx.reader.vmcoreinfo.SYMBOL["init_uts_ns"]
            name_off = ctx.reader.vmcoreinfo.OFFSET.get("uts_namespace.name", 0)
            assert km.read(uts + name_off + 65 * 2, 64).split(b"\0")[0].decode() == rig_release(i386)


@pytest.mark.parametrize("i386", list(RUNS), indirect=True)
def test_info_registers_equal_libkdumpfile(i386: Path) -> None:
    """--info: each CPU's pid and its 17 registers from the 32-bit PRSTATUS note, as libkdumpfile
    reads them; the panicking CPU was in kernel text."""
    theirs = lkdf_registers(i386 / "vmcore.elf")
    info = json.loads(run_cli("--info", "--json", str(i386 / "vmcore.elf")).stdout)
    mine = info["registers"]
    assert len(mine) == len(theirs) == 2 and info["ptr_size"] == 4
    for m, t in zip(mine, theirs):
        assert m["pid"] == t["pid"] and m["regs"] == t["regs"] and len(m["regs"]) == 17
    assert any(m["regs"]["eip"] >= 0xC0000000 and m["regs"]["cs"] == 0x60 for m in mine)
    text = run_cli("--info", str(i386 / "vmcore.elf")).stdout
    assert re.search(r"\beip [0-9a-f]{8}\b", text), text
