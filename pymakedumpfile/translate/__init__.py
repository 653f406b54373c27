"""Per-architecture address translation.

Each architecture is one module here that defines an :class:`ArchInfo` (translate/base.py says
what it holds); this package keeps the registry of them.  Adding one is a module and one
:func:`register` line below (docs/architecture.md).
"""

from __future__ import annotations

import importlib

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


# the architectures, a module each, in the registry's order (the README's table's).  A crash
# kernel's initramfs carries its own machine's only: the dracut module writes ``_here.py`` naming
# the ones it installed (docs/capture.md).
ORDER = ("x86_64", "aarch64", "s390x", "s390", "ia32", "arm", "ppc64", "ppc", "riscv64", "loongarch64", "mips64",
         "mips", "sparc64", "ia64", "alpha")
try:
    from ._here import HERE as _HERE  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    _HERE = ORDER
for _name in ORDER:
    if _name in _HERE:
        register(getattr(importlib.import_module(f".{_name}", __name__), _name.upper()))

__all__ = [
    "ARCHES", "ArchInfo", "ByteOrder", "IntDecoder", "KernelMemory", "MemoryReader", "ReadPhys", "Step", "Translator",
    "TranslatorFactory", "arch_from_elf_machine", "arch_from_machine", "get_arch", "register",
]
