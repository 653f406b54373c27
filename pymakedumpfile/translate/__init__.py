"""Per-architecture address translation.

Each architecture is one module here that defines an :class:`ArchInfo` (translate/base.py says
what it holds); this package keeps the registry of them.  Adding one is a module and one
:func:`register` line below (docs/architecture.md).
"""

from __future__ import annotations

from .base import (
    ArchInfo,
    ByteOrder,
    IntDecoder,
    KernelMemory,
    MemoryReader,
    ReadPhys,
    Step,
    Translator,
    TranslatorFactory,
)

ARCHES: dict[str, ArchInfo] = {}


def register(arch: ArchInfo) -> ArchInfo:
    """Make ``arch`` known by its name, its ``uname -m`` strings and its ELF machine number."""
    ARCHES[arch.name] = arch
    return arch


def arch_from_machine(machine: str) -> ArchInfo | None:
    """The architecture whose ``uname -m`` is ``machine`` (in any case: QEMU's kdump files
    of an s390x guest say ``S390X``)."""
    machine = machine.lower()
    for a in ARCHES.values():
        if machine in a.machines or machine == a.name:
            return a
    return None


def arch_from_elf_machine(e_machine: int, bits: int | None = None) -> ArchInfo | None:
    """The architecture of ELF dumps whose ``e_machine`` is ``e_machine``; of the ones that share
    a number (EM_S390: s390 in ELFCLASS32, s390x in ELFCLASS64), the one of ``bits``-bit pointers."""
    found = [a for a in ARCHES.values() if a.elf_machine == e_machine]
    for a in found:
        if bits is not None and a.ptr_size * 8 == bits:
            return a
    return found[0] if found else None


def get_arch(name: str) -> ArchInfo | None:
    return ARCHES.get(name)


# the architectures: those with a translator have a module of their own
from .aarch64 import AARCH64  # noqa: E402
from .alpha import ALPHA  # noqa: E402
from .arm import ARM  # noqa: E402
from .ia32 import IA32  # noqa: E402
from .ia64 import IA64  # noqa: E402
from .loongarch64 import LOONGARCH64  # noqa: E402
from .mips import MIPS  # noqa: E402
from .mips64 import MIPS64  # noqa: E402
from .ppc import PPC  # noqa: E402
from .ppc64 import PPC64  # noqa: E402
from .riscv64 import RISCV64  # noqa: E402
from .s390 import S390  # noqa: E402
from .s390x import S390X  # noqa: E402
from .sparc64 import SPARC64  # noqa: E402
from .x86_64 import X86_64  # noqa: E402

register(X86_64)
register(AARCH64)
register(S390X)
register(S390)
register(IA32)
register(ARM)
register(PPC64)
register(PPC)
register(RISCV64)
register(LOONGARCH64)
register(MIPS64)
register(MIPS)
register(SPARC64)
register(IA64)
register(ALPHA)

__all__ = [
    "ARCHES", "ArchInfo", "ByteOrder", "IntDecoder", "KernelMemory", "MemoryReader", "ReadPhys", "Step", "Translator",
    "TranslatorFactory", "arch_from_elf_machine", "arch_from_machine", "get_arch", "register",
]
