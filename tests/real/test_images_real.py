"""Memory images of a real guest: LiME, AVML, Xen xc_core and save images, LKCD and SADUMP containers holding the
memory of the rig's x86_64 guest, as QEMU saved it (mem512/qemu-elf, taken while the guest ran, before the
panic: a live machine, as LiME and AVML capture one).

The images are written by tests/gen from QEMU's ELF file, read here with plain struct (the
program headers), not with our reader.  What must hold:

* the VMCOREINFO our readers find in the memory is the text QEMU's ELF note carries (QEMU got
  it from the guest's vmcoreinfo device, which points at that same note in memory);
* ``-E -d 0`` of an image holds exactly the image's pages, each equal to the ELF file's;
* ``-d 31`` of an image keeps exactly the pages makedumpfile keeps at ``-d 31`` from QEMU's
  ELF file of the same moment (through a copy it can read), with the same contents.  (AVML leaves out 16 MiB blocks of
  zeros; level 31 excludes zero pages, so the kept pages are the same.)  Nothing differs between
  two reads here: both sides read the same bytes, so the comparison is exact;
* libkdumpfile reads the xc_core and LKCD files and agrees with us on every page.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from util import ZERO_DIGEST, lkdf, our_digests, run_cli

from pymakedumpfile import open_dump

PS = 4096


class ElfMemory(Mapping[int, bytes]):
    """pfn -> page of an ELF64 little-endian core, from its PT_LOADs (parsed here with struct)."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "rb")  # noqa: SIM115 - kept open for the module
        eh = self.f.read(64)
        (phoff,) = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        self.f.seek(phoff)
        ph = self.f.read(phentsize * phnum)
        self.loads = []  # (paddr, file offset, size)
        for i in range(phnum):
            p_type, _, off, _, paddr, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", ph, i * phentsize)
            if p_type == 1 and filesz:
                self.loads.append((paddr, off, filesz))
        self._pfns = {p: (paddr, off) for paddr, off, size in self.loads
                      for p in range(paddr // PS, (paddr + size) // PS)}

    def __getitem__(self, pfn: int) -> bytes:
        paddr, off = self._pfns[pfn]
        self.f.seek(off + pfn * PS - paddr)
        return self.f.read(PS)

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._pfns))

    def __len__(self) -> int:
        return len(self._pfns)

    def ranges(self) -> Iterator[tuple[int, bytes]]:
        for paddr, off, size in self.loads:
            self.f.seek(off)
            yield paddr, self.f.read(size)

    def note_vmcoreinfo(self) -> bytes:
        """The VMCOREINFO note of the PT_NOTE segment."""
        self.f.seek(0)
        eh = self.f.read(64)
        (phoff,) = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        self.f.seek(phoff)
        ph = self.f.read(phentsize * phnum)
        for i in range(phnum):
            p_type, _, off, _, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", ph, i * phentsize)
            if p_type == 4:
                self.f.seek(off)
                blob = self.f.read(filesz)
                pos = 0
                while pos + 12 <= len(blob):
                    namesz, descsz, _ = struct.unpack_from("<III", blob, pos)
                    name = blob[pos + 12 : pos + 12 + namesz]
                    dpos = pos + 12 + (namesz + 3) // 4 * 4
                    if name == b"VMCOREINFO\0":
                        return blob[dpos : dpos + descsz].split(b"\0", 1)[0]
                    pos = dpos + (descsz + 3) // 4 * 4
        raise AssertionError("QEMU's ELF file has no VMCOREINFO note")


@pytest.fixture(scope="module")
def qemu_elf(mem512: Path) -> ElfMemory:
    return ElfMemory(mem512 / "qemu-elf")


