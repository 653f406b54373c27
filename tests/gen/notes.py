"""ELF note blobs and VMCOREINFO text for synthetic dumps."""

from __future__ import annotations

import struct
from dataclasses import dataclass

NT_PRSTATUS = 1
NT_VMCOREINFO = 0  # the kernel's VMCOREINFO note has type 0 and name "VMCOREINFO"

# sizeof(struct elf_prstatus) per architecture (kernel UAPI layout)
PRSTATUS_SIZE = {
    "x86_64": 336,
    "i386": 144,
    "aarch64": 392,
    "ppc64": 504,
    "ppc64le": 504,
    "s390x": 336,
    "arm": 148,
    "riscv64": 376,
}


def _align4(n: int) -> int:
    return (n + 3) & ~3


def make_note(name: bytes, type: int, desc: bytes, *, endian: str = "<") -> bytes:
    """One ELF note: {namesz, descsz, type} + name (NUL-terminated, padded
    to 4) + desc (padded to 4).  ``name`` is given without the NUL; an empty
    name gets namesz 0."""
    if isinstance(name, str):
        name = name.encode()
    if isinstance(desc, str):
        desc = desc.encode()
    nm = name + b"\0" if name else b""
    hdr = struct.pack(endian + "III", len(nm), len(desc), type)
    return (
        hdr
        + nm.ljust(_align4(len(nm)), b"\0")
        + desc.ljust(_align4(len(desc)), b"\0")
    )


@dataclass
class NoteEntry:
    name: bytes  # without the terminating NUL
    type: int
    desc: bytes
    offset: int  # offset of the note header inside the blob
    desc_offset: int  # offset of desc inside the blob


def parse_notes(blob: bytes, *, endian: str = "<") -> list[NoteEntry]:
    """Walk a note blob (4-byte alignment). Stops quietly at a truncated note."""
    out: list[NoteEntry] = []
    off = 0
    while off + 12 <= len(blob):
        namesz, descsz, ntype = struct.unpack_from(endian + "III", blob, off)
        name_off = off + 12
        desc_off = name_off + _align4(namesz)
        end = desc_off + _align4(descsz)
        if desc_off + descsz > len(blob):
            break
        name = blob[name_off:name_off + namesz].rstrip(b"\0")
        out.append(NoteEntry(name, ntype, blob[desc_off:desc_off + descsz], off, desc_off))
        if namesz == 0 and descsz == 0 and ntype == 0:
            break
        off = end
    return out


def prstatus_note(arch: str = "x86_64", *, pid: int = 0, endian: str = "<") -> bytes:
    """An all-zero NT_PRSTATUS note of the right size for ``arch``
    (pr_pid is filled in)."""
    size = PRSTATUS_SIZE.get(arch, 336)
    desc = bytearray(size)
    # pr_pid follows pr_info (3 ints), pr_cursig (short, +pad), pr_sigpend,
    # pr_sighold (longs): offset 32 on LP64, 24 on ILP32
    pid_off = 24 if arch in ("i386", "arm") else 32
    struct.pack_into(endian + "i", desc, pid_off, pid)
    return make_note(b"CORE", NT_PRSTATUS, bytes(desc), endian=endian)


_VMCOREINFO_DEFAULTS: dict[str, object] = {
    "OSRELEASE": "6.1.0-synthetic",
    "PAGESIZE": 4096,
    "CRASHTIME": 1700000000,
}


def vmcoreinfo_text(entries: dict[str, object] | None = None, /, **kv: object) -> bytes:
    """Make VMCOREINFO text: one ``KEY=VALUE`` line each.

    OSRELEASE, PAGESIZE and CRASHTIME get defaults; pass a value of ``None``
    to drop one.  Keys that are not identifiers (``SYMBOL(swapper_pg_dir)``)
    go in the positional dict.  Integer values are written in decimal, except
    for keys starting with ``SYMBOL(`` which are written in hex (as the
    kernel does)."""
    merged: dict[str, object] = dict(_VMCOREINFO_DEFAULTS)
    if entries:
        merged.update(entries)
    merged.update(kv)
    lines = []
    for k, v in merged.items():
        if v is None:
            continue
        if isinstance(v, int) and k.startswith("SYMBOL("):
            v = f"{v:x}"
        lines.append(f"{k}={v}\n")
    return "".join(lines).encode()


def parse_vmcoreinfo(text: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.decode("ascii", "replace").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out
