"""Memory images: LiME, AVML, raw FILE@ADDRESS and Xen xc_core domain dumps.

The files are written by tests/gen (its own declarations of the formats); the memory inside is
a small synthetic x86_64 kernel whose VMCOREINFO note sits in a page of RAM, as a live kernel
keeps it, so that the readers find the kernel without -i.  libkdumpfile, which reads xc_core
files, is the second reader of those.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from gen import make_note, vmcoreinfo_text
from gen.lime import build_lime
from gen.x86_64 import x86_64_kernel
from gen.xen import build_xc_core

from pymakedumpfile import open_dump
from pymakedumpfile.core.errors import CorruptDumpError, DumpError, PageExcludedError, UnsupportedDumpError
from tests.needs import need_libkdumpfile

PS = 4096
NPAGES = 64
NOTE_PFN = 9  # the page holding the VMCOREINFO note
RELEASE = "6.1.0-image"


def machine(with_note: bool = True) -> tuple[bytearray, bytes]:
    """64 pages of memory: the synthetic kernel's pages (pfn 1-3), the VMCOREINFO note, text,
    random and zero pages; and the VMCOREINFO text."""
    k = x86_64_kernel(first_pfn=1, release=RELEASE)
    vi = vmcoreinfo_text(k.vmcoreinfo)
    mem = bytearray(NPAGES * PS)
    rnd = random.Random(7)
    for pfn in range(NPAGES):
        if pfn % 5 == 0:
            mem[pfn * PS : (pfn + 1) * PS] = rnd.randbytes(PS)
        elif pfn % 5 != 3:
            mem[pfn * PS : (pfn + 1) * PS] = (b"page %d " % pfn * PS)[:PS]
    for pfn in range(32, 48):  # a run of zero pages (AVML leaves out a block of zeros)
        mem[pfn * PS : (pfn + 1) * PS] = bytes(PS)
    for pfn, page in k.pages.items():
        mem[pfn * PS : (pfn + 1) * PS] = page.data
    if with_note:
        note = make_note(b"VMCOREINFO", 0, vi)
        mem[NOTE_PFN * PS + 100 : NOTE_PFN * PS + 100 + len(note)] = note
        mem[NOTE_PFN * PS + 100 + len(note) : (NOTE_PFN + 1) * PS] = bytes(PS - 100 - len(note))
    return mem, vi


def check_pages(path: Path | str | list[str], mem: bytes, held: set[int], **kw: object) -> None:
    with open_dump(path, **kw) as ctx:  # type: ignore[arg-type]
        assert {p for p in range(ctx.max_pfn) if ctx.pagemap.test(p)} == held
        for pfn in range(NPAGES + 2):
            if pfn in held:
                assert ctx.read_pfn(pfn) == bytes(mem[pfn * PS : (pfn + 1) * PS]), pfn
            else:
                with pytest.raises(PageExcludedError):
                    ctx.read_pfn(pfn)


def pfns_of(ranges: list[tuple[int, int]]) -> set[int]:
    return {p for a, b in ranges for p in range(a // PS, -(-b // PS))}


@pytest.mark.parametrize("avml", [False, True])
def test_lime_finds_the_kernel_in_memory(avml: bool, tmp_path: Path) -> None:
    mem, _ = machine()
    # two ranges, the second ending 100 bytes before a page boundary (the page's tail reads as 0)
    ranges = [(0, bytes(mem[: 20 * PS])), (24 * PS, bytes(mem[24 * PS : NPAGES * PS - 100]))]
    path = tmp_path / "mem.lime"
    written = build_lime(path, ranges, avml=avml, block=8 * PS)
    mem[NPAGES * PS - 100 :] = bytes(100)
    held = pfns_of(written)
    if avml:
        assert not held & set(range(32, 48)), "AVML keeps no block of zeros"
    check_pages(path, mem, held)
    with open_dump(path) as ctx:
        a = ctx.attr
        assert a["file.format"] == "lime"
        assert a["file.description"].startswith("AVML" if avml else "LiME")
        assert (a["arch.name"], a["linux.uts.release"], a["linux.uts.machine"]) == ("x86_64", RELEASE, "x86_64")
        assert a["linux.vmcoreinfo.lines.OSRELEASE"] == RELEASE
        assert ctx.read_virt(a["linux.vmcoreinfo.SYMBOL.init_uts_ns"] + 4, 5) == b"Linux"


def test_lime_big_endian_header(tmp_path: Path) -> None:
    mem, _ = machine(with_note=False)
    build_lime(tmp_path / "be", [(0, bytes(mem))], endian=">")
    with open_dump(tmp_path / "be") as ctx:
        assert ctx.attr["file.format"] == "lime" and ctx.attr["arch.byte_order"] == "big"
        assert ctx.read_pfn(5) == bytes(mem[5 * PS : 6 * PS])


def test_image_without_vmcoreinfo_takes_dash_i(tmp_path: Path) -> None:
    """No note in memory (a kernel without crash support): the image opens as memory only; -i
    gives the kernel, and the architecture is then found from init_uts_ns."""
    mem, vi = machine(with_note=False)
    build_lime(tmp_path / "m", [(0, bytes(mem))])
    with open_dump(tmp_path / "m") as ctx:
        assert ctx.attr.get("arch.name") is None and not ctx.attr.get("linux.uts.release")
        assert ctx.read_pfn(7) == bytes(mem[7 * PS : 8 * PS])
    with open_dump(tmp_path / "m", vmcoreinfo=vi) as ctx:
        assert (ctx.attr["arch.name"], ctx.attr["linux.uts.release"]) == ("x86_64", RELEASE)
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--info", str(tmp_path / "m")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "LiME image (lime)" in r.stdout, r.stderr


def test_raw_images_at_addresses(tmp_path: Path) -> None:
    mem, _ = machine()
    (tmp_path / "lo").write_bytes(bytes(mem[: 16 * PS]))
    (tmp_path / "hi").write_bytes(bytes(mem[40 * PS :]))
    specs = [f"{tmp_path / 'hi'}@{40 * PS:#x}", f"{tmp_path / 'lo'}@0"]
    check_pages(specs, mem, set(range(16)) | set(range(40, NPAGES)))
    with open_dump(specs) as ctx:
        assert (ctx.attr["file.format"], ctx.attr["arch.name"]) == ("raw", "x86_64")
    # one file, on the command line
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--info", f"{tmp_path / 'lo'}@0"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "raw memory image" in r.stdout and RELEASE in r.stdout, r.stderr
    # a file whose own name has an @ is that file
    (tmp_path / "x@0").write_bytes(b"junk" * 100)
    with pytest.raises(UnsupportedDumpError):
        open_dump(tmp_path / "x@0")


@pytest.mark.parametrize("hvm", [True, False])
def test_xc_core_domain_dump(hvm: bool, tmp_path: Path) -> None:
    mem, _ = machine()
    held = set(range(0, 30)) | set(range(35, NPAGES))
    pages = {p: bytes(mem[p * PS : (p + 1) * PS]) for p in held}
    gmfns = None if hvm else {p: 0x10000 + (p * 7919) % 4096 for p in held}
    path = tmp_path / "dom.core"
    build_xc_core(path, pages, gmfns=gmfns, nr_vcpus=2)
    check_pages(path, mem, held)
    with open_dump(path) as ctx:
        a = ctx.attr
        assert (a["file.format"], a["xen.hvm"], a["xen.vcpus"]) == ("xc_core", hvm, 2)
        assert (a["arch.name"], a["linux.uts.release"]) == ("x86_64", RELEASE)


LKDF_SCRIPT = r"""
import json, sys, kdumpfile
spec = json.load(sys.stdin)
k = kdumpfile.kdumpfile(spec["file"])
names = ("file.format", "arch.name", "arch.page_size", "cpu.number", "xen.version.major", "xen.version.minor")
out = {"attrs": {n: k.attr[n] for n in names if n in k.attr}, "pages": {}}
for pfn in spec["pfns"]:
    try:
        out["pages"][str(pfn)] = bytes(k.read(kdumpfile.KDUMP_KPHYSADDR, pfn * 4096, 4096)).hex()
    except Exception as e:
        out["pages"][str(pfn)] = None
