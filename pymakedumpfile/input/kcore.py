"""``/proc/kcore``: the running kernel's memory as an ELF core file, for
``--mem-usage``.

It is an ELF core whose PT_LOADs are kernel *virtual* ranges: RAM (the
direct map), the kernel text, and since Linux 4.11 the physical address of
each RAM and text range in ``p_paddr``; vmalloc, modules and the like carry
``p_paddr == -1``.  As makedumpfile does (``get_kcore_dump_loads``), only the
PT_LOADs with a physical address are kept, less the memory reserved for the
crash kernel (``Crash kernel`` in ``/proc/iomem``): it belongs to no one
until a crash.  VMCOREINFO is in the notes since Linux 4.19; before, it is
read at the physical address ``/sys/kernel/vmcoreinfo`` gives.
"""

from __future__ import annotations

import struct

from ..core.errors import UnsupportedDumpError
from .elf import ElfReader, Load
from .source import Source, open_source

PROC_IOMEM = "/proc/iomem"
SYS_VMCOREINFO = "/sys/kernel/vmcoreinfo"


def crash_kernel_ranges(iomem: str = PROC_IOMEM) -> list[tuple[int, int]]:
    """[start, end) of every ``Crash kernel`` range in ``iomem`` (empty when
    the file cannot be read; addresses read as 0 without root)."""
    out = []
    try:
        with open(iomem, encoding="utf-8", errors="replace") as f:
            for line in f:
                span, _, name = line.partition(" : ")
                if name.strip() != "Crash kernel":
                    continue
                a, _, b = span.strip().partition("-")
                try:
                    lo, hi = int(a, 16), int(b, 16) + 1
                except ValueError:
                    continue
                if hi > lo:
                    out.append((lo, hi))
    except OSError:
        pass
    return out


def subtract(loads: list[Load], holes: list[tuple[int, int]]) -> list[Load]:
    """``loads`` with the physical ranges ``holes`` cut out."""
    for lo, hi in holes:
        out = []
        for ld in loads:
            end = ld.paddr + ld.memsz
            if hi <= ld.paddr or lo >= end:
                out.append(ld)
                continue
            if ld.paddr < lo:  # the part below the hole
                n = lo - ld.paddr
                out.append(Load(ld.paddr, ld.vaddr, ld.offset, min(ld.filesz, n), n))
            if hi < end:  # the part above it
                d = hi - ld.paddr
                out.append(Load(hi, ld.vaddr + d, ld.offset + d, max(0, ld.filesz - d), end - hi))
        loads = out
    return loads


class KcoreReader(ElfReader):
    """``/proc/kcore`` (or a copy of its layout) as a dump of physical memory.

    :param exclude: physical ranges to leave out; by default the crash
        kernel's reserved memory as ``/proc/iomem`` lists it.
    :param vmcoreinfo_at: where to find VMCOREINFO when the notes have none:
        the text of ``/sys/kernel/vmcoreinfo`` ("PADDR SIZE" in hex).
    """

    format_name = "kcore"

    def __init__(self, source: Source, exclude: list[tuple[int, int]] | None = None,
                 vmcoreinfo_at: str | None = None) -> None:
        self._exclude = crash_kernel_ranges() if exclude is None else exclude
        self._vmcoreinfo_at = vmcoreinfo_at
        super().__init__(source)
        self.description = f"ELF{self.bits} /proc/kcore"

    def _select_loads(self, loads: list[Load]) -> list[Load]:
        not_paddr = (1 << self.bits) - 1
        phys = [ld for ld in loads if ld.paddr != not_paddr]
        if not phys:
            raise UnsupportedDumpError("Cannot use as kcore: no PT_LOAD has a physical address (Linux < 4.11?)",
                                       self.name)
        return subtract(phys, self._exclude)

    def _vmcoreinfo_elsewhere(self) -> bytes:
        text = self._vmcoreinfo_at
        if text is None:
            try:
                with open(SYS_VMCOREINFO, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                return b""
        try:
            addr, size = (int(x, 16) for x in text.split()[:2])
        except ValueError:
            return b""
        for ld in self.loads:
            if ld.paddr <= addr and addr + size <= ld.paddr + ld.filesz and 12 <= size <= 1 << 20:
                blob = self.source.pread(ld.offset + addr - ld.paddr, size)
                if len(blob) < 12:
                    return b""
                namesz, descsz, _ = struct.unpack_from(self.endian + "III", blob)
                at = 12 + (namesz + 3) // 4 * 4
                return blob[at : at + descsz] if blob[12 : 12 + namesz].rstrip(b"\0") == b"VMCOREINFO" else b""
        return b""


def open_kcore(path: str = "/proc/kcore", *, exclude: list[tuple[int, int]] | None = None,
               vmcoreinfo_at: str | None = None) -> KcoreReader:
    """Open ``/proc/kcore`` (or a file laid out like it) as a :class:`KcoreReader`."""
    src = open_source(path)
    try:
        if not ElfReader.probe(src):
            raise UnsupportedDumpError("Cannot use as kcore: not an ELF file", src.name)
        return KcoreReader(src, exclude=exclude, vmcoreinfo_at=vmcoreinfo_at)
    except BaseException:
        src.close()
        raise


__all__ = ["KcoreReader", "crash_kernel_ranges", "open_kcore", "subtract"]