@pytest.fixture(scope="module")
def images(qemu_elf: ElfMemory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    from gen.lime import build_lime
    from gen.xen import build_xc_core, build_xc_save

    d = tmp_path_factory.mktemp("images")
    from gen.lkcd import build_lkcd
    from gen.sadump import build_sadump

    out = {"lime": d / "mem.lime", "avml": d / "mem.avml", "xc_core": d / "mem.xc_core", "lkcd": d / "mem.lkcd",
           "sadump": d / "mem.sadump", "xc_save": d / "mem.xc_save"}
    build_lime(out["lime"], list(qemu_elf.ranges()))
    build_lime(out["avml"], list(qemu_elf.ranges()), avml=True)
    build_xc_core(out["xc_core"], qemu_elf, nr_vcpus=2)
    build_lkcd(out["lkcd"], ((p, qemu_elf[p]) for p in qemu_elf), version=9, compression=2, raw_every=7)
    build_sadump(out["sadump"], qemu_elf, max_mapnr=max(qemu_elf) + 1, ram=set(qemu_elf))
    build_xc_save(out["xc_save"], qemu_elf, max(qemu_elf) + 1)
    yield out
    for p in out.values():
        p.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def qemu_copy(qemu_elf: ElfMemory, mem512: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Our -E -d 0 copy of QEMU's ELF file, checked here to hold the same pages: makedumpfile
    1.7.2 cannot read QEMU's own layout (program headers after the section headers: "Can't get
    the number of PT_LOAD")."""
    copy = tmp_path_factory.mktemp("copy") / "qemu.elf"
    run_cli("-E", "-d", "0", str(mem512 / "qemu-elf"), str(copy))
    assert our_digests(copy) == {p: hashlib.blake2b(qemu_elf[p], digest_size=8).hexdigest() for p in qemu_elf}
    yield copy
    copy.unlink()


@pytest.fixture(scope="module")
def mdf_d31(qemu_copy: Path, makedumpfile: str, tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """makedumpfile -d 31 of QEMU's ELF file: the pages it keeps (read back by libkdumpfile)."""
    out = tmp_path_factory.mktemp("mdf") / "d31"
    subprocess.run([makedumpfile, "-l", "-d", "31", str(qemu_copy), str(out)], check=True, capture_output=True)
    pages = dict(lkdf(out)["pages"])  # type: ignore[call-overload]
    out.unlink()
    return pages


@pytest.mark.parametrize("level", ["0", "31"])
def test_kdump_ends_at_the_last_mem_map(level: str, qemu_copy: Path, makedumpfile: str, tmp_path: Path) -> None:
    """QEMU's dump holds a framebuffer and the BIOS above RAM, where no struct page is:
    makedumpfile ends a kdump file at the last pfn with a struct page (max_mapnr 512 MiB here,
    not 4 GiB), at every level.  Everything before the page descriptors (headers, notes, both
    bitmaps) is the same bytes as makedumpfile's."""
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    run_cli("-l", "-d", level, str(qemu_copy), str(ours))
    subprocess.run([makedumpfile, "-l", "-d", level, str(qemu_copy), str(theirs)], check=True, capture_output=True)
    with open_dump(theirs) as ctx:
        pd_offset = ctx.reader.pd_offset
        assert ctx.max_pfn == 512 << 8  # the guest's 512 MiB: RAM ends where the last mem_map does
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        assert a.read(pd_offset) == b.read(pd_offset)
    ours.unlink()
    theirs.unlink()


FORMATS = ["lime", "avml", "xc_core", "lkcd", "sadump", "xc_save"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_vmcoreinfo_found_in_memory(fmt: str, images: dict[str, Path], qemu_elf: ElfMemory, release: str) -> None:
    with open_dump(images[fmt]) as ctx:
        assert ctx.reader.vmcoreinfo.raw.rstrip(b"\n") == qemu_elf.note_vmcoreinfo().rstrip(b"\n")
        assert (ctx.attr["arch.name"], ctx.attr["linux.uts.release"]) == ("x86_64", release)
    info = run_cli("--info", str(images[fmt])).stdout
    assert f"({fmt if fmt != 'avml' else 'lime'})" in info and "x86_64" in info and release in info


@pytest.mark.parametrize("fmt", FORMATS)
def test_elf_d0_holds_every_page(fmt: str, images: dict[str, Path], qemu_elf: ElfMemory,
                                 tmp_path: Path) -> None:
    out = tmp_path / "d0.elf"
    run_cli("-E", "-d", "0", str(images[fmt]), str(out))
    got = our_digests(out)
    out.unlink()
    want = {p: hashlib.blake2b(qemu_elf[p], digest_size=8).hexdigest() for p in qemu_elf}
    if fmt == "avml":  # the 16 MiB blocks of zeros AVML left out are not in the image
        zero = hashlib.blake2b(bytes(PS), digest_size=8).hexdigest()
        assert all(want[p] == zero for p in set(want) - set(got))
        want = {p: d for p, d in want.items() if p in got}
    assert got == want


@pytest.mark.parametrize("fmt", FORMATS)
def test_d31_keeps_what_makedumpfile_keeps(fmt: str, images: dict[str, Path], mdf_d31: dict[int, str],
                                           tmp_path: Path) -> None:
    out = tmp_path / "d31"
    run_cli("-l", "-d", "31", str(images[fmt]), str(out))
    got = our_digests(out)
    out.unlink()
    want = dict(mdf_d31)
    if fmt == "avml":
        # makedumpfile keeps a zero page's descriptor (pointing at one shared zero page) at level
        # 31; the blocks of zeros AVML left out are not in the image, so not in our output
        with open_dump(images[fmt]) as ctx:
            absent = {p for p in want if not ctx.pagemap.test(p)}
        assert absent and all(want[p] == ZERO_DIGEST for p in absent)
        want = {p: d for p, d in want.items() if p not in absent}
    assert set(got) == set(want), (len(set(got) - set(want)), len(set(want) - set(got)))
    assert got == want


@pytest.mark.parametrize("fmt", ["xc_core", "lkcd"])
def test_libkdumpfile_agrees(fmt: str, images: dict[str, Path], libkdumpfile: str) -> None:
    """The formats libkdumpfile reads too: every page, and max_pfn.  (It finds no kernel in an
    LKCD file: its pages are read by machine address.)"""
    theirs = lkdf(images[fmt], machphys=fmt == "lkcd")
    assert our_digests(images[fmt]) == theirs["pages"]
    with open_dump(images[fmt]) as ctx:
        assert ctx.max_pfn == theirs["max_pfn"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_dump_dmesg_as_from_the_elf(fmt: str, images: dict[str, Path], mem512: Path, tmp_path: Path) -> None:
    """--dump-dmesg of an image: the kernel log the ELF file of the same memory gives (our reader
    of the ELF is checked against makedumpfile's --dump-dmesg in test_dmesg_real)."""
    a, b = tmp_path / "a", tmp_path / "b"
    run_cli("--dump-dmesg", str(images[fmt]), str(a))
    run_cli("--dump-dmesg", str(mem512 / "qemu-elf"), str(b))
    assert a.read_bytes() == b.read_bytes() and len(a.read_bytes()) > 1000
