"""What is supported on each architecture, and on what it was proven: the table of the README and
of ``--help`` (tests/unit/test_arch_registry.py keeps the README's equal to it).

Reading a dump and converting it at dump levels 0 and 1 needs no kernel data: every architecture
registered has them.  ``--vtop``, levels 2-31 and ``--dump-dmesg`` need the architecture's page
tables (a translator); ``--info`` names the registers of those whose PRSTATUS layout is known.
"""

from __future__ import annotations

from . import ARCHES

# where the translation was shown right: the real dumps of the rig (tests/real/), the synthetic
# machines of tests/gen/machines.py (tests/unit/test_synthetic_arches.py), or none yet
PROVEN = {
    "x86_64": "real: Debian 11, 12, 13 (4- and 5-level paging), kexec capture and QEMU's dumps",
    "aarch64": "real: Debian 12, 13 (4 and 16 KiB pages, 48- and 52-bit VA, pointer authentication)",
    "s390x": "real: Debian 12 (QEMU's dumps; its kernel has no kdump)",
    "ppc64": "real: Debian 12 ppc64el (radix and hash MMUs), kexec capture",
    "ia32": "real: Debian 12 686-pae and 686 (PAE and 2-level tables), kexec capture",
    "arm": "real: Debian 12 armmp and armmp-lpae (classic and LPAE tables), kexec capture",
    "riscv64": "real: Debian 13 (Sv57 and Sv39), kexec capture",
    "loongarch64": "real: Debian sid 7.2 (16 KiB pages, three levels), kexec capture; and a synthetic machine",
    "mips64": "synthetic: mips64el, 4 KiB pages, three levels, huge PMD, SPARSEMEM in XKPHYS",
    "mips": "synthetic: big-endian, 4 KiB pages, two levels, FLATMEM",
    "ppc": "synthetic: big-endian book3s 32-bit, two levels, FLATMEM",
    "s390": "synthetic: 31-bit ESA/390 segment and page tables, printk_log records",
    "sparc64": "synthetic: sun4v, 8 KiB pages, four levels, huge PMD, PAGE_OFFSET from the linear map",
    "ia64": "synthetic: 16 KiB pages, region 5 walk (three levels), kernel image at phys_base",
    "alpha": "synthetic: 8 KiB pages, KSEG, three levels, FLATMEM",
}
COLUMNS = ("architecture", "read, levels 0-1", "vtop", "levels 2-31", "dmesg", "registers", "proven on")


def rows() -> list[tuple[str, ...]]:
    """One row per registered architecture, in the registry's order."""
    out: list[tuple[str, ...]] = []
    for a in ARCHES.values():
        tables = "yes" if a.translator is not None else "no"
        out.append((a.name, "yes", tables, tables, tables, "yes" if a.registers else "no",
                    PROVEN.get(a.name, "not yet: levels 0 and 1 only")))
    return out


def markdown() -> str:
    """The table in Markdown, as the README has it."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows()]
    return "\n".join(lines) + "\n"


def text() -> str:
    """The table for ``--help``: the architectures whose tables are read, by what proved them, then
    the others."""
    out = []
    for kind, said in (("real", "proven on real dumps"), ("synthetic", "proven on synthetic machines only")):
        lines = [f"  {r[0]:<12} {r[6].removeprefix(kind + ': ')}" for r in rows()
                 if r[2] == "yes" and r[6].startswith(kind + ":")]
        out.append(f"Architectures whose page tables are read (--vtop, levels 2-31, --dump-dmesg), {said}:\n"
                   + "\n".join(lines) + "\n")
    rest = [r[0] for r in rows() if r[2] != "yes"]
    if rest:
        out.append("Read and converted at levels 0 and 1 only: " + ", ".join(rest) + ".\n")
    return "".join(out)
