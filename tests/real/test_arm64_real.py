"""Real arm64 dumps, read on this x86_64 host: Debian's arm64 kernels booted in
qemu-system-aarch64 by tests/rig/make-dumps.sh (arm64_rig.py over the shared arm64 rig), each
with ``-cpu max`` (pointer authentication; LPA2 and a 52-bit address space on trixie's kernel)
and ``-cpu cortex-a57`` (neither).

References:
* bookworm's kernel (6.1, 48-bit VA): Debian's arm64 makedumpfile 1.7.2, run here under
  ``qemu-aarch64-static`` from the rig's unpacked arm64 userland, and sid's (the newest release,
  1.7.8 when written), which prints the log's caller ids;
* trixie's kernel (VA_BITS 52 on 4 KiB pages), which no makedumpfile release processes: the
  guest itself.  The rig read its /proc/kpageflags, its ``dmesg`` and its /proc/vmallocinfo
  (whose ioremap lines give a vmalloc-area address with its physical address) just before
  QEMU dumped the stopped guest.
"""

from __future__ import annotations

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
    lkdf,
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

BOOKWORM = Path(str(RIG) + "-arm64")
TRIXIE = Path(str(RIG) + "-arm64-trixie")
TRIXIE_16K = Path(str(RIG) + "-arm64-trixie-16k")  # trixie's arm64-16k flavour (-cpu max only)
SUITES = {"bookworm": BOOKWORM, "trixie": TRIXIE, "trixie-16k": TRIXIE_16K}
RUNS = {"max": "mem512", "a57": "mem512-a57"}
MASK64 = (1 << 64) - 1


def run_dir(suite: Path, cpu: str) -> Path:
    d = suite / "dumps" / RUNS[cpu]
    need((d / "vmcore.elf").exists() and (d / "guest-vmallocinfo.txt").exists(),
         f"no arm64 rig run in {d} (tests/rig/make-dumps.sh makes it)")
    return d


@pytest.fixture(scope="session")
def mdf_arm64() -> list[str]:
    """Debian's arm64 makedumpfile (bookworm's 1.7.2), run under qemu-user."""
    return qemu_user_tool("aarch64", BOOKWORM / "sysroot")


@pytest.fixture(scope="session")
def mdf_arm64_sid() -> list[str]:
    """Debian sid's arm64 makedumpfile, run under qemu-user."""
    return qemu_user_tool("aarch64", BOOKWORM / "sysroot-sid")


@pytest.fixture(scope="session")
def crash_arm64() -> list[str]:
    """Debian's arm64 crash (bookworm's 8.0.2), run under qemu-user: crash is built for one
    architecture, and the x86_64 one answers "machine type mismatch" for an arm64 dump."""
    return qemu_user_tool("aarch64", BOOKWORM / "sysroot", "usr/bin/crash")


def vmcoreinfo_number(ctx, name: str) -> int:  # type: ignore[no-untyped-def]
    """NUMBER(name) of the dump's VMCOREINFO, read from its text (unsigned)."""
    return int(ctx.reader.vmcoreinfo.lines[f"NUMBER({name})"], 0) & MASK64


def guest_vmalloc(d: Path) -> tuple[list[int], list[tuple[int, int]]]:
    """From the guest's /proc/vmallocinfo: the start of each vmalloc'ed area, and (virtual,
    physical) of each ioremap'ed one."""
    areas, io = [], []
    for line in (d / "guest-vmallocinfo.txt").read_text().splitlines():
        m = re.match(r"0x([0-9a-f]+)-0x[0-9a-f]+\s+\d+ .*?(?:phys=0x([0-9a-f]+) )?(vmalloc|ioremap)\b", line)
        if m and m[3] == "vmalloc":
            areas.append(int(m[1], 16))
        elif m and m[2]:
            io.append((int(m[1], 16), int(m[2], 16)))
    assert areas and io, f"{d}/guest-vmallocinfo.txt lists no vmalloc or ioremap area with an address"
    return areas, io


