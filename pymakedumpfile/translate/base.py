"""What every architecture provides, and kernel memory read through it.

An architecture is an :class:`ArchInfo` (names, pointer size, byte order, ELF machine number,
page size) with, when its page tables are understood, a translator factory: called with the
dump's physical reader, VMCOREINFO and ``phys_base``, it returns a :class:`Translator`.
:class:`KernelMemory` reads kernel virtual memory through that translator and decodes integers
in the dump's byte order and pointer size; every walk of kernel structures goes through it
(docs/architecture.md says how to add an architecture).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..core.errors import UnsupportedDumpError
from ..core.hints import Literal, Protocol
from ..core.record import dataclass
from ..core.vmcoreinfo import VmcoreInfo

ByteOrder = Literal["little", "big"]
ReadPhys = Callable[[int, int], bytes]


@dataclass(frozen=True)
class Step:
    """One level of a page-table walk: the level's name, the entry's physical address and value;
    ``shown``, when makedumpfile's ``--vtop`` prints another address for the entry (the kernel
    virtual one of an ia32 PAE directory entry)."""

    level: str
    entry_addr: int
    entry: int
    shown: int | None = None


class Translator(Protocol):
    """Kernel virtual to physical translation of one dump."""

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """The physical address of ``vaddr`` and the entries read on the way (for --vtop).

        :raises AddressTranslationError: ``vaddr`` is not mapped."""
        ...

    def vtop(self, vaddr: int) -> int:
        """The physical address of ``vaddr``."""
        ...

    def translate(self, vaddr: int) -> tuple[int, int]:
        """(physical address of ``vaddr``, bytes from there to the end of its mapping)."""
        ...

    # A translator may also have ``arch_pfn_offset``: the pfn of FLATMEM's ``mem_map[0]`` where
    # the kernel does not count from 0 (arm: the first pfn of RAM); absent means 0.


class TableEntries:
    """The entries of page tables in physical memory, for a walk: ``entries(table, index)`` is
    (the entry's physical address, its value).  Tables are read a block at a time and the blocks
    kept (a walk reads the same upper tables again and again), up to ``keep`` of them.

    :param read_phys: reads ``n`` bytes at a physical address.
    :param byte_order: of the entries (the architecture's page tables, not always the dump's).
    :param block: bytes read at once, a power of two (a table never crosses one).
    :param entry_size: bytes of an entry: 8, or 4 (32-bit tables: x86 without PAE, arm).
    """

    def __init__(self, read_phys: ReadPhys, byte_order: ByteOrder, block: int = 4096, keep: int = 4096,
                 entry_size: int = 8) -> None:
        self._read_phys = read_phys
        self._q = struct.Struct((">" if byte_order == "big" else "<") + ("Q" if entry_size == 8 else "I"))
        self.entry_size = entry_size
        self.block, self.keep = block, keep
        self._cache: dict[int, bytes] = {}

    def __call__(self, table: int, index: int) -> tuple[int, int]:
        from ..core.errors import AddressTranslationError

        addr = table + index * self.entry_size
        base = addr & ~(self.block - 1)
        t = self._cache.get(base)
        if t is None:
            t = self._read_phys(base, self.block)
            if len(t) != self.block:
                raise AddressTranslationError(addr, f"short read of the page table at {base:#x}")
            if len(self._cache) > self.keep:
                self._cache.clear()
            self._cache[base] = t
        return addr, self._q.unpack_from(t, addr - base)[0]


class TranslatorFactory(Protocol):
    """Makes the :class:`Translator` of one dump from its physical reader, VMCOREINFO,
    ``phys_base`` and byte order (a translator that reads kernel data other than its page
    tables decodes it in that order)."""

    def __call__(self, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int,
                 byte_order: ByteOrder = ...) -> Translator: ...


@dataclass(frozen=True)
class GdbArch:
    """How gdb sees the architecture's registers (the gdbserver's target description).

    :ivar architecture: gdb's name of it (``<architecture>`` of the description).
    :ivar registers: (gdb's name, bits, type, feature, the PRSTATUS register that holds it or
        None), in gdb's order: the ``g`` packet's and the register numbers of ``p``.
    :ivar types: per feature, the type definitions its registers use (XML).
    :ivar text_to_stext: bytes from the image's first segment (``_text``) to ``_stext``, which
        VMCOREINFO gives: where gdb is told the image was loaded when kallsyms lacks ``_text``.

    A register whose source is a VMCOREINFO ``NUMBER`` (``KERNELPACMASK``) takes its value.
    """

    architecture: str
    registers: tuple[tuple[str, int, str, str, str | None], ...]
    types: tuple[tuple[str, str], ...] = ()
    text_to_stext: int = 0

    def target_xml(self) -> str:
        feats: dict[str, list[str]] = {}
        for n, (name, bits, typ, feature, _src) in enumerate(self.registers):
            feats.setdefault(feature, []).append(
                f'    <reg name="{name}" bitsize="{bits}" type="{typ}" regnum="{n}"/>')
        types = dict(self.types)
        body = "".join(f'  <feature name="{f}">\n{types.get(f, "")}' + "\n".join(regs) + "\n  </feature>\n"
                       for f, regs in feats.items())
        return ('<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">\n'
                f"  <architecture>{self.architecture}</architecture>\n{body}</target>\n")


@dataclass(frozen=True)
class ArchInfo:
    """Facts about one architecture.

    :ivar name: libkdumpfile's canonical arch name.
    :ivar machines: ``uname -m`` strings that mean this arch.
    :ivar ptr_size: bytes of a pointer (and of ``unsigned long``).
    :ivar default_page_size: bytes, when the dump does not say.
    :ivar byte_order: the usual one; a dump's own header decides.
    :ivar elf_machine: the ELF ``e_machine`` of its dumps (None: no ELF number).
    :ivar kernel_text_base: the virtual base of the linear kernel-image mapping, if any.
    :ivar translator: makes a :class:`Translator` for a dump (None: not implemented yet).
    :ivar image_to_phys: the physical address of a kernel-image address without page tables,
        for architectures that do not map the image at one fixed base (``kernel_text_base``).
    :ivar phys_base_number: the VMCOREINFO ``NUMBER`` that holds the dump's ``phys_base`` (the
        value the kdump header's ``phys_base`` carries).
    :ivar vtop_prints_walk: makedumpfile's ``--vtop`` prints the page-table entries it read.
    :ivar registers: the names of the registers a PRSTATUS note's ``pr_reg`` holds, in order
        (each one ``unsigned long``).
    :ivar kernel_half_high: kernel addresses have the top bit set (the upper half of the address
        space); False where kernel and user spaces are separate (s390x).
    :ivar vmcoreinfo_in_memory: VMCOREINFO read from the dump's memory, for a dump whose notes
        lack it (s390x keeps the note's address in its lowcore; QEMU's dumps have no note).
    :ivar strip_pointer: a saved kernel pointer as the code uses it (without a pointer
        authentication code, arm64), given the dump's VMCOREINFO.
    :ivar sparsemem: SPARSEMEM's (SECTION_SIZE_BITS, MAX_PHYSMEM_BITS, MAX_PHYSMEM_BITS with
        5-level paging) for kernels whose VMCOREINFO lacks them (None: no default).
    :ivar gdb: its registers as gdb sees them (None: no gdbserver for it yet).
    :ivar vtop_entry_format: how makedumpfile's ``--vtop`` prints an entry and its address (a
        format spec: ``16x``, space-padded; arm's ``08x``).
    :ivar int64_align: the alignment of a 64-bit integer in the C ABI of its 32-bit kernels (4 on
        ia32, 8 on arm, ppc, mips, s390): how a kdump file's sub header is laid out there.
    :ivar kdump_pfn_offset: makedumpfile's kdump files number pages from the start of RAM (the
        sub header's ``phys_base``), not from physical 0: bitmaps, descriptors and ``max_mapnr``
        (its ARCH_PFN_OFFSET; crash reads them so).
    """

    name: str
    machines: tuple[str, ...]
    ptr_size: int
    default_page_size: int
    byte_order: ByteOrder
    elf_machine: int | None = None
    kernel_text_base: int | None = None
    translator: TranslatorFactory | None = None
    sparsemem: tuple[int, int, int] | None = None
    image_to_phys: Callable[[int, VmcoreInfo, int], int | None] | None = None
    phys_base_number: str = "phys_base"
    vtop_prints_walk: bool = True
    registers: tuple[str, ...] = ()
    strip_pointer: Callable[[int, VmcoreInfo], int] | None = None
    vmcoreinfo_in_memory: Callable[[ReadPhys], bytes] | None = None
    kernel_half_high: bool = True
    gdb: GdbArch | None = None
    kdump_pfn_offset: bool = False
    int64_align: int = 8
    vtop_entry_format: str = "16x"

    def prstatus(self, desc: bytes, byte_order: ByteOrder | None = None) -> tuple[int, dict[str, int]] | None:
        """(pr_pid, registers by name) of a PRSTATUS note's ``desc`` (``struct elf_prstatus``,
        whose pr_pid and pr_reg, an ``unsigned long`` a register, sit where the kernel's pointer
        size puts them); None when this architecture names no registers or the note is too short."""
        pid_at, reg_at = PRSTATUS_OFFSETS[self.ptr_size]
        w = self.ptr_size
        if not self.registers or len(desc) < reg_at + w * len(self.registers):
            return None
        dec = IntDecoder(byte_order or self.byte_order, w)
        regs = {n: dec.unpack(desc, reg_at + w * k, w) for k, n in enumerate(self.registers)}
        return dec.unpack(desc, pid_at, 4), regs

    def kernel_text_to_phys(self, vaddr: int, vmcoreinfo: VmcoreInfo, phys_base: int) -> int | None:
        """Physical address of a kernel-image virtual address, if this arch maps the image
        linearly (``vaddr - kernel_text_base + phys_base``) or says how (``image_to_phys``)."""
        if self.image_to_phys is not None:
            return self.image_to_phys(vaddr, vmcoreinfo, phys_base)
        if self.kernel_text_base is None or vaddr < self.kernel_text_base:
            return None
        return vaddr - self.kernel_text_base + phys_base


_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}
# struct elf_prstatus: (offset of pr_pid, of pr_reg) by the kernel's pointer size; before them
# the signal information and masks, after pr_pid three more pids and four struct timevals, all of
# the pointer's width (a 32-bit kernel's: 24 and 72; a 64-bit kernel's: 32 and 112)
PRSTATUS_OFFSETS = {4: (24, 72), 8: (32, 112)}


class IntDecoder:
    """Integers of a dump's kernel in bytes already read: its byte order and pointer size."""

    def __init__(self, byte_order: ByteOrder, ptr_size: int) -> None:
        self.byte_order: ByteOrder = byte_order
        self.ptr_size = ptr_size
        e = ">" if byte_order == "big" else "<"
        self._structs = {n: struct.Struct(e + f) for n, f in _FORMATS.items()}

    def unpack(self, buf: bytes, off: int, size: int) -> int:
        """The unsigned integer of ``size`` bytes at ``off`` of ``buf``."""
        s = self._structs.get(size)
        if s is not None:
            return int(s.unpack_from(buf, off)[0])
        return int.from_bytes(buf[off : off + size], self.byte_order)

    def unpack_ptr(self, buf: bytes, off: int) -> int:
        """A pointer (or ``unsigned long``) at ``off`` of ``buf``."""
        return self.unpack(buf, off, self.ptr_size)

    def bitmap(self, buf: bytes) -> int:
        """A kernel bitmap (an array of ``unsigned long``, as nodemask_t) as one integer whose
        bit n is the bitmap's bit n, whatever the byte order."""
        w = self.ptr_size
        if self.byte_order == "little" or len(buf) % w:
            return int.from_bytes(buf, "little")
        return sum(int.from_bytes(buf[i : i + w], "big") << (8 * i) for i in range(0, len(buf), w))