print(json.dumps(out))
"""


@pytest.mark.parametrize("hvm", [True, False])
def test_xc_core_as_libkdumpfile_reads_it(hvm: bool, tmp_path: Path) -> None:
    """libkdumpfile and we agree on every page (held or not) and on the attributes both have."""
    py = need_libkdumpfile()
    mem, _ = machine()
    held = set(range(2, 50, 3)) | {63}
    pages = {p: bytes(mem[p * PS : (p + 1) * PS]) for p in held}
    path = tmp_path / "dom.core"
    build_xc_core(path, pages, gmfns=None if hvm else {p: 0x20000 + p for p in held}, nr_vcpus=3,
                  xen_version=(4, 19))
    r = subprocess.run([py, "-c", LKDF_SCRIPT], input=json.dumps({"file": str(path), "pfns": list(range(NPAGES))}),
                       capture_output=True, text=True, check=True)
    theirs = json.loads(r.stdout)
    assert theirs["attrs"]["file.format"] == "xc_core_elf"
    with open_dump(path) as ctx:
        t = theirs["attrs"]
        assert (ctx.attr["arch.name"], ctx.page_size) == (t["arch.name"], t["arch.page_size"])
        assert ctx.attr["xen.vcpus"] == t["cpu.number"] == 3
        assert ctx.attr["xen.version"] == f"{t['xen.version.major']}.{t['xen.version.minor']}" == "4.19"
        for pfn in range(NPAGES):
            try:
                ours: str | None = ctx.read_pfn(pfn).hex()
            except PageExcludedError:
                ours = None
            assert ours == theirs["pages"][str(pfn)], pfn


def test_lime_damage_is_named(tmp_path: Path) -> None:
    mem, _ = machine()
    good = tmp_path / "good"
    build_lime(good, [(0, bytes(mem[: 8 * PS])), (16 * PS, bytes(mem[16 * PS : 24 * PS]))])
    data = good.read_bytes()
    cases = {
        "truncated": (data[:-100], CorruptDumpError),
        "second-header-magic": (data[: 32 + 8 * PS] + b"XXXX" + data[32 + 8 * PS + 4 :], CorruptDumpError),
        "ends-before-start": (data[:8] + struct.pack("<QQ", 0x10000, 0x100) + data[24:], CorruptDumpError),
        "overlap": (data[: 32 + 8 * PS] + data[:32] + data[32 + 8 * PS + 32 :], CorruptDumpError),
    }
    avml = tmp_path / "avml"
    build_lime(avml, [(0, bytes(mem[: 8 * PS]))], avml=True)
    a = avml.read_bytes()
    cases["avml-trailer"] = (a[:-8] + struct.pack("<Q", 5), CorruptDumpError)
    cases["avml-cut"] = (a[: len(a) // 2], CorruptDumpError)
    cases["avml-chunk-type"] = (a[:32 + 10] + b"\x42" + a[32 + 11 :], CorruptDumpError)
    for name, (blob, cls) in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(DumpError) as ei:
            with open_dump(p) as ctx:
                for pfn in range(ctx.max_pfn):
                    if ctx.pagemap.test(pfn):
                        ctx.read_pfn(pfn)
        assert isinstance(ei.value, cls) or "Truncated" in type(ei.value).__name__, (name, ei.value)
        assert str(p) in str(ei.value), (name, str(ei.value))


def test_cli_converts_an_image(tmp_path: Path) -> None:
    """-E -d 0 of a LiME image: an ELF dump our reader and readelf-free checks read back."""
    mem, _ = machine()
    src = tmp_path / "mem.lime"
    build_lime(src, [(0, bytes(mem[: 30 * PS])), (40 * PS, bytes(mem[40 * PS :]))])
    out = tmp_path / "out.elf"
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-E", "-d", "0", str(src), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    check_pages(out, mem, set(range(30)) | set(range(40, NPAGES)))
    with open_dump(out) as ctx:
        assert ctx.attr["linux.vmcoreinfo.lines.OSRELEASE"] == RELEASE
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--info", "--json", str(src)],
                       capture_output=True, text=True)
    info = json.loads(r.stdout)
    assert (info["format"], info["arch"], info["kernel"]["release"]) == ("lime", "x86_64", RELEASE)


def test_info_on_an_unknown_file_says_what_it_looked_for(tmp_path: Path) -> None:
    p = tmp_path / "mystery"
    p.write_bytes(random.Random(1).randbytes(8192))
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--info", str(p)], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and str(p) in err[0], r.stderr
    for name in ("ELF", "kdump-compressed", "flattened", "LiME", "AVML", "xc_core", "FILE@ADDRESS"):
        assert name in err[0], name


LKDF_PAGES = r"""
import json, sys, kdumpfile
k = kdumpfile.kdumpfile(sys.argv[1])
out = {"format": k.attr["file.format"], "arch": k.attr["arch.name"], "max_pfn": k.attr["max_pfn"], "pages": {}}
for pfn in range(k.attr["max_pfn"] + 2):
    try:
        out["pages"][pfn] = bytes(k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn * 4096, 4096)).hex()
    except Exception:
        pass
