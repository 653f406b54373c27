"""Real s390x dumps, read on this little-endian x86_64 host: Debian bookworm's s390x kernel
booted in qemu-system-s390x by tests/rig/make-dumps.sh (tests/rig/qemu_rig.py), with 512 MiB and
1 GiB of memory, and dumped by QEMU (``dump-guest-memory``, ELF and kdump-zlib) while stopped.
Bookworm's s390x kernel has no ``CONFIG_CRASH_DUMP``, so there is no kexec capture: QEMU's files
are the real dumps (docs/s390x.md).

Everything in them is big-endian: ELF and kdump headers, notes, page tables, struct pages.

The reference is Debian's s390x makedumpfile (bookworm's 1.7.2 and sid's), run here under
``qemu-s390x-static``.  It cannot open QEMU's s390x ELF file as QEMU 7.2 writes it (one of its
section headers is little-endian; makedumpfile stops at "Can't get the number of PT_LOAD",
libkdumpfile at its string table), and the file has no VMCOREINFO note (the kernel keeps the
note's address in its lowcore, which is how we find it).  So makedumpfile reads a copy made here
by :func:`elf_for_makedumpfile`, with code of this test's own: QEMU's PT_LOADs and notes, no
section headers, and the VMCOREINFO note taken from the address the guest itself printed
(``/sys/kernel/vmcoreinfo``, saved by the rig).  We read QEMU's files as they are.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_dmesg_real import strip_caller_ids
from test_levels_real import MdfLevels, bitmap_diff, mdf_stats
from test_vtop_real import vtop_block
from util import (
    RIG,
    check_read_back,
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

S390X = Path(str(RIG) + "-s390x")
RUNS = ["mem512", "mem1024"]


def run_dir(name: str) -> Path:
    d = S390X / "dumps" / name
    need((d / "qemu-elf").exists() and (d / "guest-vmcoreinfo.txt").exists(),
         f"no s390x rig run in {d} (tests/rig/make-dumps.sh makes it)")
    return d


def elf_for_makedumpfile(src: Path, dst: Path, vmcoreinfo: Path) -> None:
    """A big-endian ELF64 core that makedumpfile reads: ``src``'s PT_LOADs and notes, no section
    headers, and the guest's VMCOREINFO note appended to the notes.  ``vmcoreinfo`` is what the
    guest printed from /sys/kernel/vmcoreinfo: the note's physical address and its size, both
    in hex."""
    addr, size = (int(x, 16) for x in vmcoreinfo.read_text().split())
    ph_fmt = ">IIQQQQQQ"  # p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align
    with open(src, "rb") as f:
        eh = f.read(64)
        assert eh[:6] == b"\x7fELF\x02\x02", "not a big-endian ELF64 file"
        phoff = struct.unpack_from(">Q", eh, 32)[0]
        phentsize, phnum = struct.unpack_from(">HH", eh, 54)
        f.seek(phoff)
        phs = [struct.unpack(ph_fmt, f.read(phentsize)[:56]) for _ in range(phnum)]
        notes = b""
        for p in phs:
            if p[0] == 4:
                f.seek(p[2])
                notes += f.read(p[5])
        loads = [p for p in phs if p[0] == 1]
        seg = next(p for p in loads if p[4] <= addr < p[4] + p[5])
        f.seek(seg[2] + addr - seg[4])
        note = f.read(size)
    namesz, descsz = struct.unpack_from(">II", note)
    assert note[12 : 12 + namesz] == b"VMCOREINFO\0", "no VMCOREINFO note where the guest said"
    notes += note[: 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4]
    n = 1 + len(loads)
    off = 64 + 56 * n
    data = -(-(off + len(notes)) // 4096) * 4096
    # e_type CORE, e_machine S390 (22), e_version, entry, phoff, shoff, flags, ehsize, phentsize, phnum
    hdr = eh[:16] + struct.pack(">HHIQQQIHHHHHH", 4, 22, 1, 0, 64, 0, 0, 64, 56, n, 0, 0, 0)
    hdr += struct.pack(ph_fmt, 4, 0, off, 0, 0, len(notes), len(notes), 0)
    pos = data
    for p in loads:
        hdr += struct.pack(ph_fmt, 1, p[1], pos, p[3], p[4], p[5], p[6], 0)
        pos += p[5]
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        fo.write(hdr + notes)
        fo.seek(data)
        for p in loads:
            fi.seek(p[2])
            left = p[5]
            while left:
                chunk = fi.read(min(left, 8 << 20))
                assert chunk, "QEMU's file ends inside a PT_LOAD"
                fo.write(chunk)
                left -= len(chunk)


@pytest.fixture(scope="session")
def mdf_s390x() -> list[str]:
    """Debian's s390x makedumpfile (bookworm's 1.7.2), run under qemu-user."""
    return qemu_user_tool("s390x", S390X / "sysroot")


@pytest.fixture(scope="session")
def mdf_s390x_sid() -> list[str]:
    return qemu_user_tool("s390x", S390X / "sysroot-sid")


@pytest.fixture(scope="module", params=RUNS)
def s390x(request: pytest.FixtureRequest) -> Path:
    return run_dir(request.param)


@pytest.fixture(scope="module")
def mdf_input(s390x: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """QEMU's ELF file as makedumpfile reads it (the module docstring says why); removed after
    the run's tests (it is as large as the guest's memory)."""
    out = tmp_path_factory.mktemp("s390x-elf") / "vmcore"
    elf_for_makedumpfile(s390x / "qemu-elf", out, s390x / "guest-vmcoreinfo.txt")
    yield out
    out.unlink()


@pytest.fixture(scope="module")
def reference(mdf_input: Path, mdf_s390x: list[str], tmp_path_factory: pytest.TempPathFactory) -> MdfLevels:
    """makedumpfile:s390x -l -d LEVEL --message-level 31 of the vmcore, made once a level."""
    return MdfLevels(mdf_s390x, mdf_input, tmp_path_factory.mktemp("mdf-s390x"))


def test_vmcoreinfo_found_in_memory(s390x: Path) -> None:
    """QEMU's files have no VMCOREINFO note; we find the kernel's through its lowcore pointer,
    at the address the guest itself printed, in the ELF and in the kdump-zlib file."""
    addr, size = (int(x, 16) for x in (s390x / "guest-vmcoreinfo.txt").read_text().split())
    for name in ("qemu-elf", "qemu-kdump.zlib"):
        with open_dump(s390x / name) as ctx:
            assert ctx.reader.notes and b"VMCOREINFO" not in ctx.reader.notes
            raw = ctx.reader.vmcoreinfo.raw
            assert raw and raw in ctx.read_phys(addr, size)
            assert ctx.attr["arch.name"] == "s390x" and ctx.attr["linux.uts.release"] == rig_release(s390x)


SOME_LEVELS = (0, 1, 2, 4, 8, 16, 31)


@pytest.mark.parametrize(("s390x", "level"), [("mem512", n) for n in range(32)] + [("mem1024", n) for n in SOME_LEVELS],
                         indirect=["s390x"])
def test_levels_equal_makedumpfile(level: int, s390x: Path, reference: MdfLevels, tmp_path: Path) -> None:
    """Bitmap 2, the page counts of each class and the zero pages equal makedumpfile:s390x's,
    bit for bit: a big-endian mem_map and big-endian page tables, classified on this
    little-endian host (in C, and in the pure-Python twin).  Every level on the 512 MiB guest,
    each level bit alone and 31 on the 1 GiB one."""
    from pymakedumpfile import accel

    if accel.BACKEND == "python" and (level not in SOME_LEVELS or s390x.name != "mem512"):
        pytest.skip("pure-Python twin: a subset of levels on one guest")
    _, ref_stats, ref_bitmap = reference(level)
    with open_dump(s390x / "qemu-elf") as src:
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), ref_bitmap) == []
        st = w.attr["filter.stats"]
        for k in ("cache", "cache_private", "user", "free", "hwpoison", "offline"):
            assert getattr(st, k) == ref_stats[k], (k, getattr(st, k), ref_stats[k])
        if level & 1:
            assert zero_pages_written(w, tmp_path) == ref_stats["zero"] > 100
        if level == 31:  # excluded pages of every class, not a vacuous agreement
            assert min(st.cache, st.user, st.free) > 1000


@pytest.mark.parametrize("level", [0, 2, 4, 8, 16, 31])
def test_levels_equal_newest_makedumpfile(level: int, s390x: Path, mdf_input: Path, mdf_s390x_sid: list[str],
                                          tmp_path: Path) -> None:
    """The same against sid's makedumpfile."""
    out = tmp_path / "ref"
    p = subprocess.run([*mdf_s390x_sid, "-l", "-d", str(level), "--message-level", "31", str(mdf_input), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    ref_stats, ref_bitmap = mdf_stats(p.stdout + p.stderr), bytes(open_reader(out).pagemap_full.buf)
    out.unlink()  # as large as the dump at low levels
    with open_dump(s390x / "qemu-elf") as src:
        w = make_write_context(src, format="kdump", compression="none", dump_level=level)
        assert bitmap_diff(w.pagemap.to_bytes(0, w.max_pfn), ref_bitmap) == []
        for k in ("cache", "cache_private", "user", "free"):
            assert getattr(w.attr["filter.stats"], k) == ref_stats[k], k


@pytest.mark.parametrize(("s390x", "opts"), [("mem512", "-l -d 31"), ("mem512", "-c -d 31"), ("mem512", "-d 0"),
                                             ("mem1024", "-l -d 31")], indirect=["s390x"])
def test_kdump_file_equals_makedumpfile(opts: str, s390x: Path, mdf_input: Path, mdf_s390x: list[str],
                                        tmp_path: Path) -> None:
    """Our kdump file of QEMU's ELF, with makedumpfile's options: its headers (disk_dump_header,
    kdump_sub_header, the notes with VMCOREINFO, all big-endian) are makedumpfile:s390x's byte for
    byte, and so are its bitmaps; its pages are the same (the compressed bytes may differ)."""
    opts = opts.split()  # type: ignore[assignment]
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    p = subprocess.run([*mdf_s390x, *opts, "--message-level", "0", str(mdf_input), str(theirs)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    run_cli(*opts, "--message-level", "0", str(s390x / "qemu-elf"), str(ours))
    mine, ref = open_reader(ours), open_reader(theirs)
    assert mine.endian == ref.endian == ">"
    assert mine.header == ref.header and mine.sub == ref.sub and mine.notes == ref.notes
    bitmaps_end = (1 + mine.header.sub_hdr_size + mine.header.bitmap_blocks) * 4096
    assert ours.read_bytes()[:bitmaps_end] == theirs.read_bytes()[:bitmaps_end]
    assert our_digests(ours) == our_digests(theirs)
    ours.unlink()
    theirs.unlink()


@pytest.mark.parametrize("s390x", ["mem512"], indirect=True)
def test_qemu_kdump_file_equals_its_elf(s390x: Path, tmp_path: Path) -> None:
    """QEMU's kdump-zlib file of the same stopped guest (flattened, utsname machine ``S390X``,
    no VMCOREINFO): page for page QEMU's ELF file, and our -l -d 31 of it equals that of the ELF."""
    assert our_digests(s390x / "qemu-kdump.zlib") == our_digests(s390x / "qemu-elf")
    for name in ("qemu-elf", "qemu-kdump.zlib"):
        run_cli("-l", "-d", "31", "--message-level", "0", str(s390x / name), str(tmp_path / name))
    a, b = open_reader(tmp_path / "qemu-elf"), open_reader(tmp_path / "qemu-kdump.zlib")
    assert (a.header, a.sub, a.notes) == (b.header, b.sub, b.notes)
    assert bytes(a.pagemap_full.buf) == bytes(b.pagemap_full.buf)


@pytest.mark.parametrize("s390x", ["mem512"], indirect=True)
def test_vtop_matches_makedumpfile(s390x: Path, mdf_input: Path, mdf_s390x: list[str], tmp_path: Path) -> None:
    """Kernel text and data (1:1 below the kernel's end), a struct page in vmemmap and a
    vmalloc'ed address (both through the page tables)."""
    with open_dump(s390x / "qemu-elf") as ctx:
        vi = ctx.reader.vmcoreinfo
        addrs = {s: vi.SYMBOL[s] for s in ("_stext", "init_uts_ns", "swapper_pg_dir", "prb", "mem_section")}
    vmalloc = [ln.split("-")[0] for ln in (s390x / "guest-vmallocinfo.txt").read_text().splitlines()
               if ln.endswith(" vmalloc")]
    assert vmalloc
    addrs["vmalloc"] = int(vmalloc[0], 16) + 0x18
    # a struct page in vmemmap: makedumpfile prints mem_map[0]'s address at message level 31
    p = subprocess.run([*mdf_s390x, "-l", "-d", "31", "--message-level", "31", str(mdf_input), str(tmp_path / "mm")],
                       capture_output=True, text=True, timeout=300)
    m = re.search(r"mem_map\[\s*0\]\s+([0-9a-f]+)", p.stdout + p.stderr)
    assert m, p.stdout + p.stderr
    addrs["vmemmap"] = int(m[1], 16) + 5 * 64 + 8
    for name, va in addrs.items():
        ref = subprocess.run([*mdf_s390x, "--vtop", hex(va), "-d", "31", str(mdf_input), str(tmp_path / name)],
                             capture_output=True, text=True, timeout=300)
        (tmp_path / name).unlink(missing_ok=True)  # the -d 31 dump it wrote too
        assert ref.returncode == 0, ref.stdout + ref.stderr
        assert vtop_block(run_cli("--vtop", hex(va), str(s390x / "qemu-elf")).stdout) == vtop_block(ref.stdout), name


@pytest.mark.parametrize("s390x", ["mem512"], indirect=True)
def test_dmesg_matches_makedumpfile(s390x: Path, mdf_input: Path, mdf_s390x: list[str], mdf_s390x_sid: list[str],
                                   tmp_path: Path) -> None:
    """--dump-dmesg: byte for byte sid's makedumpfile's (caller ids) and 1.7.2's (without), and
    the guest's own ``dmesg`` taken before the dump, line for line."""
    logs = {}
    for name, exe in (("1.7.2", mdf_s390x), ("sid", mdf_s390x_sid)):
        out = tmp_path / name
        p = subprocess.run([*exe, "--dump-dmesg", str(mdf_input), str(out)], capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        logs[name] = out.read_bytes()
    with open_dump(s390x / "qemu-elf") as ctx:
        assert dump_dmesg(ctx, caller_id=False) == logs["1.7.2"]
        assert dump_dmesg(ctx) == logs["sid"] != logs["1.7.2"]
        assert strip_caller_ids(logs["sid"]) == logs["1.7.2"]
        ours = dump_dmesg(ctx, caller_id=False).decode("utf-8", "replace").splitlines()
    guest = (s390x / "guest-dmesg.txt").read_text().splitlines()
    assert len(guest) > 100 and log_begins_with(ours, guest)


@pytest.mark.parametrize("s390x", ["mem512"], indirect=True)
@pytest.mark.parametrize("fmt", ["-l", "-c", "-E"])
def test_libkdumpfile_reads_our_output(fmt: str, s390x: Path, tmp_path: Path) -> None:
    """Every page of our -d 31 kdump and ELF files reads back equal through libkdumpfile (which
    translates s390x) and through our reader, and equal to QEMU's dump."""
    out = tmp_path / "out"
    run_cli(fmt, "-d", "31", "--message-level", "0", str(s390x / "qemu-elf"), str(out))
    check_read_back(out, s390x / "qemu-elf", rig_release(s390x), fmt == "-E", 10000)


@pytest.mark.parametrize("s390x", ["mem512"], indirect=True)
def test_info_registers_equal_libkdumpfile(s390x: Path, mdf_input: Path, libkdumpfile: str) -> None:
    """--info of QEMU's file: each CPU's pid, PSW and r0-r15 from its PRSTATUS note, big-endian,
    as libkdumpfile reads them from the same notes (it calls the PSW halves pswm and pswa; it
    cannot open QEMU's file itself).  QEMU 7.2 writes pr_pid in the host's byte order: the pid
    of CPU n reads as (n + 1) << 24 through both."""
    theirs = lkdf_registers(mdf_input)
    mine = json.loads(run_cli("--info", "--json", str(s390x / "qemu-elf")).stdout)["registers"]
    assert len(mine) == len(theirs) == 2
    for i, (m, t) in enumerate(zip(mine, theirs)):
        t["regs"]["psw_mask"], t["regs"]["psw_addr"] = t["regs"].pop("pswm"), t["regs"].pop("pswa")
        assert m["pid"] == t["pid"] == (i + 1) << 24
        assert m["regs"] == {k: v for k, v in t["regs"].items() if k in m["regs"]} and len(m["regs"]) == 18