# ---- bookworm's kernel against makedumpfile:arm64 ----
@pytest.fixture(scope="module", params=["max", "a57"])
def bookworm(request: pytest.FixtureRequest) -> Path:
    return run_dir(BOOKWORM, request.param)


@pytest.fixture(scope="module")
def reference(bookworm: Path, mdf_arm64: list[str], tmp_path_factory: pytest.TempPathFactory) -> MdfLevels:
    """makedumpfile:arm64 -l -d LEVEL --message-level 31 of the vmcore, made once a level."""
    return MdfLevels(mdf_arm64, bookworm / "vmcore.elf", tmp_path_factory.mktemp("mdf-arm64"))


@pytest.mark.parametrize("level", range(32))
def test_levels_equal_makedumpfile(level: int, bookworm: Path, reference: MdfLevels, tmp_path: Path) -> None:
    """Bitmap 2, the page counts of each class and the zero pages equal makedumpfile:arm64's,
    bit for bit (the arm64 vmcore has no partial page: no exception)."""
    from pymakedumpfile import accel

    if accel.BACKEND == "python" and level not in (0, 1, 2, 4, 8, 16, 31):
        pytest.skip("pure-Python twin: subset of levels")
    _, ref_stats, ref_bitmap = reference(level)
    with open_dump(bookworm / "vmcore.elf") as src:
        assert src.attr["linux.uts.release"] == rig_release(bookworm)
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), ref_bitmap) == []
        st = w.attr["filter.stats"]
        for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
            assert getattr(st, k) == ref_stats[k], (k, getattr(st, k), ref_stats[k])
        if level & 1:
            assert zero_pages_written(w, tmp_path) == ref_stats["zero"] > 100
        if level == 31:  # excluded pages of every class, not a vacuous agreement
            assert min(st.cache, st.user, st.free) > 1000


@pytest.mark.parametrize("level", [0, 1, 2, 4, 8, 16, 31])
def test_levels_equal_newest_makedumpfile(level: int, bookworm: Path, mdf_arm64_sid: list[str], tmp_path: Path) -> None:
    """The same against sid's makedumpfile, at each level bit alone and 31."""
    out = tmp_path / "ref"
    p = subprocess.run([*mdf_arm64_sid, "-l", "-d", str(level), "--message-level", "31", str(bookworm / "vmcore.elf"),
                        str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    ref_stats, ref_bitmap = mdf_stats(p.stdout + p.stderr), bytes(open_reader(out).pagemap_full.buf)
    out.unlink()  # as large as the dump at low levels
    with open_dump(bookworm / "vmcore.elf") as src:
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), ref_bitmap) == []
        for k in ("cache", "cache_private", "user", "free"):
            assert getattr(w.attr["filter.stats"], k) == ref_stats[k], k


def test_kdump_file_equals_makedumpfile(bookworm: Path, reference: MdfLevels, tmp_path: Path) -> None:
    """Our -l -d 31 file: the same headers and the same pages as makedumpfile:arm64's (the
    compressed bytes differ: another LZO compressor)."""
    ref_file = reference(31)[0]
    out = tmp_path / "ours"
    run_cli("-l", "-d", "31", "--message-level", "0", str(bookworm / "vmcore.elf"), str(out))
    mine, theirs = open_reader(out), open_reader(ref_file)
    assert mine.header == theirs.header and mine.sub == theirs.sub  # phys_base included
    assert mine.vmcoreinfo.raw == theirs.vmcoreinfo.raw
    assert our_digests(out) == our_digests(ref_file)