print(json.dumps(out))
"""


def s390_memory() -> bytes:
    """32 pages of big-endian memory whose absolute lowcore points (at 0xe0c) to a VMCOREINFO
    note, as an s390x kernel's does."""
    mem = bytearray(random.Random(5).randbytes(32 * PS))
    note = make_note(b"VMCOREINFO", 0, b"OSRELEASE=6.1.0-s390\nPAGESIZE=4096\n", endian=">")
    mem[20 * PS : 20 * PS + len(note)] = note
    mem[0xE0C : 0xE0C + 8] = (20 * PS).to_bytes(8, "big")
    return bytes(mem)


def test_s390dump(tmp_path: Path) -> None:
    from gen.s390dump import build_s390dump

    mem = s390_memory()
    path = tmp_path / "s390.dump"
    build_s390dump(path, [mem[: 10 * PS], mem[10 * PS :]], len(mem))
    with open_dump(path) as ctx:
        a = ctx.attr
        assert (a["file.format"], a["arch.name"], a["arch.byte_order"]) == ("s390dump", "s390x", "big")
        assert a["linux.vmcoreinfo.lines.OSRELEASE"] == "6.1.0-s390" and a["image.vmcoreinfo_at"] == 20 * PS
        assert ctx.max_pfn == 32
        assert all(ctx.read_pfn(p) == mem[p * PS : (p + 1) * PS] for p in range(32))
    py = need_libkdumpfile()
    theirs = json.loads(subprocess.run([py, "-c", LKDF_PAGES, str(path)], capture_output=True, text=True,
                                       check=True).stdout)
    assert (theirs["format"], theirs["arch"], theirs["max_pfn"]) == ("s390dump", "s390x", 32)
    assert theirs["pages"] == {str(p): mem[p * PS : (p + 1) * PS].hex() for p in range(32)}
    # damage: no end marker, an architecture it does not know, memory past the end of the file
    data = path.read_bytes()
    for name, blob in (("no-end", data[:-16] + b"\0" * 16), ("arch", data[:72] + b"\0\0\0\x07" + data[76:]),
                       ("cut", data[: 20 * PS])):
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(DumpError) as ei:
            open_dump(p)
        assert str(p) in str(ei.value)


