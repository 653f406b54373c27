"""ELF vmcores: ``/proc/vmcore``, QEMU's ``dump-guest-memory``, makedumpfile ``-E``.

ELF32 and ELF64 in either byte order; program headers wherever ``e_phoff``
puts them (QEMU places them after the section headers); ``PN_XNUM``
extended numbering (the count in section header 0's ``sh_info``).  A PT_LOAD
whose ``p_filesz`` is below ``p_memsz`` holds RAM whose tail is not in the
file (makedumpfile's filtered ELF): those pages are excluded.
"""

from __future__ import annotations

import bisect
import struct

from ..core.errors import CorruptDumpError, UnsupportedDumpError
from ..core.pagemap import RangeMap
from ..core.record import dataclass
from ..core.vmcoreinfo import VmcoreInfo
from ..formats import elf as elff
from ..translate import ARCHES, arch_from_elf_machine
from .base import DumpReader
from .source import Source

MAX_PHNUM = 1 << 22
XEN_NOTE_NAME = b"Xen"
XEN_ELFNOTE_CRASH_INFO = 0x1000001  # far beyond any real vmcore; bounds the header read
XEN_VMCOREINFO_NAME = b"VMCOREINFO_XEN"
XEN_CRASH_INFO_V2 = 80  # eight unsigned longs, then xen_phys_start and dom0's p2m frame list


@dataclass(frozen=True)
class Load:
    """One PT_LOAD: physical ``paddr`` .. ``paddr + memsz``, the first
    ``filesz`` bytes stored at file ``offset``."""

    paddr: int
    vaddr: int
    offset: int
    filesz: int
    memsz: int


def sections(source: Source) -> list[tuple[str, elff.Shdr]]:
    """The named section headers of an ELF file (a vmcore has none or a few; a Xen domain dump
    keeps everything in sections); [] when there are none or they cannot be read."""
    ident = source.pread(0, 16)
    if len(ident) < 16 or ident[:4] != elff.ELFMAG or ident[4] not in (elff.ELFCLASS32, elff.ELFCLASS64):
        return []
    bits = 64 if ident[4] == elff.ELFCLASS64 else 32
    endian = "<" if ident[5] == elff.ELFDATA2LSB else ">"
    es = elff.Ehdr.struct(endian, bits)
    head = source.pread(0, es.size)
    if len(head) < es.size:
        return []
    eh = elff.Ehdr.unpack(head, endian, bits)
    ss = elff.Shdr.struct(endian, bits)
    if not eh.e_shoff or not 0 < eh.e_shnum <= 4096 or eh.e_shentsize != ss.size or eh.e_shstrndx >= eh.e_shnum:
        return []
    raw = source.pread(eh.e_shoff, eh.e_shnum * ss.size)
    if len(raw) < eh.e_shnum * ss.size:
        return []
    shdrs = [elff.Shdr.unpack(raw, i * ss.size, endian, bits) for i in range(eh.e_shnum)]
    strtab = shdrs[eh.e_shstrndx]
    names = source.pread(strtab.sh_offset, min(strtab.sh_size, 1 << 16))
    return [(names[sh.sh_name:].split(b"\0", 1)[0].decode("ascii", "replace"), sh) for sh in shdrs
            if sh.sh_name < len(names)]