def test_vtop_matches_makedumpfile(bookworm: Path, mdf_arm64: list[str], tmp_path: Path) -> None:
    """Kernel text and data, the linear map, vmemmap and vmalloc addresses."""
    vmcore = bookworm / "vmcore.elf"
    with open_dump(vmcore) as ctx:
        vi = ctx.reader.vmcoreinfo
        addrs = {s: vi.SYMBOL[s] for s in ("_stext", "init_uts_ns", "swapper_pg_dir", "prb", "mem_section")}
        # the struct page of a pfn of RAM: vmemmap is VMEMMAP_START less PHYS_OFFSET's pages
        # (PHYS_OFFSET is signed: negative when the linear map is randomized)
        first = min(a for a, _ in ctx.attr["memory.pagemap"].runs())
        po = vmcoreinfo_number(ctx, "PHYS_OFFSET")
        po -= (po >> 63) << 64
        vmemmap = int(vi.lines["NUMBER(VMEMMAP_START)"], 0) - (po >> 12) * vi.SIZE["page"]
        addrs["vmemmap"] = (vmemmap + (first + 5) * vi.SIZE["page"] + 8) & MASK64
    addrs["vmalloc"] = guest_vmalloc(bookworm)[0][0] + 0x18
    for name, va in addrs.items():
        ref = subprocess.run([*mdf_arm64, "--vtop", hex(va), "-d", "31", str(vmcore), str(tmp_path / name)],
                             capture_output=True, text=True, timeout=300)
        (tmp_path / name).unlink(missing_ok=True)  # the -d 31 dump it wrote too
        assert ref.returncode == 0, ref.stdout + ref.stderr
        assert vtop_block(run_cli("--vtop", hex(va), str(vmcore)).stdout) == vtop_block(ref.stdout), name