def test_diskdump_version_0(tmp_path: Path) -> None:
    """The first diskdump files (header version 0: no sub header), little and big endian, LP64
    and ILP32: every page as written.  libkdumpfile (0.5) reads no page of a version 0 file (it
    takes the file's pfn range from the sub header), so it checks the same files at version 1."""
    from gen import Page, build_kdump

    py = need_libkdumpfile()
    mem = random.Random(9).randbytes(24 * PS)
    pages = {p: Page(mem[p * PS : (p + 1) * PS], "zlib" if p % 3 else "raw") for p in range(24) if p % 7}
    want = {str(p): mem[p * PS : (p + 1) * PS].hex() for p in pages}
    for version in (0, 1):
        for layout, endian, arch in (("64", "<", "x86_64"), ("i386", "<", "i386"), ("64", ">", "ppc64")):
            path = tmp_path / f"dd{version}-{layout}{endian}"
            build_kdump(path, pages, max_mapnr=24, header_version=version, signature=b"DISKDUMP", layout=layout,
                        endian=endian, arch=arch)
            with open_dump(path) as ctx:
                assert (ctx.attr["kdump.header_version"], ctx.attr["file.description"]) == (version, "Diskdump")
                assert ctx.attr["kdump.layout"] == layout
                ours = {str(p): ctx.read_pfn(p).hex() for p in range(24) if ctx.pagemap.test(p)}
            assert ours == want
            if version:
                theirs = json.loads(subprocess.run([py, "-c", LKDF_PAGES, str(path)], capture_output=True, text=True,
                                                   check=True).stdout)
                assert theirs["pages"] == want


LKCD_VARIANTS = [(1, 32, "<", 1), (1, 64, "<", 1), (2, 32, "<", 1), (3, 64, ">", 1), (5, 64, "<", 0), (6, 32, "<", 2),
                 (7, 64, "<", 1), (8, 64, "<", 2), (9, 64, "<", 2), (10, 64, ">", 1)]