class MemoryReader(IntDecoder):
    """Typed reads of kernel memory, on top of a subclass's ``read(vaddr, size)``."""

    def read(self, vaddr: int, size: int) -> bytes:
        raise NotImplementedError

    # integers in kernel memory
    def uint(self, vaddr: int, size: int) -> int:
        """The unsigned integer of ``size`` bytes (1, 2, 4 or 8) at ``vaddr``."""
        return self.unpack(self.read(vaddr, size), 0, size)

    def u8(self, vaddr: int) -> int:
        return self.uint(vaddr, 1)

    def u16(self, vaddr: int) -> int:
        return self.uint(vaddr, 2)

    def u32(self, vaddr: int) -> int:
        return self.uint(vaddr, 4)

    def u64(self, vaddr: int) -> int:
        return self.uint(vaddr, 8)

    def ulong(self, vaddr: int) -> int:
        """An ``unsigned long`` (the pointer size)."""
        return self.uint(vaddr, self.ptr_size)

    def ptr(self, vaddr: int) -> int:
        """A pointer."""
        return self.uint(vaddr, self.ptr_size)


class KernelMemory(MemoryReader):
    """Kernel virtual memory of a dump, read through its architecture's translator, with
    integers decoded in the dump's byte order and pointer size.

    :param read_phys: reads ``n`` bytes at a physical address.
    :param byte_order: the dump's (default: the architecture's usual one).
    :param ptr_size: the dump's pointer size (default: the architecture's).
    """

    def __init__(self, arch: ArchInfo, read_phys: ReadPhys, vmcoreinfo: VmcoreInfo, phys_base: int, *,
                 byte_order: ByteOrder | None = None, ptr_size: int | None = None) -> None:
        super().__init__(byte_order or arch.byte_order, ptr_size or arch.ptr_size)
        self.arch = arch
        self.read_phys = read_phys
        if arch.translator is None:
            raise UnsupportedDumpError(f"kernel address translation for {arch.name} is not implemented yet")
        self.xlat: Translator = arch.translator(read_phys, vmcoreinfo, phys_base, byte_order=self.byte_order)

    def vtop(self, vaddr: int) -> int:
        return self.xlat.vtop(vaddr)

    def walk(self, vaddr: int) -> tuple[int, list[Step]]:
        """(physical address, [Step ...]) of a translation, for --vtop."""
        return self.xlat.walk(vaddr)

    def read(self, vaddr: int, size: int) -> bytes:
        """``size`` bytes of kernel virtual memory, crossing mappings as needed."""
        out = []
        while size > 0:
            pa, n = self.xlat.translate(vaddr)
            n = min(size, n)
            out.append(self.read_phys(pa, n))
            vaddr += n
            size -= n
        return b"".join(out)
