"""Per-architecture address translation.

Each architecture is one module here exporting an :class:`ArchInfo`; this
package maps arch names to them.  The current interface covers what the
readers and writers need: machine-name mapping, page-size defaults and
kernel-text addresses.  Page-table walks come with each architecture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..vmcoreinfo import VmcoreInfo

if TYPE_CHECKING:
    from .x86_64 import Step


@dataclass(frozen=True)
class ArchInfo:
    """Facts about one architecture.

    :ivar name: libkdumpfile's canonical arch name.
    :ivar machines: ``uname -m`` strings that mean this arch.
    :ivar default_page_size: bytes, when the dump does not say.
    """

    name: str
    machines: tuple[str, ...]
    ptr_size: int
    default_page_size: int
    byte_order: str  # "little" or "big" (the usual one; the dump decides)
    kernel_text_base: int | None = None  # __START_KERNEL_map-like base
    # (read_phys, vmcoreinfo, phys_base) -> an object with walk(vaddr) and
    # translate(vaddr) -> (paddr, bytes to the end of that mapping)
    translator: Callable[..., Any] | None = None

    def kernel_text_to_phys(self, vaddr: int, vmcoreinfo: VmcoreInfo, phys_base: int) -> int | None:
        """Physical address of a kernel-image virtual address, if this arch
        maps the image linearly (x86_64: ``vaddr - __START_KERNEL_map + phys_base``)."""
        if self.kernel_text_base is None or vaddr < self.kernel_text_base:
            return None
        return vaddr - self.kernel_text_base + phys_base


from .x86_64 import X86_64  # noqa: E402

ARCHES: dict[str, ArchInfo] = {
    a.name: a
    for a in (
        X86_64,
        ArchInfo("ia32", ("i386", "i486", "i586", "i686"), 4, 4096, "little"),
        ArchInfo("aarch64", ("aarch64", "arm64"), 8, 4096, "little"),
        ArchInfo("arm", ("arm", "armv7l", "armv6l"), 4, 4096, "little"),
        ArchInfo("ppc64", ("ppc64", "ppc64le"), 8, 65536, "big"),
        ArchInfo("ppc", ("ppc",), 4, 4096, "big"),
        ArchInfo("s390x", ("s390x",), 8, 4096, "big"),
        ArchInfo("riscv64", ("riscv64",), 8, 4096, "little"),
        ArchInfo("loongarch64", ("loongarch64",), 8, 16384, "little"),
        ArchInfo("mips", ("mips", "mips64"), 8, 4096, "big"),
        ArchInfo("sparc64", ("sparc64",), 8, 8192, "big"),
        ArchInfo("ia64", ("ia64",), 8, 16384, "little"),
    )
}


def arch_from_machine(machine: str) -> ArchInfo | None:
    """The architecture whose ``uname -m`` is ``machine``."""
    for a in ARCHES.values():
        if machine in a.machines or machine == a.name:
            return a
    return None


def get_arch(name: str) -> ArchInfo | None:
    return ARCHES.get(name)


class KernelMemory:
    """Reads of kernel virtual memory of a dump, through its page tables.

    :param read_phys: reads ``n`` bytes at a physical address.
    """

    def __init__(self, arch: ArchInfo, read_phys: Callable[[int, int], bytes], vmcoreinfo: VmcoreInfo,
                 phys_base: int) -> None:
        from ..errors import UnsupportedDumpError

        self.read_phys = read_phys
        if arch.translator is None:
            raise UnsupportedDumpError(f"kernel address translation for {arch.name} is not implemented yet")
        self.xlat = arch.translator(read_phys, vmcoreinfo, phys_base)

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

    def read_u64(self, vaddr: int) -> int:
        return int.from_bytes(self.read(vaddr, 8), "little")