@pytest.mark.parametrize(("version", "bits", "endian", "compression"), LKCD_VARIANTS)
def test_lkcd(version: int, bits: int, endian: str, compression: int, tmp_path: Path) -> None:
    """Every LKCD header layout, both byte orders, no/RLE/zlib pages (some raw), records out of
    pfn order: every page as written and as libkdumpfile reads it; the kernel found in memory."""
    from gen.lkcd import build_lkcd

    mem, _ = machine()
    held = [p for p in range(NPAGES) if p % 11 != 10]
    order = held[::-1] if version % 2 else held  # the records need not be in pfn order
    path = tmp_path / "lkcd"
    build_lkcd(path, [(p, bytes(mem[p * PS : (p + 1) * PS])) for p in order], version=version, bits=bits,
               endian=endian, compression=compression, raw_every=5, mem_size=NPAGES * PS)
    want = {str(p): bytes(mem[p * PS : (p + 1) * PS]).hex() for p in held}
    with open_dump(path) as ctx:
        a = ctx.attr
        assert (a["file.format"], a["lkcd.version"], a["file.description"]) == (
            "lkcd", version, f"Linux Kernel Crash Dump v{version}")
        assert (a["arch.name"], a["linux.uts.release"]) == ("x86_64", RELEASE)  # found in memory
        assert {str(p): ctx.read_pfn(p).hex() for p in range(NPAGES) if ctx.pagemap.test(p)} == want
    py = need_libkdumpfile()
    theirs = json.loads(subprocess.run([py, "-c", LKDF_PAGES, str(path)], capture_output=True, text=True,
                                       check=True).stdout)
    assert theirs["format"] == "lkcd" and theirs["pages"] == want


def test_lkcd_damage_is_named(tmp_path: Path) -> None:
    from gen.lkcd import build_lkcd

    mem, _ = machine()
    pages = [(p, bytes(mem[p * PS : (p + 1) * PS])) for p in range(8)]
    cases = {
        "duplicate": dict(pages=pages + pages[2:3]),
        "no-end": dict(pages=pages, end_marker=False),  # opens: the records to the end of the file
    }
    for name, kw in cases.items():
        p = tmp_path / name
        build_lkcd(p, **kw)  # type: ignore[arg-type]
        if name == "no-end":
            with open_dump(p) as ctx:
                assert ctx.read_pfn(7) == pages[7][1]
            continue
        with pytest.raises(CorruptDumpError) as ei:
            open_dump(p)
        assert str(p) in str(ei.value) and "two page records" in str(ei.value)
    good = tmp_path / "good"
    build_lkcd(good, pages[1:], compression=2)  # pfn 1 first: text, which zlib compresses
    data = bytearray(good.read_bytes())
    rec = 65536  # the first record: its flags, then its data
    for name, patch, cls in (("flags", (rec + 12, struct.pack("<I", 0x10)), UnsupportedDumpError),
                             ("size", (rec + 8, struct.pack("<I", 1 << 20)), CorruptDumpError),
                             ("zlib", (rec + 16, b"\xff\xff\xff\xff"), CorruptDumpError)):
        p = tmp_path / name
        d = bytearray(data)
        d[patch[0] : patch[0] + len(patch[1])] = patch[1]
        p.write_bytes(bytes(d))
        with pytest.raises(DumpError) as ei2:
            with open_dump(p) as ctx:
                ctx.read_pfn(1)
        assert isinstance(ei2.value, cls) and str(p) in str(ei2.value), (name, ei2.value)


def test_xen_hypervisor_dump_is_named_and_not_filtered(tmp_path: Path) -> None:
    """An ELF dump of a Xen host (a note Xen of type XEN_ELFNOTE_CRASH_INFO): its memory is the
    machine's, which no dom0 mem_map describes: --info says what it is, levels above 1 are refused
    with one line (not filtered wrongly), -d 1 converts."""
    from gen import build_elf, prstatus_note

    mem, vi = machine()
    notes = prstatus_note() + make_note(b"Xen", 0x1000001, bytes(48)) + make_note(b"VMCOREINFO", 0, vi)
    path = tmp_path / "xen-host"
    build_elf(path, [(0, 0xFFFF830000000000, bytes(mem), len(mem))], notes=notes)
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--info", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and "Xen host" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-l", "-d", "31", str(path), str(tmp_path / "o")],
                       capture_output=True, text=True)
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode != 0 and len(err) == 1 and "-X" in err[0] and str(path) in err[0], r.stderr
    assert not (tmp_path / "o").exists()
    r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "-l", "-d", "1", str(path), str(tmp_path / "o1")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open_dump(tmp_path / "o1") as ctx:
        assert all(ctx.read_pfn(p) == bytes(mem[p * PS : (p + 1) * PS]) for p in range(NPAGES) if ctx.pagemap.test(p))