class ElfReader(DumpReader):
    format_name = "elf"

    @classmethod
    def probe(cls, source: Source) -> bool:
        return source.pread(0, 4) == elff.ELFMAG

    def __init__(self, source: Source, page_size: int | None = None) -> None:
        self.source = source
        ident = source.read_exact(0, 16, "ELF identification")
        cls_, data = ident[4], ident[5]
        if cls_ not in (elff.ELFCLASS32, elff.ELFCLASS64) or data not in (elff.ELFDATA2LSB, elff.ELFDATA2MSB):
            raise CorruptDumpError(f"Cannot read ELF header: bad class {cls_} or data encoding {data}", self.name)
        self.bits = 64 if cls_ == elff.ELFCLASS64 else 32
        self.endian = "<" if data == elff.ELFDATA2LSB else ">"
        es = elff.Ehdr.struct(self.endian, self.bits)
        self.ehdr = eh = elff.Ehdr.unpack(source.read_exact(0, es.size, "ELF header"), self.endian, self.bits)
        if eh.e_type != elff.ET_CORE:
            raise UnsupportedDumpError(f"Cannot open ELF file: e_type {eh.e_type} is not ET_CORE (a core dump)",
                                       self.name)
        self.description = f"ELF{self.bits} dump"
        self.incomplete = bool(eh.e_flags & elff.ELF_FLAG_INCOMPLETE)
        self.phdrs = self._read_phdrs()
        self.arch = arch_from_elf_machine(eh.e_machine, self.bits)

        notes = []
        loads = []
        for ph in self.phdrs:
            if ph.p_type == elff.PT_NOTE and ph.p_filesz:
                if ph.p_filesz > 64 << 20:
                    raise CorruptDumpError(f"Cannot read ELF notes: absurd PT_NOTE size {ph.p_filesz:#x}", self.name)
                notes.append(source.read_exact(ph.p_offset, ph.p_filesz, "PT_NOTE segment"))
            elif ph.p_type == elff.PT_LOAD:
                if ph.p_filesz > ph.p_memsz:
                    raise CorruptDumpError(
                        f"Cannot read PT_LOAD at {ph.p_paddr:#x}: p_filesz {ph.p_filesz:#x} > p_memsz {ph.p_memsz:#x}",
                        self.name,
                    )
                if ph.p_filesz and ph.p_offset + ph.p_filesz > source.size:
                    if not self.incomplete:
                        raise CorruptDumpError(
                            f"Cannot read PT_LOAD at {ph.p_paddr:#x}: data at {ph.p_offset:#x}+{ph.p_filesz:#x} "
                            f"runs past the end of the file ({source.size:#x})",
                            self.name,
                        )
                loads.append(Load(ph.p_paddr, ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz))
        self.notes = b"".join(notes)
        self.loads = self._select_loads(loads)
        self.vmcoreinfo = VmcoreInfo(self.vmcoreinfo_from_notes() or self._vmcoreinfo_elsewhere())
        ps = page_size or self.vmcoreinfo.page_size or (self.arch.default_page_size if self.arch else 4096)
        if ps <= 0 or ps & (ps - 1) or ps > 1 << 20:
            raise CorruptDumpError(f"Cannot use page size {ps}: not a power of two up to 1 MiB", self.name)
        self.page_size = ps
        self._build_maps()
        self.vmcoreinfo_from_memory_if_missing()
        self.phys_base = self._phys_base()
        self.uts = self.read_uts_from_memory(self.phys_base) or self._fallback_uts()

    def _select_loads(self, loads: list[Load]) -> list[Load]:
        """The PT_LOADs that describe physical memory (all of them here)."""
        return loads

    def _vmcoreinfo_elsewhere(self) -> bytes:
        """VMCOREINFO when the notes have none (none here)."""
        return b""

    def _read_phdrs(self) -> list[elff.Phdr]:
        eh = self.ehdr
        phnum = eh.e_phnum
        if phnum == elff.PN_XNUM:
            ss = elff.Shdr.struct(self.endian, self.bits)
            if eh.e_shoff == 0:
                raise CorruptDumpError("Cannot read program headers: PN_XNUM without a section header", self.name)
            sh0 = elff.Shdr.unpack(self.source.read_exact(eh.e_shoff, ss.size, "section header 0"), 0,
                                   self.endian, self.bits)
            phnum = sh0.sh_info
        ps = elff.Phdr.struct(self.endian, self.bits)
        if phnum and eh.e_phentsize != ps.size:
            raise CorruptDumpError(f"Cannot read program headers: e_phentsize {eh.e_phentsize} != {ps.size}", self.name)
        if phnum > MAX_PHNUM:
            raise CorruptDumpError(f"Cannot read program headers: absurd count {phnum}", self.name)
        raw = self.source.read_exact(eh.e_phoff, phnum * ps.size, f"{phnum} program headers")
        return [elff.Phdr.unpack(raw, i * ps.size, self.endian, self.bits) for i in range(phnum)]

    def _build_maps(self) -> None:
        ps = self.page_size
        mem, stored = [], []
        # Physical extents backed by file data, first PT_LOAD wins on overlap
        # (the kernel-text PT_LOAD repeats part of a RAM PT_LOAD).
        ext: list[tuple[int, int, int]] = []  # (pstart, pend, file offset)
        for ld in self.loads:
            mem.append((ld.paddr // ps, -(-(ld.paddr + ld.memsz) // ps)))
            file_end = ld.paddr + ld.filesz
            last = -(-file_end // ps)
            if self.incomplete:  # data the file lost reads as missing
                cut = ld.paddr + max(0, self.source.size - ld.offset)
                if cut < file_end:
                    file_end, last = cut, cut // ps  # a page cut in two is lost too
            if file_end > ld.paddr and last > ld.paddr // ps:
                stored.append((ld.paddr // ps, last))
                ext.append((ld.paddr, file_end, ld.offset))
        # keep the extents disjoint and sorted; a later PT_LOAD only fills
        # what the earlier ones left (makedumpfile's paddr_to_offset takes
        # the first PT_LOAD that holds an address)
        starts: list[int] = []
        merged: list[tuple[int, int, int]] = []
        for a, b, off in ext:
            i = bisect.bisect_right(starts, a) - 1
            if i >= 0 and merged[i][1] <= a:
                i += 1
            i = max(i, 0)
            new = []
            while a < b:
                if i < len(merged) and merged[i][0] <= a:  # covered already
                    a, off = merged[i][1], off + (merged[i][1] - a)
                    i += 1
                    continue
                stop = min(b, merged[i][0]) if i < len(merged) else b
                new.append((i, (a, stop, off)))
                off += stop - a
                a = stop
            for k, (j, e) in enumerate(new):  # j counts extents before e in the old list
                merged.insert(j + k, e)
                starts.insert(j + k, e[0])
        self._ext = merged
        self._ext_starts = starts
        max_pfn = max((b for _, b in mem), default=0)
        self.max_pfn = max_pfn
        self.memmap = RangeMap(mem, max_pfn)
        self.pagemap = RangeMap(stored, max_pfn)

    def _phys_base(self) -> int:
        vi = self.vmcoreinfo
        key = self.arch.phys_base_number if self.arch else "phys_base"
        pb = vi.NUMBER.get(key)
        if pb is None:
            pb = vi.number_u64(key)  # past the signed range: arm64's PHYS_OFFSET with a randomized linear map
        if pb is None:
            pb = vi.get_int(key)
        if pb is not None:
            return pb
        base = self.arch.kernel_text_base if self.arch else None
        if base is not None:  # the kernel-image PT_LOAD: paddr = vaddr - base + phys_base
            for ld in self.loads:
                if ld.vaddr >= base:
                    return ld.paddr - (ld.vaddr - base)
        return 0

    def _fallback_uts(self) -> dict[str, str]:
        if self.xen_hypervisor and not self.vmcoreinfo.osrelease:
            # the machine ran Xen, not Linux: nothing to say (makedumpfile leaves a kdump
            # file's utsname of such a dump empty, and so do we)
            return dict.fromkeys(("sysname", "nodename", "release", "version", "machine", "domainname"), "")
        mach = {"x86_64": "x86_64", "ia32": "i686"}.get(self.arch.name, self.arch.name) if self.arch else ""
        return {
            "sysname": "Linux",
            "nodename": "",
            "release": self.vmcoreinfo.osrelease or "",
            "version": "",
            "machine": mach,
            "domainname": "",
        }

    @property
    def xen_hypervisor(self) -> bool:
        """The dump of a Xen host's crash (all of the machine's memory: the hypervisor's and
        every domain's), told by a note named Xen of type XEN_ELFNOTE_CRASH_INFO."""
        return self.xen_crash_info is not None

    @property
    def xen_crash_info(self) -> bytes | None:
        """The Xen crash-info note's descriptor (None: not a Xen host's dump)."""
        return next((n.desc for n in self.parse_notes() if n.name == XEN_NOTE_NAME
                     and n.type == XEN_ELFNOTE_CRASH_INFO), None)

    @property
    def xen_vmcoreinfo(self) -> bytes | None:
        """The hypervisor's own VMCOREINFO (the VMCOREINFO_XEN note), for -X."""
        return next((n.desc for n in self.parse_notes() if n.name == XEN_VMCOREINFO_NAME), None)

    def attributes(self) -> dict[str, object]:
        a = super().attributes()
        ci = self.xen_crash_info
        if ci is not None:
            a["xen.type"] = "hypervisor"
            a["file.description"] = f"ELF{self.bits} dump of a Xen host (hypervisor and all domains)"
            if len(ci) >= 16:
                major, minor = struct.unpack_from(self.endian + "QQ", ci)
                a["xen.version"] = f"{major}.{minor}"
            if len(ci) >= XEN_CRASH_INFO_V2:
                a["xen.phys_start"] = struct.unpack_from(self.endian + "Q", ci, 64)[0]
        a["elf.class"] = self.bits
        a["elf.machine"] = self.ehdr.e_machine
        a["elf.loads"] = tuple((ld.paddr, ld.vaddr, ld.memsz) for ld in self.loads)
        a["linux.phys_base"] = self.phys_base
        return a

    def read_page(self, pfn: int) -> bytes:
        ps = self.page_size
        a = pfn * ps
        if not self.pagemap.test(pfn):
            raise self.excluded(pfn, "not in the dump" if self.memmap.test(pfn) else "not in any PT_LOAD")
        return self._read_range(a, ps)

    def read_pages(self, pfn: int, count: int) -> bytes:
        ps = self.page_size
        if count <= 0:
            return b""
        if self.pagemap.count(pfn, pfn + count) != count:
            missing = next(p for p in range(pfn, pfn + count) if not self.pagemap.test(p))
            raise self.excluded(missing, "not in the dump")
        return self._read_range(pfn * ps, count * ps)

    def _read_range(self, a: int, size: int) -> bytes:
        end = a + size
        i = bisect.bisect_right(self._ext_starts, a) - 1
        if i >= 0:
            s, e, off = self._ext[i]
            if s <= a and end <= e:  # the common case: one extent
                return self.source.read_exact(off + (a - s), size, f"page data at {a:#x}")
        out = bytearray(size)
        i = max(i, 0)
        while i < len(self._ext) and self._ext[i][0] < end:
            s, e, off = self._ext[i]
            lo, hi = max(s, a), min(e, end)
            if lo < hi:
                data = self.source.pread(off + (lo - s), hi - lo)
                out[lo - a : lo - a + len(data)] = data
            i += 1
        return bytes(out)


__all__ = ["ARCHES", "ElfReader", "Load"]