def test_dmesg_matches_makedumpfile(bookworm: Path, mdf_arm64: list[str], mdf_arm64_sid: list[str],
                                   tmp_path: Path) -> None:
    """--dump-dmesg: byte for byte sid's makedumpfile's (caller ids, our default), and 1.7.2's
    without caller ids (--no-caller-id)."""
    logs = {}
    for name, exe in (("1.7.2", mdf_arm64), ("sid", mdf_arm64_sid)):
        out = tmp_path / name
        p = subprocess.run([*exe, "--dump-dmesg", str(bookworm / "vmcore.elf"), str(out)],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        logs[name] = out.read_bytes()
    with open_dump(bookworm / "vmcore.elf") as ctx:
        assert dump_dmesg(ctx, caller_id=False) == logs["1.7.2"]
        assert dump_dmesg(ctx) == logs["sid"] != logs["1.7.2"]
        assert strip_caller_ids(logs["sid"]) == logs["1.7.2"]


@pytest.mark.parametrize("fmt", ["-l", "-E"])
def test_libkdumpfile_reads_our_output(fmt: str, bookworm: Path, crash_arm64: list[str], tmp_path: Path) -> None:
    """Every page of our -d 31 kdump and ELF files reads back equal through libkdumpfile, and
    equal to the vmcore's; arm64 crash accepts the file (``--osrelease``)."""
    out = tmp_path / "out"
    run_cli(fmt, "-d", "31", "--message-level", "0", str(bookworm / "vmcore.elf"), str(out))
    p = subprocess.run([*crash_arm64, "--osrelease", str(out)], capture_output=True, text=True, timeout=300)
    assert (p.returncode, p.stdout.strip()) == (0, rig_release(bookworm)), p.stderr
    check_read_back(out, bookworm / "vmcore.elf", rig_release(bookworm), fmt == "-E", 10000)


# ---- every run, bookworm and trixie ----
ALL_RUNS = [("bookworm", "max"), ("bookworm", "a57"), ("trixie", "max"), ("trixie", "a57"), ("trixie-16k", "max")]


@pytest.fixture(scope="module", params=ALL_RUNS, ids=lambda p: f"{p[0]}-{p[1]}")
def anyrun(request: pytest.FixtureRequest) -> Path:
    suite, cpu = request.param
    return run_dir(SUITES[suite], cpu)


def test_qemu_kdump_64k_blocks(anyrun: Path) -> None:
    """QEMU's aarch64 kdump-zlib file counts 64 KiB blocks whatever the kernel's page size; we
    read it in the kernel's pages (4 or 16 KiB), page for page equal to QEMU's ELF file of the
    same stopped guest."""
    q = anyrun / "qemu-kdump.zlib"
    with open_dump(q) as ctx, open_dump(anyrun / "vmcore.elf") as vmcore:
        assert ctx.reader.block_size == 65536 and ctx.page_size == vmcore.reader.vmcoreinfo.page_size < 65536
        pages = (512 << 20) // ctx.page_size  # the guest's RAM
    mine, elf = our_digests(q), our_digests(anyrun / "qemu-elf")
    assert len(mine) == pages and mine == elf


def test_dmesg_is_the_guests(anyrun: Path) -> None:
    """The log we read from the vmcore begins with the guest's own ``dmesg`` taken before the
    panic, line for line (the vmcore's log goes on with the panic)."""
    guest = (anyrun / "guest-dmesg.txt").read_text().splitlines()
    with open_dump(anyrun / "vmcore.elf") as ctx:
        ours = dump_dmesg(ctx, caller_id=False).decode("utf-8", "replace").splitlines()
    assert len(guest) > 100
    assert log_begins_with(ours, guest)
    assert any("sysrq: Trigger a crash" in ln for ln in ours[len(guest) :])


def test_vtop_is_the_guests(anyrun: Path) -> None:
    """--vtop against rules the test computes itself: a kernel-image symbol is at ``va -
    kimage_voffset``; a linear-map address (``mem_section``) at ``va - PAGE_OFFSET +
    PHYS_OFFSET`` with ``PAGE_OFFSET = -(1 << VA_BITS)``; an ioremap'ed vmalloc address at the
    physical address the guest's /proc/vmallocinfo gave (a page-table walk of its own)."""
    vmcore = anyrun / "vmcore.elf"
    with open_dump(vmcore) as ctx:
        vi = ctx.reader.vmcoreinfo
        want = {vi.SYMBOL["init_uts_ns"]: vi.SYMBOL["init_uts_ns"] - vmcoreinfo_number(ctx, "kimage_voffset"),
                vi.SYMBOL["mem_section"]: (vi.SYMBOL["mem_section"] + (1 << vi.NUMBER["VA_BITS"])
                                           + vmcoreinfo_number(ctx, "PHYS_OFFSET")) & MASK64}
    for va, pa in guest_vmalloc(anyrun)[1][:4]:
        want[va + 0x123] = pa + 0x123
    for va, pa in want.items():
        out = run_cli("--vtop", hex(va), str(vmcore)).stdout
        assert vtop_block(out)[-1].split() == [f"{va:x}", f"{pa:x}"], out


# ---- trixie's kernels: VA_BITS 52, which makedumpfile refuses ----
@pytest.mark.parametrize(("suite", "cpu"), ALL_RUNS[2:], ids=lambda p: str(p))
def test_trixie_52bit_dump_where_makedumpfile_fails(suite: str, cpu: str, mdf_arm64: list[str],
                                                    mdf_arm64_sid: list[str], tmp_path: Path) -> None:
    """makedumpfile:arm64, 1.7.2 and sid's, stops on the 52-bit kernels; we write their dump
    with kdump-tools' default options (``-c -d 31``), readable (kernel release, log) by
    ourselves and libkdumpfile."""
    d = run_dir(SUITES[suite], cpu)
    with open_dump(d / "vmcore.elf") as ctx:
        vi = ctx.reader.vmcoreinfo
        ps = 16384 if suite.endswith("16k") else 4096
        assert vi.NUMBER["VA_BITS"] == 52 and vi.page_size == ps
        assert 64 - vi.NUMBER["TCR_EL1_T1SZ"] == (52 if cpu == "max" else 48)
    for exe in (mdf_arm64, mdf_arm64_sid):
        p = subprocess.run([*exe, "-c", "-d", "31", str(d / "vmcore.elf"), str(tmp_path / "theirs")],
                           capture_output=True, text=True, timeout=300)
        said = p.stdout + p.stderr
        assert p.returncode != 0 and f"PAGE SIZE {ps:#x} and VA Bits 52 not supported" in said, said
    out = tmp_path / "ours"
    run_cli("-c", "-d", "31", "--message-level", "0", str(d / "vmcore.elf"), str(out))
    with open_dump(out) as ctx:
        assert ctx.attr["linux.uts.release"] == rig_release(d)
        assert ctx.pagemap.count() < open_dump(d / "vmcore.elf").pagemap.count() // 2
        assert b"Starting crashdump kernel" in dump_dmesg(ctx)
    assert lkdf(out)["release"] == rig_release(d)


def test_info_registers_equal_libkdumpfile(anyrun: Path, libkdumpfile: str) -> None:
    """--info: every CPU's pid, x0-x30, sp, pc and pstate from its PRSTATUS note, as
    libkdumpfile reads them (it calls x30 lr); the crashing CPU's pc is kernel text."""
    import json

    theirs = lkdf_registers(anyrun / "vmcore.elf")
    mine = json.loads(run_cli("--info", "--json", str(anyrun / "vmcore.elf")).stdout)["registers"]
    assert len(mine) == len(theirs) == 2
    for m, t in zip(mine, theirs):
        t["regs"]["x30"] = t["regs"].pop("lr")
        assert (m["pid"], m["regs"]) == (t["pid"], t["regs"])
    with open_dump(anyrun / "vmcore.elf") as ctx:
        stext = ctx.reader.vmcoreinfo.SYMBOL["_stext"]
    crashing = [c for c in mine if stext <= c["regs"]["pc"] < stext + (64 << 20)]
    assert crashing and all(c["lr"] >> 48 == 0xFFFF for c in crashing)  # the return address, a kernel one


def test_mem_usage_of_an_arm64_kcore(mdf_arm64: list[str], tmp_path: Path) -> None:
    """--mem-usage of an arm64 /proc/kcore: a file laid out as the arm64 kernel's kcore (the
    linear map and the kernel image as PT_LOADs with their physical addresses, a vmalloc one
    without), made of the real vmcore's memory.  Each count equals makedumpfile:arm64's page
    statistics at -d 31 for the vmcore (its --mem-usage runs only on a live machine that
    reserved crash kernel memory); the image's PT_LOAD, aliasing RAM, counts once."""
    from gen import build_elf

    from pymakedumpfile.tools.memusage import mem_usage

    d = run_dir(BOOKWORM, "max")
    with open_dump(d / "vmcore.elf") as ctx:
        loads, notes = ctx.attr["elf.loads"], ctx.reader.notes
        segs: list[tuple[int, int, bytes]] = [(MASK64, 0xFFFF_8000_0800_0000, b"\xa5" * 65536)]  # vmalloc: no paddr
        segs += [(pa, va, ctx.read_phys(pa, size)) for pa, va, size in loads]
    assert any(va >> 47 & 1 for _, va, _ in loads) and len(loads) >= 2  # the image, then the linear map
    kcore = tmp_path / "kcore"
    build_elf(kcore, segs, machine=183, notes=notes)
    u = mem_usage(str(kcore), exclude=[])
    p = subprocess.run([*mdf_arm64, "-l", "-d", "31", "--message-level", "31", str(d / "vmcore.elf"),
                        str(tmp_path / "ref")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    ref = mdf_stats(p.stdout + p.stderr)
    assert (u.zero, u.non_pri_cache, u.pri_cache, u.user, u.free) == (
        ref["zero"], ref["cache"], ref["cache_private"], ref["user"], ref["free"])
    assert u.total_pages == (512 - 192) << 8 and u.counted_twice == next(s for pa, va, s in loads if va >> 47 & 1) >> 12