def test_s390dump_extended(tmp_path: Path) -> None:
    """The extended S390DUMP: segments with memory between them not dumped (read as excluded)."""
    from gen.s390dump import build_s390dump_ext

    mem = s390_memory()
    segs = [(0, mem[: 12 * PS]), (16 * PS, mem[16 * PS : 24 * PS]), (28 * PS, mem[28 * PS :])]
    path = tmp_path / "ext"
    build_s390dump_ext(path, segs, len(mem))
    with open_dump(path) as ctx:
        assert ctx.attr["file.format"] == "s390dump" and ctx.attr["image.vmcoreinfo_at"] == 20 * PS
        held = {p for s, d in segs for p in range(s // PS, (s + len(d)) // PS)}
        assert {p for p in range(32) if ctx.pagemap.test(p)} == held
        assert all(ctx.read_pfn(p) == mem[p * PS : (p + 1) * PS] for p in held)
    data = path.read_bytes()
    bad = tmp_path / "bad"
    bad.write_bytes(data[: 4096 + 4096 + 12 * PS + 8] + struct.pack(">Q", 1 << 40) + data[4096 + 4096 + 12 * PS + 16 :])
    with pytest.raises(CorruptDumpError) as ei:
        open_dump(bad)
    assert str(bad) in str(ei.value)


def test_info_json_names_format_and_arch_of_every_format(tmp_path: Path) -> None:
    """--info --json on one file of each format we read: the format and the architecture."""
    from gen import Page, build_elf, build_kdump, flatten, split_files
    from gen.lkcd import build_lkcd
    from gen.s390dump import build_s390dump

    mem, vi = machine()
    pages = {p: Page(bytes(mem[p * PS : (p + 1) * PS])) for p in range(NPAGES)}
    files: dict[str, tuple[list[str], str, str]] = {}  # name -> (arguments, format, arch)
    build_elf(tmp_path / "elf", [(0, 0xFFFF888000000000, bytes(mem), len(mem))],
              notes=make_note(b"VMCOREINFO", 0, vi))
    files["elf"] = ([str(tmp_path / "elf")], "elf", "x86_64")
    build_kdump(tmp_path / "kdump", pages, max_mapnr=NPAGES, vmcoreinfo=vi)
    files["kdump"] = ([str(tmp_path / "kdump")], "kdump", "x86_64")
    flatten(tmp_path / "kdump", tmp_path / "flat")
    files["flattened"] = ([str(tmp_path / "flat")], "kdump", "x86_64")
    split_files([tmp_path / "s0", tmp_path / "s1"], pages, max_mapnr=NPAGES, vmcoreinfo=vi)
    files["split"] = ([str(tmp_path / "s0"), str(tmp_path / "s1")], "kdump", "x86_64")
    build_kdump(tmp_path / "dd0", pages, max_mapnr=NPAGES, header_version=0, signature=b"DISKDUMP")
    files["diskdump-v0"] = ([str(tmp_path / "dd0")], "kdump", "x86_64")
    build_lime(tmp_path / "lime", [(0, bytes(mem))])
    files["lime"] = ([str(tmp_path / "lime")], "lime", "x86_64")
    build_lime(tmp_path / "avml", [(0, bytes(mem))], avml=True)
    files["avml"] = ([str(tmp_path / "avml")], "lime", "x86_64")
    (tmp_path / "raw").write_bytes(bytes(mem))
    files["raw"] = ([f"{tmp_path / 'raw'}@0"], "raw", "x86_64")
    build_xc_core(tmp_path / "xen", {p: bytes(mem[p * PS : (p + 1) * PS]) for p in range(NPAGES)})
    files["xc_core"] = ([str(tmp_path / "xen")], "xc_core", "x86_64")
    build_lkcd(tmp_path / "lkcd", [(p, bytes(mem[p * PS : (p + 1) * PS])) for p in range(NPAGES)])
    files["lkcd"] = ([str(tmp_path / "lkcd")], "lkcd", "x86_64")
    s390 = s390_memory()
    build_s390dump(tmp_path / "s390", [s390], len(s390))
    files["s390dump"] = ([str(tmp_path / "s390")], "s390dump", "s390x")
    from gen.sadump import build_sadump

    build_sadump(tmp_path / "sadump", {p: bytes(mem[p * PS : (p + 1) * PS]) for p in range(NPAGES)}, max_mapnr=NPAGES)
    files["sadump"] = ([str(tmp_path / "sadump")], "sadump", "x86_64")
    for name, (args, fmt, arch) in files.items():
        r = subprocess.run([sys.executable, "-m", "pymakedumpfile", "--info", "--json", *args], capture_output=True,
                           text=True)
        assert r.returncode == 0, (name, r.stderr)
        info = json.loads(r.stdout)
        assert (info["format"], info["arch"]) == (fmt, arch), name
        assert info["description"] and info["pages"]["ram"] > 0, name


@pytest.mark.parametrize("media", [False, True])
def test_sadump(media: bool, tmp_path: Path) -> None:
    """SADUMP, single partition and media backup: the pages dumped; RAM not dumped reads as zeros
    (as makedumpfile reads it); memory outside RAM is excluded; the kernel found in memory."""
    from gen.sadump import build_sadump

    mem, _ = machine()
    ram = set(range(NPAGES - 4))
    dumped = {p: bytes(mem[p * PS : (p + 1) * PS]) for p in ram if p % 9 != 4}
    path = tmp_path / "sadump"
    build_sadump(path, dumped, max_mapnr=NPAGES, ram=ram, media=media)
    with open_dump(path) as ctx:
        a = ctx.attr
        assert (a["file.format"], a["file.description"]) == (
            "sadump", "SADUMP media backup" if media else "SADUMP single partition")
        assert (a["arch.name"], a["linux.uts.release"]) == ("x86_64", RELEASE)
        for p in range(NPAGES):
            if p in dumped:
                assert ctx.read_pfn(p) == dumped[p], p
            elif p in ram:
                assert ctx.read_pfn(p) == bytes(PS), p
            else:
                with pytest.raises(PageExcludedError):
                    ctx.read_pfn(p)


def test_sadump_as_libkdumpfile_reads_it(tmp_path: Path) -> None:
    """libkdumpfile reads the dumped pages alike.  (libkdumpfile 0.5 returns the first page of
    a run of dumped pages for every page of the run, where makedumpfile and we count the dumped
    pages before each: so every other page is dumped here, runs of one page.)"""
    from gen.sadump import build_sadump

    py = need_libkdumpfile()
    mem = random.Random(4).randbytes(40 * PS)
    dumped = {p: mem[p * PS : (p + 1) * PS] for p in range(0, 40, 2)}
    path = tmp_path / "sadump"
    build_sadump(path, dumped, max_mapnr=40)
    theirs = json.loads(subprocess.run([py, "-c", LKDF_PAGES, str(path)], capture_output=True, text=True,
                                       check=True).stdout)
    with open_dump(path) as ctx:
        assert ctx.attr["arch.name"] == theirs["arch"] == "x86_64"  # from the CPU states (IA32_EFER.LMA)
        ours = {str(p): ctx.read_pfn(p).hex() for p in dumped}
    assert ours == {str(p): d.hex() for p, d in dumped.items()}
    assert {p: theirs["pages"][p] for p in ours} == ours


def test_sadump_damage_is_named(tmp_path: Path) -> None:
    from gen.sadump import build_sadump

    path = tmp_path / "good"
    build_sadump(path, {p: bytes([p]) * PS for p in range(8)}, max_mapnr=8)
    data = path.read_bytes()
    cases = {
        "magic": data[:1000] + b"\xff\xff\xff\xff" + data[1004:],  # the magic numbers end at 1000: no block
        "block-size": data[: PS + 40] + struct.pack("<I", 8192) + data[PS + 44 :],
        "cut": data[: len(data) - PS],
    }
    for name, blob in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        with pytest.raises(CorruptDumpError) as ei:
            open_dump(p)
        assert str(p) in str(ei.value), name
